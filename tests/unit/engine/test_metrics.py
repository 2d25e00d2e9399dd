from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from brixcheck.engine.metrics import EngineMetrics, GaugeState, MetricNames, token_buckets

STATE = GaugeState(running=3, waiting=1, kv_usage=0.25, preemptions=0, prefix_queries=100,
                   prefix_hits=40, prompt_tokens=100, generation_tokens=50)


def _names(names: MetricNames) -> set[str]:
    metrics = EngineMetrics("m", names, 4096, {"block_size": "16"}, lambda: STATE)
    text = metrics.exposition().decode()
    return {family.name for family in text_string_to_metric_families(text)}


def test_token_buckets_follow_1_2_5():
    assert token_buckets(60) == (1, 2, 5, 10, 20, 50)


def test_modern_names_are_vllm_v0_11_only():
    names = _names(MetricNames.MODERN)
    for name in ("vllm:num_requests_running", "vllm:num_requests_waiting",
                 "vllm:kv_cache_usage_perc", "vllm:prefix_cache_queries",
                 "vllm:prefix_cache_hits", "vllm:time_to_first_token_seconds",
                 "vllm:inter_token_latency_seconds", "vllm:e2e_request_latency_seconds",
                 "vllm:prompt_tokens", "vllm:generation_tokens"):
        assert name in names
    assert "vllm:gpu_cache_usage_perc" not in names
    assert "vllm:avg_prompt_throughput_toks_per_s" not in names


def test_legacy_names_add_what_aibrix_v0_5_reads():
    names = _names(MetricNames.LEGACY)
    for name in ("vllm:gpu_cache_usage_perc", "vllm:cpu_cache_usage_perc",
                 "vllm:num_requests_swapped", "vllm:avg_prompt_throughput_toks_per_s",
                 "vllm:avg_generation_throughput_toks_per_s", "vllm:kv_cache_usage_perc"):
        assert name in names
