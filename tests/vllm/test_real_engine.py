"""Facts about the real vLLM server that the emulator is compared with (docs/twin-vllm.md)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from brixcheck.aibrix.metric_names import feed
from tests.integration.conftest import MODEL
from tests.vllm.conftest import STARTUP_TIMEOUT_S

pytestmark = [pytest.mark.vllm, pytest.mark.timeout(STARTUP_TIMEOUT_S + 120)]


def test_start_up_time_is_reported(real_engine: tuple[str, Path, float]):
    _url, log, seconds = real_engine
    print(f"real vLLM: process start to /health 200 in {seconds:.1f} s")
    assert "Application startup complete." in log.read_text()


def test_prefix_cache_hit_is_reported(engine_url: str):
    prompt = "shared system prompt " * 40
    body = {"model": MODEL, "max_tokens": 2, "temperature": 0}
    httpx.post(f"{engine_url}/v1/completions", json={**body, "prompt": prompt + "one"})
    second = httpx.post(f"{engine_url}/v1/completions",
                        json={**body, "prompt": prompt + "two"}).json()
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] >= 100


def test_metric_names_are_modern_and_starve_three_strategies(engine_url: str):
    text = httpx.get(f"{engine_url}/metrics").text
    result = feed(text)
    assert "vllm:kv_cache_usage_perc" in result.present
    assert "vllm:gpu_cache_usage_perc" not in result.present
    assert result.random == ["throughput", "least-kv-cache", "least-gpu-cache"]
    assert result.verdicts()["vtc-basic"] == "routes on engine metrics"


def test_temperature_zero_is_deterministic(engine_url: str):
    body = {"model": MODEL, "prompt": "same", "max_tokens": 8, "temperature": 0}
    texts = {httpx.post(f"{engine_url}/v1/completions", json=body).json()["choices"][0]["text"]
             for _ in range(2)}
    assert len(texts) == 1
