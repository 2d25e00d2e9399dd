"""Which v0.5.0 strategies an exposition feeds."""

from __future__ import annotations

from brixcheck.aibrix.metric_names import feed, sample_names

MODERN = """# HELP vllm:kv_cache_usage_perc KV-cache usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.0
vllm:num_requests_running{engine="0",model_name="m"} 0.0
vllm:inter_token_latency_seconds_bucket{le="0.01",model_name="m"} 0.0
"""
LEGACY = MODERN + """vllm:gpu_cache_usage_perc{model_name="m"} 0.0
vllm:cpu_cache_usage_perc{model_name="m"} 0.0
vllm:avg_prompt_throughput_toks_per_s{model_name="m"} 0.0
vllm:avg_generation_throughput_toks_per_s{model_name="m"} 0.0
"""


def test_histogram_series_fold_into_their_name():
    assert "vllm:inter_token_latency_seconds" in sample_names(MODERN)


def test_modern_names_leave_three_strategies_random():
    result = feed(MODERN)
    assert result.random == ["throughput", "least-kv-cache", "least-gpu-cache"]
    assert result.verdicts()["vtc-basic"] == "routes on engine metrics"
    assert result.successors()["vllm:gpu_cache_usage_perc"] == "vllm:kv_cache_usage_perc"


def test_legacy_names_feed_every_strategy():
    assert feed(LEGACY).random == []
