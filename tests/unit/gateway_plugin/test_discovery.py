"""Pods and metrics as v0.5.0's cache takes them: the model label, ray workers ignored,
readiness; metric names without `vllm:`, only those v0.5.0 knows, by model."""

from __future__ import annotations

from brixcheck.gateway_plugin.discovery import parse_metrics, pod_from_object
from brixcheck.gateway_plugin.types import Histogram


def _pod(labels: dict, ready: str = "True", ip: str = "10.0.0.1", deleting: bool = False):
    meta = {"name": "p", "namespace": "ns", "labels": labels}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-06T00:00:00Z"
    return {"metadata": meta, "status": {"podIP": ip, "conditions": [
        {"type": "Ready", "status": ready}]}}


def test_model_pods_are_kept_ray_workers_and_unlabelled_pods_are_not():
    pod = pod_from_object(_pod({"model.aibrix.ai/name": "m", "model.aibrix.ai/port": "9000"}))
    assert pod is not None
    assert (pod.model, pod.address, pod.ready) == ("m", "10.0.0.1:9000", True)
    assert pod_from_object(_pod({"model.aibrix.ai/name": "m", "ray.io/node-type": "worker"})) \
        is None
    assert pod_from_object(_pod({"app": "x"})) is None


def test_readiness_and_termination_are_carried():
    assert not pod_from_object(_pod({"model.aibrix.ai/name": "m"}, ready="False")).ready
    assert pod_from_object(_pod({"model.aibrix.ai/name": "m"}, deleting=True)).terminating


V0_PAGE = """# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage.
vllm:gpu_cache_usage_perc{model_name="m"} 0.25
vllm:num_requests_running{model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 4.0
vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{model_name="m"} 0.4
vllm:time_to_first_token_seconds_count{model_name="m"} 5.0
"""
MODERN_PAGE = """vllm:kv_cache_usage_perc{model_name="m"} 0.25
vllm:num_requests_running{model_name="m"} 3.0
"""


def test_v0_names_are_read_without_prefix_by_model():
    values = parse_metrics(V0_PAGE, "m")["m"]
    assert values["gpu_cache_usage_perc"] == 0.25
    assert values["num_requests_running"] == 3.0
    ttft = values["time_to_first_token_seconds"]
    assert isinstance(ttft, Histogram)
    assert (ttft.count, ttft.sum, ttft.buckets[0.1]) == (5.0, 0.4, 4.0)


def test_modern_vllm_names_leave_the_v0_metrics_unset():
    values = parse_metrics(MODERN_PAGE, "m")["m"]
    assert "gpu_cache_usage_perc" not in values  # vLLM >= 0.11 renamed it: v0.5.0 never sees it
    assert values["num_requests_running"] == 3.0
