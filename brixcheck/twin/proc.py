"""Start, wait for and stop one upstream program of the twin (Envoy, Redis, metadata service).

A ``ManagedProcess`` owns exactly the process it started: it keeps the ``Popen`` handle, sends
signals to that PID only, and reaps it, so a recycled PID is never signalled. The child gets
SIGTERM when its parent dies, so a killed pod backer leaves no program holding a port. Output
goes to a log file whose tail is quoted when start-up fails. Readiness is a caller-supplied probe
polled until a bounded deadline. This module knows nothing about what the programs do and
asserts nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from brixcheck.children import die_with_parent
from brixcheck.errors import BrixcheckError

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.02
LOG_TAIL_LINES = 15


class TwinProcessError(BrixcheckError):
    """A twin program could not be found, configured, started or stopped."""


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last `lines` lines of a log file, or a note that it is missing.

    Args:
        path: the log file.
        lines: how many lines to keep.
    """
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """One child process with a log file, a bounded readiness wait and a PID-targeted stop."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, cwd: Path,
                 env: Mapping[str, str] | None = None) -> None:
        """Describe the process; nothing runs until `start`.

        Args:
            name: short name used in messages (``envoy``, ``redis``).
            argv: the command line, program first.
            log_path: file receiving stdout and stderr.
            cwd: working directory of the child.
            env: full environment of the child; None inherits ours.
        """
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID of the running child, or None before start and after stop."""
        return self._popen.pid if self._popen is not None else None

    def start(self) -> None:
        """Spawn the child with stdout and stderr appended to the log file."""
        if self._popen is not None:
            raise TwinProcessError(f"{self.name} is already running as PID {self._popen.pid}")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            try:
                self._popen = subprocess.Popen(
                    self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
            except OSError as exc:
                raise TwinProcessError(
                    f"cannot run {self.argv[0]} for {self.name}: {exc.strerror}") from None
        log.info("started %s as PID %d: %s", self.name, self._popen.pid, " ".join(self.argv))

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Poll `probe` until it returns True; return the seconds waited.

        Args:
            probe: readiness check; must return quickly and never raise.
            timeout_s: upper bound on the wait.
            what: the awaited condition, for messages ("admin /ready answers LIVE").

        Raises:
            TwinProcessError: the child exited or the deadline passed; the log tail is quoted.
        """
        started = time.monotonic()
        while True:
            if probe():
                return time.monotonic() - started
            code = self._popen.poll() if self._popen is not None else None
            if code is not None:
                raise TwinProcessError(
                    f"{self.name} exited with code {code} before {what}; log tail:\n"
                    f"{tail(self.log_path)}")
            if time.monotonic() - started > timeout_s:
                raise TwinProcessError(
                    f"{self.name} did not get ready within {timeout_s} s ({what}); log tail:\n"
                    f"{tail(self.log_path)}")
            time.sleep(POLL_INTERVAL_S)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """Send SIGTERM to our PID, wait, SIGKILL after `timeout_s`; return the exit code.

        Args:
            timeout_s: grace period before SIGKILL.
        """
        popen, self._popen = self._popen, None
        if popen is None:
            return None
        if popen.poll() is None:
            popen.send_signal(signal.SIGTERM)
            try:
                popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("%s (PID %d) ignored SIGTERM for %s s; killing it",
                            self.name, popen.pid, timeout_s)
                popen.kill()
                popen.wait()
        log.info("%s (PID %d) exited with code %s", self.name, popen.pid, popen.returncode)
        return popen.returncode


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """Return our environment plus `extra`, without proxy settings (everything is loopback).

    Args:
        extra: variables to add or override.
    """
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
    env.update(extra)
    return env


_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


def remove_quietly(path: Path) -> None:
    """Delete a file if it exists.

    Args:
        path: the file.
    """
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
