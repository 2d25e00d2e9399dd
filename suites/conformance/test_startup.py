"""Start-up: the model pod becomes Ready without restarts, within its probe budget (seed §4C)."""

from __future__ import annotations

import pytest

from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import ModelDeployment
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case

MARGIN = 1.5
READY = Case(
    id="ModelPodReady",
    description="The model pod becomes Ready with restartCount 0; time-to-Ready is reported.",
    checks="seed §3 phase 3 and §4C (pod restarts while logs look fine)",
    remedy="`kubectl describe pod` and `kubectl logs --previous`: raise the startupProbe "
           "failureThreshold (60 x periodSeconds 5 covers ~3 min), lower "
           "--gpu-memory-utilization if vLLM runs out of memory, set --max-model-len",
    capabilities=frozenset({Capability.MODEL_PODS}),
    diagnoses=("CudaOomAtStart", "KvCacheTooSmall", "StartupProbeTimeout", "GpuUnschedulable"),
)
BUDGET = Case(
    id="StartupBudgetCoversLoadTime",
    description=f"No probe can kill the container before the model has loaded: the startup "
                f"budget (failureThreshold x periodSeconds) is at least {MARGIN}x the "
                "measured time-to-Ready.",
    checks="seed §4C (startupProbe failureThreshold 60, periodSeconds 5)",
    remedy="raise startupProbe.failureThreshold so that failureThreshold x periodSeconds is "
           f"at least {MARGIN}x the measured time-to-Ready",
    capabilities=frozenset({Capability.MODEL_PODS}),
    diagnoses=("StartupProbeTimeout",),
)


def _budget_s(probe: dict | None) -> float | None:
    if not probe:
        return None
    return (probe.get("initialDelaySeconds", 0)
            + probe.get("failureThreshold", 3) * probe.get("periodSeconds", 10))


def _waited(model: ModelDeployment) -> dict[str, object]:
    """Time before scheduling (not counted in time-to-Ready), and the scheduler's reason."""
    if not model.unscheduled_reason:
        return {}
    return {"unscheduledSeconds": round(model.unscheduled_s, 2),
            "unscheduledReason": f"the pod waited to be scheduled (another run holding the "
                                 f"GPU?): {model.unscheduled_reason}"}


@pytest.mark.case(READY)
def test_model_pod_ready(model: ModelDeployment, request: pytest.FixtureRequest):
    request.node.case_details = {"timeToReadySeconds": round(model.ready_s, 2),
                                 "pod": model.pod.metadata.name, **_waited(model)}
    restarts = model.pod.status.container_statuses[0].restart_count
    assert restarts == 0, f"the model container restarted {restarts} time(s) before Ready"


@pytest.mark.case(BUDGET)
def test_startup_budget_covers_load_time(model: ModelDeployment, target: Target,
                                         request: pytest.FixtureRequest):
    container = model.container
    guard = container.get("startupProbe") or container.get("livenessProbe")
    budget = _budget_s(guard)
    request.node.case_details = {"budgetSeconds": budget, "timeScale": target.time_scale,
                                 "timeToReadySeconds": round(model.ready_s, 2), **_waited(model)}
    if budget is None:
        return  # no startup or liveness probe: nothing can kill a slow load
    scaled = budget * target.time_scale
    assert scaled >= MARGIN * model.ready_s, (
        f"probe budget {budget:.0f} s (x{target.time_scale} time scale = {scaled:.1f} s) is "
        f"under {MARGIN} x time-to-Ready {model.ready_s:.1f} s")
