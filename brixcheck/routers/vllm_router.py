"""PyPI's `vllm-router` (the vLLM project's Rust router) in front of the model pods, on loopback.

Installed by pip into its own venv under the cache (never the project's), started with the
model pods' `http://<podIP>:8000` as workers and one `--policy`, stopped by its PID. Every
address it is given or binds is checked to be loopback: on the twin it must never reach
anything else, and `remote_addresses` lets a test check what it actually connected to.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from brixcheck.errors import BrixcheckError

VERSION = "0.1.17"
POLICIES = ("random", "round_robin", "power_of_two", "consistent_hash", "cache_aware")
READY_TIMEOUT_S = 60.0


def venv_dir() -> Path:
    """Where the router's venv lives (beside the twin's binaries in the user cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "brixcheck" / \
        "routers" / "vllm-router"


def install(venv: Path | None = None) -> Path:
    """Create the venv and pip-install the pinned vllm-router (idempotent); its binary."""
    venv = venv or venv_dir()
    binary = venv / "bin" / "vllm-router"
    if binary.exists() and installed_version(venv) == VERSION:
        return binary
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True, capture_output=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                          f"vllm-router=={VERSION}"], capture_output=True, text=True)
    if pip.returncode:
        raise BrixcheckError(f"pip could not install vllm-router=={VERSION}: "
                             f"{pip.stderr.strip().splitlines()[-1:]}",
                             "check the package index is reachable, then run again")
    return binary


def installed_version(venv: Path | None = None) -> str:
    """The installed vllm-router version ("" when not installed), for the environment stamp."""
    python = (venv or venv_dir()) / "bin" / "python"
    if not python.exists():
        return ""
    out = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                          "print(m.version('vllm-router'))"], capture_output=True, text=True)
    return out.stdout.strip()


def is_loopback(host: str) -> bool:
    """Whether a host (IP literal or `localhost`) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_loopback(urls: Sequence[str]) -> None:
    """Refuse any worker URL outside 127.0.0.0/8 (or ::1)."""
    outside = [u for u in urls if not is_loopback(urlsplit(u).hostname or "")]
    if outside:
        raise BrixcheckError(f"vllm-router workers must be loopback here, got {outside}",
                             "run the router only in front of the twin's loopback pods")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningRouter:
    """A started router: where to send requests, its policy and process."""

    url: str
    policy: str
    pid: int
    version: str


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrixcheckError(f"vllm-router exited with {process.returncode} while starting "
                                 f"(log {log})", "read its log, fix the arguments, run again")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # poll interval of a bounded readiness wait
    raise BrixcheckError(f"vllm-router did not answer /health within {READY_TIMEOUT_S:.0f} s "
                         f"(log {log})", "read its log, then run again")


@contextmanager
def running(workers: Sequence[str], policy: str, log: Path,
            binary: Path | None = None) -> Iterator[RunningRouter]:
    """Start vllm-router on 127.0.0.1 with one policy; stop it (by PID) on exit.

    Args:
        workers: engine base URLs (loopback only).
        policy: one of `POLICIES`.
        log: file for its output.
        binary: the router executable (default: `install()`'s).

    Yields:
        The running router.
    """
    if policy not in POLICIES:
        raise BrixcheckError(f"unknown vllm-router policy {policy!r}",
                             f"choose from {', '.join(POLICIES)}")
    check_loopback(workers)
    binary = binary or install()
    port, metrics_port = free_port(), free_port()
    args = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--policy", policy,
            "--worker-urls", *workers, "--prometheus-host", "127.0.0.1",
            "--prometheus-port", str(metrics_port), "--log-level", "warning",
            "--disable-retries"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log)
        yield RunningRouter(url, policy, process.pid, installed_version(binary.parent.parent))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _hex_address(field: str, family: int) -> str:
    host = bytes.fromhex(field.split(":")[0])
    if family == socket.AF_INET:
        return socket.inet_ntop(family, host[::-1])
    words = b"".join(host[i:i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(family, words)


def remote_addresses(pid: int) -> set[str]:
    """The remote IPs of the process's TCP sockets now (from /proc; Linux only)."""
    inodes = _socket_inodes(pid)
    remotes = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path(f"/proc/{pid}/net/{table}")
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            fields = line.split()
            if fields[9] in inodes and fields[3] != "0A":  # 0A: LISTEN, no remote
                remotes.add(_hex_address(fields[2], family))
    return remotes
