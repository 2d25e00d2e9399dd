"""Metric-driven strategies: each follows its metric when pods are skewed, and falls back to
random with v0.5.0's log line when the metric is absent (vLLM >= 0.11 names)."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from brixcheck.gateway_plugin.algorithms import FALLBACK_MESSAGE, select_pod
from brixcheck.gateway_plugin.types import Histogram
from tests.unit.gateway_plugin.conftest import make_ctx

FALLBACK_TEXT = FALLBACK_MESSAGE.split(",")[0]
# strategy -> per-pod metrics making pod-1 the only right answer
SKEWED = {
    "throughput": [{"avg_prompt_throughput_toks_per_s": 50.0,
                    "avg_generation_throughput_toks_per_s": 10.0},
                   {"avg_prompt_throughput_toks_per_s": 5.0,
                    "avg_generation_throughput_toks_per_s": 10.0},
                   {"avg_prompt_throughput_toks_per_s": 1.0,
                    "avg_generation_throughput_toks_per_s": 90.0}],
    "least-kv-cache": [{"gpu_cache_usage_perc": 0.5, "cpu_cache_usage_perc": 0.1},
                       {"gpu_cache_usage_perc": 0.2, "cpu_cache_usage_perc": 0.1},
                       {"gpu_cache_usage_perc": 0.1, "cpu_cache_usage_perc": 0.9}],
    "least-gpu-cache": [{"gpu_cache_usage_perc": 0.5}, {"gpu_cache_usage_perc": 0.05},
                        {"gpu_cache_usage_perc": 0.9}],
    "least-busy-time": [{"gpu_busy_time_ratio": 0.8}, {"gpu_busy_time_ratio": 0.1},
                        {"gpu_busy_time_ratio": 0.5}],
    "least-utilization": [{"engine_utilization": 0.8}, {"engine_utilization": 0.1},
                          {"engine_utilization": 0.5}],
}


def _latency_metrics(queue: float) -> dict[str, object]:
    return {"request_queue_time_seconds": queue, "avg_prompt_toks_per_req": 100.0,
            "avg_generation_toks_per_req": 100.0,
            "request_prefill_time_seconds": Histogram({1.0: 1}, sum=0.1, count=1.0),
            "request_decode_time_seconds": Histogram({1.0: 1}, sum=1.0, count=1.0)}


SKEWED["least-latency"] = [_latency_metrics(3.0), _latency_metrics(0.5), _latency_metrics(2.0)]


def _route_many(name, cache, pods, n=200):
    return Counter(select_pod(name, make_ctx(request_id=f"r{i}"), pods, cache).name
                   for i in range(n))


@pytest.mark.parametrize("name", sorted(SKEWED))
def test_follows_its_metric_under_skew(name, cache, pods, caplog):
    for pod, values in zip(pods, SKEWED[name], strict=True):
        cache.set_pod_metrics(pod, values, {})
    with caplog.at_level(logging.WARNING, logger="brixcheck.gateway_plugin"):
        assert _route_many(name, cache, pods) == {"pod-1": 200}
    assert FALLBACK_TEXT not in caplog.text


@pytest.mark.parametrize("name", sorted(SKEWED))
def test_without_its_metric_falls_back_to_random_and_logs_it(name, cache, pods, caplog):
    for pod in pods:  # what a vLLM >= 0.11 engine feeds
        cache.set_pod_metrics(pod, {"num_requests_running": 1.0, "kv_cache_usage_perc": 0.3}, {})
    with caplog.at_level(logging.WARNING, logger="brixcheck.gateway_plugin"):
        counts = _route_many(name, cache, pods, n=300)
    assert set(counts) == {"pod-0", "pod-1", "pod-2"}
    assert min(counts.values()) > 60  # uniform: 100 each expected, P(< 60) < 1e-5
    assert caplog.text.count(FALLBACK_TEXT) == 300


def test_a_pod_missing_one_metric_is_skipped_not_chosen(cache, pods):
    cache.set_pod_metrics(pods[0], {"gpu_cache_usage_perc": 0.0}, {})  # no cpu_cache_usage_perc
    cache.set_pod_metrics(pods[1], {"gpu_cache_usage_perc": 0.7, "cpu_cache_usage_perc": 0.0}, {})
    assert _route_many("least-kv-cache", cache, pods, n=50) == {"pod-1": 50}


def test_metrics_of_another_model_do_not_count(cache, pods):
    for pod in pods:
        cache.set_pod_metrics(pod, {}, {"other": {"gpu_cache_usage_perc": 0.1}})
    counts = _route_many("least-gpu-cache", cache, pods, n=150)
    assert len(counts) == 3


def test_throughput_ties_go_to_the_last_pod_as_in_v050(cache, pods):
    for pod in pods:
        cache.set_pod_metrics(pod, {"avg_prompt_throughput_toks_per_s": 1.0,
                                    "avg_generation_throughput_toks_per_s": 1.0}, {})
    assert _route_many("throughput", cache, pods, n=20) == {"pod-2": 20}


def test_least_gpu_cache_ties_are_random(cache, pods):
    for pod in pods:
        cache.set_pod_metrics(pod, {"gpu_cache_usage_perc": 0.2}, {})
    assert len(_route_many("least-gpu-cache", cache, pods, n=100)) == 3
