"""A small HTTP/1.1 server protocol for the emulator, on asyncio with httptools.

Why not a framework: the emulator must write more than 10,000 SSE events per second from one
core with millisecond timing, and a per-event framework stack (ASGI send, middleware) costs too
much. This module parses requests, keeps connections alive, serialises pipelined requests and
gives handlers a `Connection` to answer with a whole body or a chunked stream. It does no routing.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus

import httptools

log = logging.getLogger(__name__)


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    arrival_s: float


Handler = Callable[["Request", "Connection"], Awaitable[None]]

_date_cache: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    global _date_cache  # one formatted Date per second serves every connection
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True).encode())
    return _date_cache[1]


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()


class Connection(asyncio.Protocol):
    """One client connection: parses requests and writes responses."""

    def __init__(self, handler: Handler, on_open: Callable[[Connection], None],
                 on_close: Callable[[Connection], None]) -> None:
        self._handler = handler
        self._on_open = on_open
        self._on_close = on_close
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._queue: list[Request] = []
        self._busy = False
        self._keep_alive = True
        self.closed = False
        self.disconnected = asyncio.Event()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self._on_open(self)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.send(400, b'{"detail":"Invalid HTTP request"}')
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.disconnected.set()
        self._on_close(self)

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        path = httptools.parse_url(self._url).path.decode("latin-1")
        method = self._parser.get_method().decode()
        request = Request(method, path, self._headers, b"".join(self._body), time.monotonic())
        self._keep_alive = self._parser.should_keep_alive()
        self._queue.append(request)
        if not self._busy:
            self._next()

    def _next(self) -> None:
        if not self._queue or self.closed:
            return
        self._busy = True
        task = asyncio.get_running_loop().create_task(self._handler(self._queue.pop(0), self))
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._busy = False
        if not task.cancelled() and task.exception() is not None:
            log.error("request handler failed", exc_info=task.exception())
            self.close()
            return
        if not self._keep_alive:
            self.close()
            return
        self._next()

    # responses
    def send(self, status: int, body: bytes, content_type: bytes = b"application/json",
             headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Write a complete response."""
        head = [_status_line(status), b"date: ", _date_header(), b"\r\nserver: uvicorn\r\n",
                b"content-length: ", str(len(body)).encode(), b"\r\ncontent-type: ",
                content_type, b"\r\n"]
        head.extend(f"{k}: {v}\r\n".encode() for k, v in headers)
        head.append(b"\r\n")
        self.write(b"".join(head) + body)

    def start_stream(self, headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Write the head of a 200 `text/event-stream` response with chunked encoding."""
        head = [_status_line(200), b"date: ", _date_header(),
                b"\r\nserver: uvicorn\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                b"transfer-encoding: chunked\r\n"]
        head.extend(f"{k}: {v}\r\n".encode() for k, v in headers)
        head.append(b"\r\n")
        self.write(b"".join(head))

    def write_chunks(self, *events: bytes) -> None:
        """Write each event as its own HTTP chunk, in one socket write."""
        self.write(b"".join(b"%x\r\n%b\r\n" % (len(e), e) for e in events))

    def end_stream(self) -> None:
        """Write the terminating zero-length chunk."""
        self.write(b"0\r\n\r\n")

    def write(self, data: bytes) -> None:
        """Write raw bytes unless the client has gone."""
        if not self.closed and self._transport is not None:
            self._transport.write(data)

    def close(self) -> None:
        """Close after flushing what was written."""
        if self._transport is not None and not self.closed:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once (used to emulate a crashed engine)."""
        if self._transport is not None:
            self._transport.abort()
