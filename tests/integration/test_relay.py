"""The unix-socket relays carry bytes both ways between loopback TCP ports (no namespace needed).

Chain: client -> TCP (tcp_to_unix) -> unix socket (unix_to_tcp) -> an echo server on loopback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from brixcheck.twin.relay import tcp_to_unix, unix_to_tcp


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _round_trip(socket_path: Path) -> bytes:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    echo_port = echo.sockets[0].getsockname()[1]
    inner = await unix_to_tcp(str(socket_path), f"127.0.0.1:{echo_port}")
    outer = await tcp_to_unix("127.0.0.1:0", str(socket_path))
    port = outer.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping through the relay")
    await writer.drain()
    reply = await asyncio.wait_for(reader.readexactly(22), 5)
    writer.close()
    for server in (outer, inner, echo):
        server.close()
    return reply


def test_bytes_cross_both_relays(tmp_path: Path):
    assert asyncio.run(_round_trip(tmp_path / "relay.sock")) == b"ping through the relay"
