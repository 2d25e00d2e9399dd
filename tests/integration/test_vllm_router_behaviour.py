"""vllm-router (PyPI, the vLLM project's Rust router; nobody here wrote it) holds the routing
behaviour cases that apply to it, on three emulated engines on loopback: `random` is uniform,
`cache_aware` keeps a shared prefix on one pod, `power_of_two` spreads held streams. Sample
sizes and false-alarm bounds are those of the AIBrix cases (brixcheck.conformance.routing_stats,
<= 0.1 %). The router is started with loopback workers only, and every TCP peer it has while
serving is checked to be loopback."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.conformance.routing_stats import (
    FALSE_ALARM,
    chi_square_uniform,
    sticky_sample_size,
    uniform_sample_size,
)
from brixcheck.errors import BrixcheckError
from brixcheck.routers import vllm_router
from brixcheck.routers.behaviour import chat_body, running, served_by
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]
PODS = 3
HELD = 12  # streams held at once for the balance case (4 per pod when even)


@pytest.fixture(scope="module")
def binary() -> Path:
    try:
        return vllm_router.install()
    except BrixcheckError as exc:
        pytest.skip(f"vllm-router cannot be installed here: {exc}")


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Three emulated engines on free loopback ports, stopped by PID afterwards."""
    logs = tmp_path_factory.mktemp("engines")
    ports = [vllm_router.free_port() for _ in range(PODS)]
    procs = [subprocess.Popen([sys.executable, "-m", "brixcheck.cli", "engine", "run",
                               "--log", str(logs / f"{p}.log"), "--model", "m", "--host",
                               "127.0.0.1", "--port", str(p), "--max-model-len", "8192",
                               "--gpu-memory-utilization", "0.7", "--emu-load-time-s", "0",
                               "--enable-prefix-caching"]) for p in ports]
    urls = {f"pod-{n}": f"http://127.0.0.1:{p}" for n, p in enumerate(ports)}
    try:
        for url in urls.values():
            wait_until(lambda u=url: _healthy(u), 60, f"engine {url} to answer /health")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _router(engines: dict[str, str], policy: str, tmp_path: Path, binary: Path):
    return vllm_router.running(list(engines.values()), policy, tmp_path / f"{policy}.log",
                               binary)


def test_random_is_uniform(engines, tmp_path, binary):
    n = uniform_sample_size(PODS)
    with _router(engines, "random", tmp_path, binary) as router:
        counts = Counter(served_by(router.url, engines, chat_body("m", f"question {i}"))
                         for i in range(n))
        peers = vllm_router.remote_addresses(router.pid)
    assert all(vllm_router.is_loopback(p) for p in peers), peers
    _, p_value = chi_square_uniform([counts[p] for p in engines])
    assert p_value >= FALSE_ALARM, f"random is not uniform: {dict(counts)} (p={p_value:.2g})"


def test_cache_aware_keeps_a_shared_prefix_on_one_pod(engines, tmp_path, binary):
    shared = "You are a careful assistant. " * 60
    n = sticky_sample_size(PODS)
    with _router(engines, "cache_aware", tmp_path, binary) as router:
        pods = [served_by(router.url, engines, chat_body("m", f"{shared} question {i}"))
                for i in range(n)]
    assert len(set(pods)) == 1, f"a shared prefix went to several pods: {pods}"


def test_power_of_two_spreads_held_streams(engines, tmp_path, binary):
    with _router(engines, "power_of_two", tmp_path, binary) as router:
        def hold(i: int) -> None:
            body = chat_body("m", f"long story {i}", max_tokens=3000, stream=True)
            with httpx.stream("POST", f"{router.url}/v1/chat/completions", json=body,
                              timeout=120) as response:
                for _ in response.iter_lines():
                    if stop.is_set():
                        return

        stop = threading.Event()
        threads = []
        for i in range(HELD):  # one at a time, so the router sees each earlier one in flight
            threads.append(threading.Thread(target=hold, args=(i,), daemon=True))
            threads[-1].start()
            wait_until(lambda k=i + 1: sum(running(engines).values()) >= k, 30,
                       f"{i + 1} streams running")
        held = running(engines)
        stop.set()
    assert sum(held.values()) == HELD
    assert max(held.values()) <= HELD // PODS + 1, f"power_of_two piled streams up: {held}"
