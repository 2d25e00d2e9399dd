"""The telemetry sampler against a real emulated engine on loopback, under a little load.

It must see requests running while they run, and the engine's prefix-cache counters must give
the same hit rate as the `cached_tokens` the responses reported for repeated prompts.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from brixcheck.analysis.telemetry import (
    engine_pod_load,
    engine_prefix_cache_hit_rate,
    load_telemetry,
)
from brixcheck.bench.telemetry import TelemetrySampler
from tests.integration.conftest import MODEL, EngineHostHandle

pytestmark = pytest.mark.integration

PROMPTS = [f"tenant {i} shared system prompt about routing pods and caches " * 12
           for i in range(4)]


def _complete(url: str, prompt: str) -> dict:
    response = httpx.post(f"{url}/v1/completions", timeout=30, json={
        "model": MODEL, "prompt": prompt, "max_tokens": 48, "ignore_eos": True})
    response.raise_for_status()
    return response.json()["usage"]


def _wave(url: str) -> list[dict]:
    with ThreadPoolExecutor(len(PROMPTS)) as pool:
        return list(pool.map(lambda p: _complete(url, p), PROMPTS))


def test_sampler_sees_running_requests_and_the_engines_prefix_hit_rate(
        engine_host: EngineHostHandle, tmp_path: Path):
    url = engine_host.start("telemetry")
    out = tmp_path / "run-telemetry.jsonl"
    with TelemetrySampler(out, lambda: {"engine-0": url}, interval_s=0.1, gpu=False) as sampler:
        usages = _wave(url) + _wave(url)  # the second wave repeats every prompt
    samples = load_telemetry([out])
    assert sampler.gaps == 0
    assert set(samples["instance"]) == {"engine-0"}

    load = engine_pod_load(samples, -math.inf, math.inf).iloc[0]
    assert load["running_max"] >= 1, "no sample caught a request running"
    assert load["samples"] >= 3

    prompt = sum(u["prompt_tokens"] for u in usages)
    cached = sum((u.get("prompt_tokens_details") or {}).get("cached_tokens", 0) for u in usages)
    assert cached > 0, "the repeated prompts did not hit the prefix cache"
    engine_rate = engine_prefix_cache_hit_rate(samples, -math.inf, math.inf)
    assert engine_rate == pytest.approx(cached / prompt, abs=1e-9)
    assert 0.3 < engine_rate < 0.5  # half the requests repeat a prompt; the last block recomputes
