"""The core's metric parser feeding GatewayCache: legacy vLLM names drive least-gpu-cache, modern
ones leave it random, end to end through the same objects the plugin process uses."""

from __future__ import annotations

from collections import Counter

from brixcheck.gateway_plugin.algorithms import select_pod
from brixcheck.gateway_plugin.discovery import parse_metrics
from tests.unit.gateway_plugin.conftest import MODEL, make_ctx


def _exposition(kv: float, legacy: bool) -> str:
    name = "vllm:gpu_cache_usage_perc" if legacy else "vllm:kv_cache_usage_perc"
    return (f'vllm:num_requests_running{{model_name="{MODEL}"}} 1.0\n'
            f'{name}{{engine="0",model_name="{MODEL}"}} {kv}\n')


def _route(cache, pods, legacy: bool) -> Counter:
    for pod, kv in zip(pods, (0.9, 0.1, 0.5), strict=True):
        cache.set_pod_metrics(pod, {}, parse_metrics(_exposition(kv, legacy), pod.model))
    return Counter(select_pod("least-gpu-cache", make_ctx(request_id=f"r{i}"), pods, cache).name
                   for i in range(90))


def test_legacy_names_route_on_kv_usage(cache, pods):
    assert _route(cache, pods, legacy=True) == {"pod-1": 90}


def test_modern_names_leave_the_strategy_random(cache, pods):
    assert len(_route(cache, pods, legacy=False)) == 3
