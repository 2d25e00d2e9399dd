"""Redis and the AIBrix metadata service for the twin, each as a real upstream program on loopback.

- ``RedisServer`` runs Debian's ``redis-server`` (7.0.x) on 127.0.0.1 with persistence off, in a
  work directory; ready when it answers PING. The gateway plugin and the metadata service need it.
- ``MetadataService`` runs ``aibrix_metadata`` (``aibrix.metadata.app:main``) from PyPI
  ``aibrix==0.5.0`` in its own venv under the twin cache, because its pins (fastapi 0.112,
  httpx < 0.28, numpy 1.26.4, kubernetes 31) clash with brixcheck's. It serves users CRUD
  (``/CreateUser`` ...), ``/v1/models/``, ``/v1/files`` and ``/v1/batches``; ready when
  ``/healthz`` and ``/readyz`` (which pings Redis) answer 200.

Neither is the AIBrix gateway plugin, and nothing here imitates it. ``python -m
brixcheck.twin.services install-metadata`` creates the metadata venv (``make twin-metadata``).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import httpx

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.twin.build import cache_root
from brixcheck.twin.proc import ManagedProcess, TwinProcessError, child_env, tail

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
REDIS_INSTALL_HINT = "install it with `apt-get install -y redis-server` (or `make twin-deps`)"
REDIS_START_TIMEOUT_S = 10.0
REDIS_IO_TIMEOUT_S = 1.0
AIBRIX_PACKAGE = "aibrix==0.5.0"
METADATA_VENV = "venv-aibrix-0.5.0"
METADATA_INSTALL_HINT = "create it with `make twin-metadata`"
METADATA_START_TIMEOUT_S = 60.0
INSTALL_TIMEOUT_S = 1800.0
STAMP = ".brixcheck-installed"
HTTP_TIMEOUT_S = 2.0


def redis_call(port: int, *args: str) -> bytes:
    """Send one command to Redis on loopback and return the raw RESP reply.

    Args:
        port: Redis port on 127.0.0.1.
        args: the command and its arguments, e.g. ``("GET", "key")``.

    Raises:
        OSError: Redis does not answer.
    """
    request = f"*{len(args)}\r\n".encode()
    for arg in args:
        data = arg.encode()
        request += b"$%d\r\n%s\r\n" % (len(data), data)
    with socket.create_connection((LOOPBACK, port), timeout=REDIS_IO_TIMEOUT_S) as conn:
        conn.sendall(request)
        return conn.recv(1 << 16)


def redis_get(port: int, key: str) -> str | None:
    """Return the string stored at `key`, or None when it is missing.

    Args:
        port: Redis port on 127.0.0.1.
        key: the key.
    """
    reply = redis_call(port, "GET", key)
    if reply.startswith(b"$-1"):
        return None
    header, _, body = reply.partition(b"\r\n")
    return body[: int(header[1:])].decode()


def redis_pings(port: int) -> bool:
    """Return True when Redis on 127.0.0.1:`port` answers PING with PONG.

    Args:
        port: Redis port.
    """
    try:
        return redis_call(port, "PING") == b"+PONG\r\n"
    except OSError:
        return False


def find_redis_server() -> Path:
    """Return Debian's redis-server executable.

    Raises:
        TwinProcessError: it is not installed.
    """
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin")
    if found is None:
        raise TwinProcessError("redis-server is not installed", REDIS_INSTALL_HINT)
    return Path(found)


class _LoopbackService:
    """A program of the twin run as one child process: launch, wait ready, stop by PID."""

    work_dir: Path
    _process: ManagedProcess | None = None

    def _launch(self, process: ManagedProcess, ready: Callable[[], bool], timeout_s: float,
                what: str) -> float:
        """Start `process` and wait until `ready`; stop it again if it never gets there."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._process = process
        process.start()
        try:
            return process.wait_ready(ready, timeout_s, what)
        except TwinProcessError:
            self.stop()
            raise

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Stop the program (SIGTERM to its PID, then wait); return its exit code.

        Args:
            timeout_s: grace period before SIGKILL.
        """
        process, self._process = self._process, None
        return process.stop(timeout_s) if process is not None else None

    def __enter__(self) -> Self:
        """Return self; call `start` explicitly."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the program whatever happened."""
        self.stop()


class RedisServer(_LoopbackService):
    """``redis-server`` on 127.0.0.1 without persistence (no RDB snapshots, no AOF)."""

    def __init__(self, work_dir: Path, port: int = aibrix.REDIS_PORT) -> None:
        """Prepare paths; nothing runs until `start`.

        Args:
            work_dir: working directory and log location.
            port: loopback port.
        """
        self.work_dir = work_dir.resolve()
        self.port = port
        self._process: ManagedProcess | None = None

    def _argv(self, server: Path) -> list[str]:
        return [str(server), "--bind", LOOPBACK, "--port", str(self.port),
                "--protected-mode", "yes", "--save", "", "--appendonly", "no",
                "--dir", str(self.work_dir), "--daemonize", "no", "--logfile", ""]

    def start(self, timeout_s: float = REDIS_START_TIMEOUT_S) -> float:
        """Start redis-server and wait until it answers PING; return the seconds waited.

        Args:
            timeout_s: bound on the wait.
        """
        process = ManagedProcess("redis", self._argv(find_redis_server()),
                                 self.work_dir / "redis.log", self.work_dir)
        return self._launch(process, lambda: redis_pings(self.port), timeout_s,
                            f"PING on {LOOPBACK}:{self.port}")


