"""Each fault behaves as a failing vLLM would, as seen by a client and by the host."""

from __future__ import annotations

import itertools
import statistics

import httpx
import pytest

from tests.integration.conftest import MODEL, READY_TIMEOUT_S, EngineHostHandle, poll

BODY = {"model": MODEL, "prompt": "fault", "max_tokens": 6, "ignore_eos": True}


def _itl_ms(url: str) -> float:
    reply = httpx.post(f"{url}/v1/completions", headers={"x-brixcheck-ground-truth": "1"},
                       json={**BODY, "max_tokens": 12}, timeout=10).json()
    times = reply["brixcheck_ground_truth"]["token_intended_s"]
    return statistics.median(b - a for a, b in itertools.pairwise(times)) * 1000


def test_crash_drops_connections_and_exits_with_1(engine_host: EngineHostHandle):
    url = engine_host.start("crash")
    engine_host.fault("crash", crash=True)
    poll(lambda: engine_host.describe("crash")["state"] == "crashed", 5, "crash")
    assert engine_host.describe("crash")["exit_code"] == 1
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=1)
    assert "died unexpectedly" in engine_host.log("crash")


def test_hang_stops_answering_until_released(engine_host: EngineHostHandle):
    url = engine_host.start("hang")
    engine_host.fault("hang", hang=True)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{url}/health", timeout=0.5)
    engine_host.fault("hang", hang=False)
    assert httpx.get(f"{url}/health", timeout=2).status_code == 200
    assert httpx.post(f"{url}/v1/completions", json=BODY, timeout=5).status_code == 200


def test_slowdown_stretches_every_step(engine_host: EngineHostHandle):
    url = engine_host.start("slow")
    normal = _itl_ms(url)
    engine_host.fault("slow", slowdown=3.0)
    assert _itl_ms(url) == pytest.approx(3 * normal, rel=0.05)


def test_error_rate_one_answers_500(engine_host: EngineHostHandle):
    url = engine_host.start("errors", ["--emu-error-rate", "1.0"])
    reply = httpx.post(f"{url}/v1/completions", json=BODY)
    assert reply.status_code == 500
    assert reply.json()["error"]["type"] == "InternalServerError"
    engine_host.fault("errors", error_rate=0.0)
    assert httpx.post(f"{url}/v1/completions", json=BODY).status_code == 200


def test_oom_at_start_fails_with_vllm_message(engine_host: EngineHostHandle):
    engine_host.start("oom", ["--gpu-memory-utilization", "0.9", "--emu-gpu-used-gib", "1.0"],
                      wait=False)
    poll(lambda: engine_host.describe("oom")["state"] == "failed", 5, "the OOM failure")
    assert engine_host.describe("oom")["exit_code"] == 1
    log = engine_host.log("oom")
    assert "Free memory on device (7.0/8.0 GiB) on startup is less than desired GPU memory " \
           "utilization (0.9, 7.2 GiB)" in log
    assert "Engine core initialization failed" in log


def test_health_is_503_while_the_model_loads(engine_host: EngineHostHandle):
    url = engine_host.start("loading", ["--emu-load-time-s", "1.5", "--emu-load-time-factor",
                                        "1"], wait=False)
    assert httpx.get(f"{url}/health").status_code == 503
    poll(lambda: httpx.get(f"{url}/health").status_code == 200, READY_TIMEOUT_S, "load end")
    assert "Application startup complete." in engine_host.log("loading")


def test_real_vllm_mode_refuses_connections_while_loading(engine_host: EngineHostHandle):
    url = engine_host.start("closed", ["--emu-load-time-s", "1.0", "--emu-load-time-factor",
                                       "1", "--no-emu-listen-while-loading"], wait=False)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=0.5)
    poll(lambda: engine_host.describe("closed")["state"] == "ready", 5, "ready")


def test_api_key_is_enforced(engine_host: EngineHostHandle):
    url = engine_host.start("key", ["--api-key", "sk-test"])
    assert httpx.post(f"{url}/v1/completions", json=BODY).status_code == 401
    ok = httpx.post(f"{url}/v1/completions", json=BODY,
                    headers={"authorization": "Bearer sk-test"})
    assert ok.status_code == 200
