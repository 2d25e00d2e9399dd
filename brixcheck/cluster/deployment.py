"""Deploying the model under test from a manifest and waiting for it, timed.

The manifest is the seed's model Deployment (corrected, manifests/models/) plus its Service.
Time-to-Ready is measured from creation to the pod's Ready condition; when the pod first had to
wait to be scheduled (the GPU held by another run, say), from its scheduling instead, since that
is the span its startup probe has to cover, and the wait is kept apart with the scheduler's
reason. When the pod does not become Ready, the error carries its
last status and events, so the failing case can say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from brixcheck.cluster.kube import WaitTimeoutError, label_selector, owned, pod_events, wait_for
from brixcheck.cluster.target import Target
from brixcheck.errors import BrixcheckError

READY_TIMEOUT_S = 600.0
PROGRESS_S = 10.0  # seconds between "still waiting" lines


@dataclass(frozen=True)
class ModelDeployment:
    """A deployed model and what was measured while it came up."""

    name: str
    namespace: str
    deployment: dict[str, Any]
    pod: client.V1Pod
    ready_s: float  # from scheduling to Ready
    unscheduled_s: float = 0.0  # from creation to scheduling
    unscheduled_reason: str = ""  # the scheduler's message while it waited, if it did

    @property
    def container(self) -> dict[str, Any]:
        """The serving container's spec (as in the manifest)."""
        return self.deployment["spec"]["template"]["spec"]["containers"][0]

    @property
    def selector(self) -> str:
        """Label selector of the model's pods."""
        return label_selector(self.deployment["spec"]["selector"]["matchLabels"])


def load_manifest(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Deployment of a model manifest and its other objects; BrixcheckError when unusable."""
    remedy = "pass --model-manifest a YAML file with one model Deployment (and its Service)"
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    except OSError as exc:
        raise BrixcheckError(f"model manifest {path} cannot be read ({exc.strerror})",
                             remedy) from None
    except yaml.YAMLError as exc:
        raise BrixcheckError(f"model manifest {path} is not valid YAML ({exc})".replace("\n", " "),
                             remedy) from None
    if not all(isinstance(d, dict) for d in docs):
        raise BrixcheckError(f"model manifest {path} holds something other than objects", remedy)
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    if len(deployments) != 1:
        raise BrixcheckError(f"model manifest {path} must hold exactly one Deployment, found "
                             f"{len(deployments)}", remedy)
    try:
        deployments[0]["spec"]["selector"]["matchLabels"]
        deployments[0]["spec"]["template"]["spec"]["containers"][0]
    except (KeyError, IndexError, TypeError):
        raise BrixcheckError(f"the Deployment in model manifest {path} lacks "
                             "spec.selector.matchLabels or a container", remedy) from None
    return deployments[0], [d for d in docs if d.get("kind") != "Deployment"]


class _Watch:
    """Polls the model's pods, noting when one was first scheduled and why it waited."""

    def __init__(self, target: Target, namespace: str, selector: str) -> None:
        self.target, self.namespace, self.selector = target, namespace, selector
        self.scheduled_at: float | None = None
        self.waiting_reason = ""

    def ready_pod(self) -> client.V1Pod | None:
        """The Ready pod, if any; records scheduling on the way."""
        pods = self.target.core.list_namespaced_pod(self.namespace,
                                                    label_selector=self.selector).items
        for pod in pods:
            conditions = {c.type: c for c in pod.status.conditions or []}
            scheduled = conditions.get("PodScheduled")
            if scheduled is not None and scheduled.status == "True":
                self.scheduled_at = self.scheduled_at or time.monotonic()
            elif scheduled is not None and scheduled.message:
                self.waiting_reason = scheduled.message
            ready = conditions.get("Ready")
            if ready is not None and ready.status == "True":
                return pod
        return None


def _last_seen(target: Target, namespace: str, selector: str) -> str:
    pods = target.core.list_namespaced_pod(namespace, label_selector=selector).items
    if not pods:
        return "no pod exists"
    pod = pods[0]
    statuses = pod.status.container_statuses or []
    state = statuses[0].state.to_dict() if statuses else {}
    events = pod_events(target.core, namespace, pod.metadata.name)[-3:]
    return f"pod {pod.metadata.name} phase {pod.status.phase}, state {state}, events {events}"


def _reporting(check: Callable[[], client.V1Pod | None], progress: Callable[[str], None] | None,
               what: str, timeout_s: float) -> Callable[[], client.V1Pod | None]:
    """`check`, also telling `progress` every PROGRESS_S how long the wait has lasted."""
    if progress is None:
        return check
    start = time.monotonic()
    next_report = [start + PROGRESS_S]

    def checked() -> client.V1Pod | None:
        now = time.monotonic()
        if now >= next_report[0]:
            progress(f"[model] waiting for {what} to be Ready: {now - start:.0f} s of at most "
                     f"{timeout_s:.0f} s")
            next_report[0] = now + PROGRESS_S
        return check()

    return checked


def deploy_model(target: Target, manifest: Path, namespace: str, run_id: str,
                 timeout_s: float | None = None,
                 progress: Callable[[str], None] | None = None) -> ModelDeployment:
    """Create the manifest's objects in `namespace` and wait until a pod is Ready."""
    if timeout_s is None:
        timeout_s = READY_TIMEOUT_S * target.time_scale + 60
    deployment, others = load_manifest(manifest)
    owned(deployment, run_id)
    start = time.monotonic()
    target.apps.create_namespaced_deployment(namespace, deployment)
    for obj in others:
        if obj["kind"] == "Service":
            target.core.create_namespaced_service(namespace, owned(obj, run_id))
    selector = label_selector(deployment["spec"]["selector"]["matchLabels"])
    watch = _Watch(target, namespace, selector)
    try:
        name = deployment["metadata"]["name"]
        if progress is not None:
            progress(f"[model] deploying {name} in {namespace}; waiting up to {timeout_s:.0f} s "
                     "for a Ready pod")
        check = _reporting(watch.ready_pod, progress, name, timeout_s)
        pod = wait_for(check, timeout_s, "the model pod to be Ready",
                       lambda: _last_seen(target, namespace, selector), interval_s=0.5)
    except WaitTimeoutError as exc:
        raise AssertionError(str(exc)) from None
    ready_at = time.monotonic()
    # Scheduling is seen to within a poll; without a wait, creation is the better start.
    scheduled_at = watch.scheduled_at if watch.waiting_reason and watch.scheduled_at else start
    ready = ModelDeployment(deployment["metadata"]["name"], namespace, deployment, pod,
                            ready_at - scheduled_at, scheduled_at - start, watch.waiting_reason)
    if progress is not None:
        progress(f"[model] {ready.name} Ready after {ready.ready_s:.1f} s")
    return ready