def metadata_venv(root: Path | None = None) -> Path:
    """Return the metadata service's venv directory (it may not exist yet).

    Args:
        root: twin cache root; ``$BRIXCHECK_TWIN_CACHE`` or ``~/.cache/brixcheck/twin`` by default.
    """
    return (root or cache_root()) / METADATA_VENV


def find_metadata_entry(root: Path | None = None) -> Path:
    """Return the installed ``aibrix_metadata`` console script.

    Args:
        root: twin cache root.

    Raises:
        TwinProcessError: the venv is missing or was not installed completely.
    """
    venv = metadata_venv(root)
    entry = venv / "bin" / "aibrix_metadata"
    if not (venv / STAMP).is_file() or not entry.is_file():
        raise TwinProcessError(f"the {AIBRIX_PACKAGE} venv is missing at {venv}",
                               METADATA_INSTALL_HINT)
    return entry


def _run_logged(argv: Sequence[str], what: str) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                          check=False)
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()[-10:]
        raise TwinProcessError(f"{what} failed (exit {done.returncode}): " + " | ".join(lines))


def install_metadata_venv(root: Path | None = None) -> Path:
    """Create the metadata venv and install ``aibrix==0.5.0`` into it, unless already done.

    Args:
        root: twin cache root.

    Returns:
        The venv directory.
    """
    venv = metadata_venv(root)
    if (venv / STAMP).is_file():
        return venv
    log.info("creating %s with %s", venv, AIBRIX_PACKAGE)
    _run_logged([sys.executable, "-m", "venv", "--clear", str(venv)], f"creating venv {venv}")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    _run_logged([*pip, AIBRIX_PACKAGE], f"pip install {AIBRIX_PACKAGE}")
    (venv / STAMP).write_text(AIBRIX_PACKAGE + "\n")
    return venv


PLACEHOLDER_KUBECONFIG = """\
# Written by brixcheck: the metadata service refuses to start without a kubeconfig. This one
# points at a closed loopback port, so /v1/models/ finds no pods; users CRUD needs no cluster.
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""


class MetadataService(_LoopbackService):
    """``aibrix_metadata --host 127.0.0.1 --port P`` against a loopback Redis."""

    def __init__(self, work_dir: Path, redis_port: int, port: int = aibrix.METADATA_SERVICE_PORT,
                 kubeconfig: Path | None = None, cache: Path | None = None) -> None:
        """Prepare paths; nothing runs until `start`.

        Args:
            work_dir: working directory (file storage, logs, placeholder kubeconfig).
            redis_port: port of the twin's Redis on 127.0.0.1.
            port: loopback port to serve on.
            kubeconfig: the twin cluster's kubeconfig; None writes a placeholder (no cluster).
            cache: twin cache root holding the venv.
        """
        self.work_dir = work_dir.resolve()
        self.redis_port = redis_port
        self.port = port
        self.kubeconfig = kubeconfig
        self.cache = cache
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """Base URL of the service."""
        return f"http://{LOOPBACK}:{self.port}"

    def _env(self) -> dict[str, str]:
        kubeconfig = self.kubeconfig
        if kubeconfig is None:
            kubeconfig = self.work_dir / "placeholder-kubeconfig.yaml"
            kubeconfig.write_text(PLACEHOLDER_KUBECONFIG)
        return child_env({"REDIS_HOST": LOOPBACK, "REDIS_PORT": str(self.redis_port),
                          "KUBECONFIG": str(kubeconfig), "POD_NAME": "aibrix-metadata-service",
                          "POD_NAMESPACE": aibrix.SYSTEM_NAMESPACE,
                          "LOCAL_STORAGE_PATH": str(self.work_dir / "storage")})

    def is_ready(self) -> bool:
        """Return True when ``/healthz`` and ``/readyz`` (Redis reachable) both answer 200."""
        try:
            return all(httpx.get(f"{self.url}{path}", timeout=HTTP_TIMEOUT_S,
                                 trust_env=False).status_code == 200
                       for path in ("/healthz", "/readyz"))
        except httpx.HTTPError:
            return False

    def start(self, timeout_s: float = METADATA_START_TIMEOUT_S) -> float:
        """Start the service and wait until it is ready; return the seconds waited.

        Args:
            timeout_s: bound on the wait.
        """
        entry = find_metadata_entry(self.cache)
        self.work_dir.mkdir(parents=True, exist_ok=True)  # _env may write a kubeconfig here
        argv = [str(entry), "--host", LOOPBACK, "--port", str(self.port)]
        process = ManagedProcess("metadata-service", argv, self.work_dir / "metadata.log",
                                 self.work_dir, self._env())
        return self._launch(process, self.is_ready, timeout_s,
                            f"/healthz and /readyz on {self.url}")

    def log_tail(self) -> str:
        """Return the end of the service's log, for failure messages."""
        return tail(self.work_dir / "metadata.log")



def main(argv: Sequence[str] | None = None) -> int:
    """Install the metadata venv: ``python -m brixcheck.twin.services install-metadata``.

    Args:
        argv: command-line arguments without the program name.
    """
    parser = argparse.ArgumentParser(prog="python -m brixcheck.twin.services")
    parser.add_argument("action", choices=["install-metadata"])
    parser.add_argument("--cache", type=Path, help="twin cache root")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        venv = install_metadata_venv(args.cache)
    except TwinProcessError as exc:
        log.error("%s", exc)
        return 1
    log.info("metadata service venv ready: %s", venv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
