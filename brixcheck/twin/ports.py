"""Which process holds a loopback TCP port: read from /proc, so a refusal can name it."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"


def is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` (a bind would succeed)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (PROC / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def holder(port: int) -> str:
    """'PID N (command line)' of the process listening on `port`, or 'an unknown process'."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    for proc in PROC.glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if any(str(fd.readlink()) in sockets for fd in (proc / "fd").iterdir()):
                argv = " ".join((proc / "cmdline").read_bytes().decode().split("\0")).strip()
                return f"PID {proc.name} ({argv[:80]})"
    return "an unknown process (of another user?)"


def taken(ports: dict[str, int]) -> list[str]:
    """'NAME port P held by PID N (...)' for every port of `ports` that is not free."""
    return [f"{name} port {port} held by {holder(port)}" for name, port in ports.items()
            if not is_free(port)]
