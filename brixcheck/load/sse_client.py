"""Streaming chat requests with every SSE event timestamped as it comes off the socket.

Uses geventhttpclient (Locust's FastHttpUser transport) directly, reading the body line by line
with an explicit "\\n" separator: Locust's own response timing ends at the headers for streams,
and its default line reader splits on CRLF and swallows bare-LF SSE bodies. A token event is a
`data:` event whose choice carries non-empty `delta.content` (or completion `text`); role-only
and usage-only events are not tokens. With `continuous_usage_stats` each event's token count is
taken from the server's usage, so several tokens in one chunk are counted right.
"""

from __future__ import annotations

import json
import time
from typing import Any

from geventhttpclient import HTTPClient

from brixcheck.load.records import RequestRecord

GROUND_TRUTH_HEADER = "x-brixcheck-ground-truth"
GROUND_TRUTH_MARK = b": brixcheck-ground-truth "
DONE = b"data: [DONE]"


def _has_token(choice: dict[str, Any]) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(delta.get("content") or delta.get("reasoning_content"))
    return bool(choice.get("text"))


_CHAT_TOKEN = b'"delta":{"content":"'
_TEXT_TOKEN = b'"text":"'
_COMPLETION_TOKENS = b'"completion_tokens":'


def _completion_tokens(payload: bytes) -> int | None:
    start = payload.find(_COMPLETION_TOKENS)
    if start < 0:
        return None
    start += len(_COMPLETION_TOKENS)
    end = start
    while end < len(payload) and payload[end:end + 1].isdigit():
        end += 1
    return int(payload[start:end]) if end > start else None


def _fast_token(record: RequestRecord, payload: bytes, now: float) -> bool:
    """Handle the common vLLM token event without a JSON parse; False when it is not one."""
    for marker in (_CHAT_TOKEN, _TEXT_TOKEN):
        at = payload.find(marker)
        if at >= 0 and payload[at + len(marker):at + len(marker) + 1] != b'"':
            previous = record.output_tokens or 0
            reported = _completion_tokens(payload)
            record.token_times_s.append(now)
            record.chunk_tokens.append(max(1, reported - previous) if reported else 1)
            record.output_tokens = previous + record.chunk_tokens[-1]
            return True
    return False


def _on_event(record: RequestRecord, payload: bytes, now: float) -> None:
    if b'"choices":[]' not in payload and _fast_token(record, payload, now):
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


def _read_stream(record: RequestRecord, response: Any) -> None:
    arrived = time.monotonic()
    while True:
        # A line already in the buffer came with the last socket read: stamp it with that
        # read's time, not with when parsing got round to it.
        buffered = b"\n" in getattr(response, "_body_buffer", b"")
        line = response.readline(b"\n")
        if not buffered:
            arrived = time.monotonic()
        now = arrived
        if not line:
            return
        if line.startswith(b"data: {"):
            _on_event(record, line[6:], now)
        elif line.startswith(DONE):
            record.done_s = now
        elif line.startswith(GROUND_TRUTH_MARK):
            record.truth = json.loads(line[len(GROUND_TRUTH_MARK):])


def stream_chat(client: HTTPClient, path: str, body: bytes, headers: dict[str, str],
                record: RequestRecord) -> RequestRecord:
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
            _read_stream(record, response)
        else:
            record.error = response.read()[:300].decode(errors="replace")
    except (OSError, ValueError) as exc:
        record.error = f"{type(exc).__name__}: {exc}"
    finally:
        response.release()
    if record.status == 200 and not record.token_times_s and not record.error:
        record.error = "stream ended without a token"
    return record
