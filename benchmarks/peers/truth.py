"""The emulator's ground truth for one run, and pairing it with a tool's records."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers.common import PeerRecord


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class TruthRequest:
    """One streamed request as the emulator served it (times in CLOCK_MONOTONIC s, ms)."""

    request_id: str
    arrival_s: float  # the request was fully read
    finished_s: float
    ttft_ms: float  # first token's write - arrival
    itl_ms: float | None  # (last write - first write) / (tokens - 1)
    gaps_ms: tuple[float, ...]
    sse_events: int
    output_tokens: int
    emit_lag_ms: tuple[float, ...] = ()  # each token's write - its intended time (server lag)


@dataclass
class Truth:
    """Every streamed request the emulator finished in one run."""

    requests: list[TruthRequest] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def ttft_ms(self) -> list[float]:
        return [r.ttft_ms for r in self.requests]

    @property
    def itl_ms(self) -> list[float]:
        return [r.itl_ms for r in self.requests if r.itl_ms is not None]

    @property
    def gaps_ms(self) -> list[float]:
        return [g for r in self.requests for g in r.gaps_ms]

    @property
    def emit_lag_ms(self) -> list[float]:
        return [g for r in self.requests for g in r.emit_lag_ms]

    @property
    def first_arrival_s(self) -> float:
        return min(r.arrival_s for r in self.requests)

    @property
    def last_finish_s(self) -> float:
        return max(r.finished_s for r in self.requests)

    @property
    def window_s(self) -> float:
        return max(1e-9, self.last_finish_s - self.first_arrival_s)

    @property
    def sse_events(self) -> int:
        return sum(r.sse_events for r in self.requests)

    def arrival_rate(self) -> float | None:
        """Requests/s as the server saw them arrive: (n - 1) / (last - first arrival)."""
        arrivals = [r.arrival_s for r in self.requests]
        if len(arrivals) < 2 or max(arrivals) <= min(arrivals):
            return None
        return (len(arrivals) - 1) / (max(arrivals) - min(arrivals))

    def events_per_s(self) -> float:
        return self.sse_events / self.window_s

    def after(self, start_s: float) -> Truth:
        """Only the requests that arrived at or after `start_s` (warm-up cut)."""
        return Truth([r for r in self.requests if r.arrival_s >= start_s])


def _request(line: dict[str, Any]) -> TruthRequest:
    written = line["token_written_s"]
    gaps = tuple((b - a) * 1e3 for a, b in itertools.pairwise(written))
    itl = (written[-1] - written[0]) / (len(written) - 1) * 1e3 if len(written) > 1 else None
    lag = tuple((w - i) * 1e3 for w, i in zip(written, line["token_intended_s"], strict=False))
    return TruthRequest(line["request_id"], line["arrival_s"], line.get("finished_s", written[-1]),
                        (written[0] - line["arrival_s"]) * 1e3, itl, gaps,
                        line.get("sse_events", 0), line["output_tokens"], lag)


def load_truth(path: Path) -> Truth:
    """Read the truth_engine's JSON lines (streamed requests only), in arrival order."""
    lines = [json.loads(t) for t in path.read_text().splitlines() if t.strip()]
    requests = [_request(ln) for ln in lines if ln.get("stream") and ln.get("token_written_s")]
    return Truth(sorted(requests, key=lambda r: r.arrival_s))


def pair(records: list[PeerRecord], truth: Truth) -> list[tuple[PeerRecord, TruthRequest]]:
    """Match each successful tool record with the server's request.

    By id where the tool sent `x-request-id` (or reports the response id); otherwise by order
    (tool start times vs server arrivals) when the counts agree. Empty when neither works.
    """
    ok = [r for r in records if r.ok]
    by_id = {t.request_id: t for t in truth.requests}
    if ok and all(r.request_id in by_id for r in ok):
        return [(r, by_id[r.request_id]) for r in ok]  # type: ignore[index]
    if ok and len(ok) == truth.count and all(r.start_s is not None for r in ok):
        ordered = sorted(ok, key=lambda r: r.start_s or 0.0)
        return list(zip(ordered, truth.requests, strict=True))
    return []
