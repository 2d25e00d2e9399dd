"""Engine metrics: does the model pod export the names AIBrix v0.5.0's strategies route on?"""

from __future__ import annotations

import json

import pytest

from brixcheck.aibrix.metric_names import feed
from brixcheck.aibrix.v0_5 import DEFAULT_MODEL_PORT, KNOWN_BUGS, LABEL_METRIC_PORT
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import ModelDeployment
from brixcheck.cluster.pod_access import pod_get
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case

BUG = KNOWN_BUGS["metric-names"]
FEEDS = Case(
    id="EngineMetricsFeedStrategies",
    description="The model pod's /metrics carries every name AIBrix v0.5.0's metric-driven "
                "strategies (throughput, least-kv-cache, least-gpu-cache, vtc-basic) read; "
                "the report lists, per strategy, whether it routes or silently goes random.",
    checks="AIBrix v0.5.0 pkg/metrics (V0 names) against the engine's exported names",
    remedy="route with least-request or prefix-cache, which need no engine metrics, or use "
           "an AIBrix release that reads current vLLM names (v0.6.0 and later, partly)",
    capabilities=frozenset({Capability.MODEL_PODS}),
)


@pytest.mark.case(FEEDS)
def test_engine_metrics_feed_strategies(model: ModelDeployment, target: Target,
                                        request: pytest.FixtureRequest):
    labels = model.pod.metadata.labels or {}
    port = int(labels.get(LABEL_METRIC_PORT, DEFAULT_MODEL_PORT))
    text = pod_get(target, model.pod, port, "metrics")
    result = feed(text)
    try:
        version = json.loads(pod_get(target, model.pod, port, "version")).get("version")
    except Exception:  # noqa: BLE001 - the version is a detail; the case is about /metrics
        version = None
    request.node.case_details = {
        "pod": model.pod.metadata.name, "engineVersion": version,
        "strategies": result.verdicts(), "replacedBy": result.successors(),
        "vllmNames": sorted(n for n in result.present if n.startswith("vllm:"))}
    if result.random:
        pytest.xfail(f"{BUG.effect} (fixed in {BUG.fixed_in}); random here: "
                     f"{', '.join(result.random)}")
