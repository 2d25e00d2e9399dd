"""Run a program in a private network namespace joined to the host's loopback by unix sockets.

Started as `unshare -n python -m brixcheck.twin.netns --reach PORT=SOCKET ... --expose
PORT=SOCKET ... -- PROGRAM ARGS`: brings the namespace's loopback up, then listens on
127.0.0.1:PORT for each `--reach` (forwarded to the host through SOCKET, e.g. the API server)
and on SOCKET for each `--expose` (forwarded to 127.0.0.1:PORT here, e.g. a health port the
host probes), and only once all listen runs the program and exits with its code.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
from collections.abc import Sequence

from brixcheck.twin.relay import tcp_to_unix, unix_to_tcp


def _pairs(values: list[str]) -> list[tuple[int, str]]:
    return [(int(port), socket) for port, socket in (v.split("=", 1) for v in values)]


async def _run(reach: list[tuple[int, str]], expose: list[tuple[int, str]],
               program: list[str]) -> int:
    servers = [await tcp_to_unix(f"127.0.0.1:{port}", sock) for port, sock in reach]
    servers += [await unix_to_tcp(sock, f"127.0.0.1:{port}") for port, sock in expose]
    child = await asyncio.create_subprocess_exec(*program)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, child.send_signal, sig)
    code = await child.wait()
    for server in servers:
        server.close()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brixcheck.twin.netns")
    parser.add_argument("--reach", action="append", default=[], metavar="PORT=SOCKET")
    parser.add_argument("--expose", action="append", default=[], metavar="PORT=SOCKET")
    parser.add_argument("program", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    program = args.program[1:] if args.program[:1] == ["--"] else args.program
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return asyncio.run(_run(_pairs(args.reach), _pairs(args.expose), program))


if __name__ == "__main__":
    sys.exit(main())
