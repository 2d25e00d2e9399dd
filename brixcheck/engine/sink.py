"""Writes one request's tokens to its client, streamed or whole, with optional ground truth.

Ground truth: when the request carries `x-brixcheck-ground-truth: 1`, the emulator reports its
own timings for that request (CLOCK_MONOTONIC seconds, comparable with `time.monotonic()` in any
process on the same machine): arrival, first scheduling, each token's intended emit time (the
end of the step that produced it) and when its write to the socket began. A streamed
response carries them in an SSE comment after `data: [DONE]` (SSE parsers skip comments); a
whole response carries them as a top-level `brixcheck_ground_truth` field.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

from brixcheck.engine.api import DONE, ChunkWriter, GenerationRequest, full_response, usage_json
from brixcheck.engine.http import Connection
from brixcheck.engine.kv_connector import NixlConnector
from brixcheck.engine.scheduler import Sequence

GROUND_TRUTH_HEADER = "x-brixcheck-ground-truth"
GROUND_TRUTH_COMMENT = b": brixcheck-ground-truth "


@dataclass(frozen=True)
class ResponseMeta:
    """Identity of a response: id, creation time, model name, cached-token reporting."""

    request_id: str
    created: int
    model: str
    report_cached: bool
    ground_truth: bool
    engine: str


class ResponseSink:
    """Receives a sequence's tokens from the engine core and answers its client."""

    def __init__(self, conn: Connection, req: GenerationRequest, seq: Sequence,
                 meta: ResponseMeta, connector: NixlConnector | None = None) -> None:
        self.conn = conn
        self.req = req
        self.seq = seq
        self.meta = meta
        self.connector = connector
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer = ChunkWriter(req.kind, meta.request_id, meta.created, meta.model)
        self._pieces: list[str] = []
        self._written_s: list[float] = []

    def start(self) -> None:
        """Send the stream head now, as vLLM does before the first token."""
        if self.req.stream:
            self.conn.start_stream()

    def token(self, piece: str) -> None:
        """Write the newest token of the sequence (and the ending, if it was the last)."""
        if self.req.stream:
            if self.meta.ground_truth:
                self._written_s.append(time.monotonic())  # stamped as the write starts
            self._stream_token(piece)
        else:
            self._pieces.append(piece)
            if self.seq.finished:
                self._send_whole()
        if self.seq.finished:
            if self.req.stream:
                self._end_stream()
            if not self.done.done():
                self.done.set_result(None)

    def _stream_token(self, piece: str) -> None:
        seq, prompt = self.seq, len(self.seq.prompt_ids)
        continuous = self.req.continuous_usage
        events = []
        if seq.num_output == 1 and self.req.kind == "chat":
            events.append(self._writer.role(usage_json(prompt, 0) if continuous else None))
        usage = usage_json(prompt, seq.num_output, details_key=self.req.kind != "chat") \
            if continuous else None
        reason = seq.stop_reason if seq.finished else None
        events.append(self._writer.token(piece, reason, usage))
        if seq.finished:
            if self.req.include_usage:
                events.append(self._writer.usage(self._final_usage()))
            events.append(DONE)
        self.conn.write_chunks(*events)

    def _end_stream(self) -> None:
        if self.meta.ground_truth:
            self.conn.write_chunks(GROUND_TRUTH_COMMENT + self._truth_json().encode() + b"\n\n")
        self.conn.end_stream()

    def _send_whole(self) -> None:
        kv_params = None if self.connector is None else self.connector.finished_params(
            self.req.kv_transfer_params, self.seq.stop_reason, self.seq.finished_block_ids)
        body = full_response(self.req, self.meta.request_id, self.meta.created, self.meta.model,
                             "".join(self._pieces), self.seq.stop_reason, self._final_usage(),
                             kv_params)
        if self.meta.ground_truth:
            self._written_s.append(time.monotonic())
            body["brixcheck_ground_truth"] = self.truth()
        self.conn.send(200, json.dumps(body).encode())

    def _final_usage(self) -> str:
        cached = self.seq.num_cached if self.meta.report_cached else None
        return usage_json(len(self.seq.prompt_ids), self.seq.num_output, cached)

    def truth(self) -> dict[str, object]:
        """The emulator's own timings of this request."""
        seq = self.seq
        return {
            "clock": "CLOCK_MONOTONIC",
            "engine": self.meta.engine,
            "arrival_s": seq.arrival_s,
            "scheduled_s": seq.first_scheduled_s,
            "token_intended_s": seq.token_times_s,
            "token_written_s": self._written_s,
            "prompt_tokens": len(seq.prompt_ids),
            "cached_tokens": seq.num_cached,
            "output_tokens": seq.num_output,
        }

    def _truth_json(self) -> str:
        return json.dumps(self.truth(), separators=(",", ":"))
