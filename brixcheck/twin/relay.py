"""Byte relays between a loopback TCP port and a unix socket, for programs in their own netns.

Some upstream programs bind fixed ports on every interface (Envoy Gateway: 0.0.0.0:18000, :8081,
:19001). The twin runs them in a private network namespace holding only its own loopback, and
connects that namespace to the host's loopback through unix sockets, which cross namespaces:

    host 127.0.0.1:API  <- unix socket <- netns 127.0.0.1:API      (the program reaches the API)
    host POD_IP:PORT    -> unix socket -> netns 127.0.0.1:PORT     (probes reach the program)

`python -m brixcheck.twin.relay tcp-to-unix HOST:PORT SOCKET` listens on TCP and forwards to the
socket; `unix-to-tcp SOCKET HOST:PORT` the other way. Nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Sequence

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()


def _handler(connect: Connect) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter],
                                           Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await connect()
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    return handle


def _split(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


async def tcp_to_unix(address: str, socket_path: str) -> asyncio.Server:
    """Listen on TCP `address`; forward each connection to the unix socket."""
    host, port = _split(address)
    return await asyncio.start_server(
        _handler(lambda: asyncio.open_unix_connection(socket_path)), host, port)


async def unix_to_tcp(socket_path: str, address: str) -> asyncio.Server:
    """Listen on the unix socket; forward each connection to TCP `address`."""
    host, port = _split(address)
    return await asyncio.start_unix_server(
        _handler(lambda: asyncio.open_connection(host, port)), socket_path)


async def _serve(mode: str, listen: str, target: str) -> None:
    server = await (tcp_to_unix(listen, target) if mode == "tcp-to-unix"
                    else unix_to_tcp(listen, target))
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m brixcheck.twin.relay tcp-to-unix|unix-to-tcp LISTEN TARGET`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in ("tcp-to-unix", "unix-to-tcp"):
        sys.stderr.write("usage: python -m brixcheck.twin.relay tcp-to-unix|unix-to-tcp "
                         "LISTEN TARGET\n")
        return 2
    asyncio.run(_serve(*args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
