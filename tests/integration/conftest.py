"""A real `brixcheck engine host` process on loopback, shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from brixcheck.twin.ports import free_port

MODEL = "deepseek-r1-qwen-1b5"
BASE_ARGS = ["--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--served-model-name",
             MODEL, "--gpu-memory-utilization", "0.7", "--max-model-len", "4096",
             "--emu-load-time-factor", "0", "--enable-prompt-tokens-details"]
READY_TIMEOUT_S = 15.0


def poll(check, timeout_s: float, what: str) -> None:
    """Poll `check()` until it is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=1.0).status_code
    except httpx.HTTPError:
        return None


@dataclass
class EngineHostHandle:
    """Control-API client for the host process under test."""

    control: str
    port: int
    log_dir: Path
    _next_ip: int = 1

    def start(self, name: str, extra: list[str] = (), wait: bool = True) -> str:
        """Start an engine on the next loopback address; return its base URL."""
        host = f"127.0.3.{self._next_ip}"
        self._next_ip += 1
        spec = {"host": host, "log": str(self.log_dir / f"{name}.log"),
                "args": [*BASE_ARGS, "--port", str(self.port), *extra]}
        response = httpx.put(f"{self.control}/engines/{name}", json=spec, timeout=5)
        assert response.status_code == 201, response.text
        url = f"http://{host}:{self.port}"
        if wait:
            poll(lambda: _status(f"{url}/health") == 200, READY_TIMEOUT_S, f"{name} ready")
        return url

    def fault(self, name: str, **faults: object) -> dict[str, object]:
        response = httpx.post(f"{self.control}/engines/{name}/faults", json=faults, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def describe(self, name: str) -> dict[str, object]:
        return httpx.get(f"{self.control}/engines/{name}", timeout=5).json()

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()


@pytest.fixture(scope="session")
def engine_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineHostHandle]:
    control = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([sys.executable, "-m", "brixcheck.cli", "engine", "host",
                             "--control", control], stdout=subprocess.DEVNULL)
    try:
        poll(lambda: _status(f"http://{control}/health") == 200, READY_TIMEOUT_S,
             "the engine host's control API")
        yield EngineHostHandle(f"http://{control}", free_port(), tmp_path_factory.mktemp("logs"))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def engine_url(engine_host: EngineHostHandle) -> str:
    """One healthy engine with the default settings."""
    return engine_host.start("default")
