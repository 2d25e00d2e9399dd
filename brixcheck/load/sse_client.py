"""Streaming chat requests with every SSE event timestamped as it comes off the socket.

Uses geventhttpclient (Locust's FastHttpUser transport) directly, with its HTTP parser but our
own read loop: Locust's response timing ends at the headers for streams, its line reader splits
on CRLF (SSE bodies use bare LF), and reading line by line costs a call per line. A token event is a
`data:` event whose choice carries non-empty `delta.content` (or completion `text`); role-only
and usage-only events are not tokens. With `continuous_usage_stats` each event's token count is
taken from the server's usage, so several tokens in one chunk are counted right.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import gevent
from geventhttpclient import HTTPClient

from brixcheck.load.records import RequestRecord

GROUND_TRUTH_HEADER = "x-brixcheck-ground-truth"
GROUND_TRUTH_MARK = b": brixcheck-ground-truth "
DONE = b"data: [DONE]"
READ_SIZE = 1 << 16


def _has_token(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(delta.get("content") or delta.get("reasoning_content"))
    return bool(choice.get("text"))


# A vLLM token event: a chat delta or completion text that is not empty, with running usage.
# bytes.find and a regex anchored at one place run in C: the common event needs no JSON parse.
_TOKEN_MARKERS = (b'"delta":{"content":"', b'"text":"')
_COMPLETION_TOKENS = b'"completion_tokens":'
_DIGITS = re.compile(rb"\d+")


def _is_token_event(payload: bytes) -> bool:
    for marker in _TOKEN_MARKERS:
        at = payload.find(marker)
        if at >= 0:
            start = at + len(marker)
            return payload[start:start + 1] not in (b'"', b"")  # empty content: no token
    return False


def _fast_token(record: RequestRecord, payload: bytes, now: float) -> bool:
    """Handle the common vLLM token event without a JSON parse; False when it is not one."""
    if not _is_token_event(payload):
        return False
    previous = record.output_tokens or 0
    at = payload.rfind(_COMPLETION_TOKENS)
    usage = _DIGITS.match(payload, at + len(_COMPLETION_TOKENS)) if at >= 0 else None
    chunk = max(1, int(usage[0]) - previous) if usage else 1
    record.token_times_s.append(now)
    record.chunk_tokens.append(chunk)
    record.output_tokens = previous + chunk
    return True


def _on_event(record: RequestRecord, payload: bytes, now: float) -> None:
    if _fast_token(record, payload, now):
        return
    event = json.loads(payload)
    if "error" in event and not event.get("choices"):
        record.error = str(event["error"])[:300]
        return
    usage = event.get("usage") or {}
    choices = event.get("choices") or []
    if choices and _has_token(choices[0]):
        previous = record.output_tokens or 0
        record.token_times_s.append(now)
        record.chunk_tokens.append(max(1, usage.get("completion_tokens", previous + 1) - previous))
        record.output_tokens = previous + record.chunk_tokens[-1]
    if usage and not choices:
        record.prompt_tokens = usage.get("prompt_tokens")
        record.output_tokens = usage.get("completion_tokens")
        record.cached_tokens = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")


def _on_lines(record: RequestRecord, block: bytes, now: float) -> None:
    for line in block.split(b"\n"):
        if line.startswith(b"data: {"):
            _on_event(record, line[6:], now)
        elif line.startswith(DONE):
            record.done_s = now
        elif line.startswith(GROUND_TRUTH_MARK):
            record.truth = json.loads(line[len(GROUND_TRUTH_MARK):])


def _recv_when_readable(sock: Any) -> bytes:
    """Wait for the socket to be readable, then read it once.

    gevent's own recv() tries first and waits on EAGAIN; between two token events the socket is
    almost always empty, so that costs a failed system call and an exception per event.
    """
    while True:
        sock._wait(sock._read_event)
        try:
            return sock._sock.recv(READ_SIZE)
        except BlockingIOError:
            continue


def _read_stream(record: RequestRecord, response: Any) -> None:
    """Read the body one socket read at a time; every line of a read gets that read's time.

    geventhttpclient's parser (llhttp) decodes the chunked body into `_body_buffer`; taking all
    complete lines after each read costs one split per read instead of a readline per line.
    """
    body: bytearray = response._body_buffer
    sock = response._sock
    now = time.monotonic()
    while not response.message_complete and sock is not None:
        end = body.rfind(b"\n")
        if end >= 0:
            block = bytes(body[:end])
            del body[:end + 1]
            _on_lines(record, block, now)
        data = _recv_when_readable(sock)
        now = time.monotonic()
        if not data:
            break
        response.feed(data)
    _on_lines(record, bytes(body), now)
    del body[:]


def _read_untimed(record: RequestRecord, response: Any, limit_s: float) -> None:
    """Read the stream under one deadline instead of a gevent timer per socket read."""
    sock = response._sock
    timeout = sock.gettimeout() if sock is not None else None
    if sock is not None:
        sock.settimeout(None)
    try:
        with gevent.Timeout(limit_s, TimeoutError(f"stream still open after {limit_s:g} s")):
            _read_stream(record, response)
    finally:
        if sock is not None:
            sock.settimeout(timeout)


def stream_chat(client: HTTPClient, path: str, body: bytes, headers: dict[str, str],
                record: RequestRecord, stream_timeout_s: float = 300.0) -> RequestRecord:
    """Send one streaming request and fill `record` with what arrived and when."""
    record.sent_s = time.monotonic()
    try:
        response = client.request("POST", path, body=body, headers=headers)
    except OSError as exc:
        record.error = f"{type(exc).__name__}: {exc}"
        return record
    record.headers_s = time.monotonic()
    record.status = response.status_code
    record.target_pod = response.get("target-pod", "") or ""
    record.error_header = next((f"{k}: {v}" for k, v in response.items()
                                if k.lower().startswith("x-error-")), "")
    try:
        if record.status == 200:
            _read_untimed(record, response, stream_timeout_s)
        else:
            record.error = response.read()[:300].decode(errors="replace")
    except (OSError, ValueError, gevent.Timeout) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        response.release()
    if record.status == 200 and not record.token_times_s and not record.error:
        record.error = "stream ended without a token"
    return record
