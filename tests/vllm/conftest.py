"""A real vLLM server on CPU (the twin's real engine), started the way the pod backer starts it.

Tests here carry the `vllm` marker: they need `make twin-vllm` and run in their own stage
(`make test-vllm`), never in `make test`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.twin import vllm_install
from brixcheck.twin.vllm_host import VllmHost
from tests.integration.conftest import BASE_ARGS, free_port

STARTUP_TIMEOUT_S = 240.0
HOST = "127.0.4.1"


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def real_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, float]]:
    """(base URL, log, seconds from process start to /health 200) of one real server.

    Its arguments are the integration tests' emulator arguments (`BASE_ARGS`, the emulator-only
    `--emu-*` flags removed), translated exactly as a model pod's are.
    """
    if not vllm_install.is_installed():
        pytest.skip("the real vLLM engine is not installed: run `make twin-vllm`")
    args = [a for i, a in enumerate(BASE_ARGS)
            if not a.startswith("--emu-") and not BASE_ARGS[i - 1].startswith("--emu-")]
    port = free_port()
    log = tmp_path_factory.mktemp("vllm") / "engine.log"
    loop = asyncio.new_event_loop()
    host = VllmHost()
    started = time.monotonic()
    engine = loop.run_until_complete(host.add("parity", [*args, "--port", str(port)], HOST, log,
                                              cri_log=False))
    url = f"http://{HOST}:{port}"
    try:
        while not _healthy(url):
            loop.run_until_complete(asyncio.sleep(0.25))
            if engine.exited.done() or time.monotonic() - started > STARTUP_TIMEOUT_S:
                pytest.fail(f"real vLLM did not become healthy; log tail:\n"
                            f"{log.read_text()[-3000:]}")
        yield url, log, time.monotonic() - started
    finally:
        loop.run_until_complete(host.stop_all())
        loop.close()


@pytest.fixture(scope="session")
def engine_url(real_engine: tuple[str, Path, float]) -> str:
    """What the emulator's OpenAI-API tests use, served by real vLLM instead."""
    return real_engine[0]
