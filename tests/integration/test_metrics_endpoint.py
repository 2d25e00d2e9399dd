from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import MODEL, EngineHostHandle


def _samples(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics").text
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if not s.labels.get("le")}


def test_metrics_count_tokens_of_a_request(engine_url: str):
    before = _samples(engine_url)
    httpx.post(f"{engine_url}/v1/completions",
               json={"model": MODEL, "prompt": "count me", "max_tokens": 7, "ignore_eos": True})
    after = _samples(engine_url)
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == 7
    assert after["vllm:e2e_request_latency_seconds_count"] == \
        before["vllm:e2e_request_latency_seconds_count"] + 1
    assert "vllm:gpu_cache_usage_perc" not in after


def test_legacy_engine_exports_the_names_aibrix_reads(engine_host: EngineHostHandle):
    url = engine_host.start("legacy", ["--emu-metric-names", "legacy"])
    names = _samples(url)
    assert "vllm:gpu_cache_usage_perc" in names
    assert "vllm:avg_generation_throughput_toks_per_s" in names


def test_metric_names_switch_at_runtime(engine_host: EngineHostHandle):
    url = engine_host.start("switch")
    engine_host.fault("switch", metric_names="legacy")
    assert "vllm:gpu_cache_usage_perc" in _samples(url)
    engine_host.fault("switch", metric_names="modern")
    assert "vllm:gpu_cache_usage_perc" not in _samples(url)
