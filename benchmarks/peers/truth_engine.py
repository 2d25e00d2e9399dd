"""Run one emulated engine that records its ground truth for *every* request.

The peer tools cannot send `x-brixcheck-ground-truth: 1`, so this wrapper runs the emulator
unchanged (`brixcheck engine run` with vLLM's flags) except that every generation request gets
ground truth on, and the truth goes to a JSON-lines file instead of the response: one line per
finished request with arrival, per-token intended and written CLOCK_MONOTONIC times, token counts
and the number of SSE events written. Clients see exactly what `brixcheck engine run` sends them
(a client that does send the header still gets the SSE comment). The extra work per token is one
`time.monotonic()` call, which the emulator makes anyway for clients that ask.

Usage: python -m benchmarks.peers.truth_engine --truth FILE [--log FILE] -- [vLLM args]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from brixcheck.engine import server, sink
from brixcheck.engine.engine_cli import run_engine
from brixcheck.engine.http import Request

_out: IO[str] | None = None
_asked: set[str] = set()  # request ids whose client sent the header itself
_orig_meta = server.Engine._meta
_orig_end_stream = sink.ResponseSink._end_stream
_orig_send_whole = sink.ResponseSink._send_whole


def _record(resp: sink.ResponseSink, extra: dict[str, Any]) -> None:
    if _out is None:
        return
    truth = resp.truth()
    truth.update(request_id=resp.meta.request_id, kind=resp.req.kind, stream=resp.req.stream,
                 finished_s=time.monotonic(), **extra)
    _out.write(json.dumps(truth, separators=(",", ":")) + "\n")


def _meta(self: server.Engine, kind: str, req: Request) -> sink.ResponseMeta:
    meta = _orig_meta(self, kind, req)
    if meta.ground_truth:
        _asked.add(meta.request_id)
    return dataclasses.replace(meta, ground_truth=True)


def _end_stream(self: sink.ResponseSink) -> None:
    events = self.seq.num_output + (self.req.kind == "chat") + self.req.include_usage + 1
    _record(self, {"sse_events": events})
    if self.meta.request_id in _asked:
        _asked.discard(self.meta.request_id)
        _orig_end_stream(self)
    else:
        self.conn.end_stream()


def _send_whole(self: sink.ResponseSink) -> None:
    asked = self.meta.request_id in _asked
    _asked.discard(self.meta.request_id)
    if not asked:
        self.meta = dataclasses.replace(self.meta, ground_truth=False)
    _orig_send_whole(self)
    if not asked:
        self._written_s.append(time.monotonic())
    _record(self, {"sse_events": 0})


def install(truth_path: Path) -> None:
    """Patch the emulator classes so that every request's truth lands in `truth_path`."""
    global _out
    _out = truth_path.open("w", buffering=1 << 20)
    server.Engine._meta = _meta  # type: ignore[method-assign]
    sink.ResponseSink._end_stream = _end_stream  # type: ignore[method-assign]
    sink.ResponseSink._send_whole = _send_whole  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truth", type=Path, required=True, help="JSON-lines output")
    parser.add_argument("--log", type=Path, default=None, help="engine log (default stderr)")
    parser.add_argument("engine_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = [a for a in args.engine_args if a != "--"]
    install(args.truth)
    try:
        return run_engine(argv, args.log)
    finally:
        if _out is not None:
            _out.close()


if __name__ == "__main__":
    sys.exit(main())
