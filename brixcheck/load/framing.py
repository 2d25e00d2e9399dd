"""Records carried out of a pod through its log: framed JSON lines, checked on the way back.

An in-cluster worker has no volume the suite can read, but its log is kept after the container
ends. At the end of its run the worker prints its records between a begin line (worker index,
its clock offset) and an end line (the count); every record line carries a marker, so Locust's
own output between them is ignored. Reading back checks the count, so a log that was cut
(rotated, truncated) is an error, never a silently smaller sample.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

BEGIN = "brixcheck-records-begin "
RECORD = "brixcheck-record "
END = "brixcheck-records-end "
# Record fields in CLOCK_MONOTONIC seconds of the worker that wrote them (engine truth excepted).
TIME_FIELDS = ("intended_s", "sent_s", "headers_s", "done_s")


def clock_offset_s() -> float:
    """Wall clock minus CLOCK_MONOTONIC now: what maps this host's monotonic times to wall time."""
    return time.time() - time.monotonic()


def frame(worker: int, record_lines: Iterable[str], offset_s: float) -> Iterator[str]:
    """The lines (without newline) a worker prints for its finished records."""
    yield BEGIN + json.dumps({"worker": worker, "clock_offset_s": offset_s})
    count = 0
    for line in record_lines:
        if line.strip():
            count += 1
            yield RECORD + line.strip()
    yield END + json.dumps({"worker": worker, "count": count})


@dataclass
class Share:
    """One worker's records as read back from its log."""

    worker: int
    clock_offset_s: float
    records: list[dict[str, Any]] = field(default_factory=list)


def unframe(log: str) -> list[Share]:
    """Every complete framed share in a log; an unfinished or miscounted one raises ValueError."""
    shares: list[Share] = []
    current: Share | None = None
    for raw in log.splitlines():
        line = raw.rstrip("\r")
        if line.startswith(BEGIN):
            head = json.loads(line[len(BEGIN):])
            current = Share(int(head["worker"]), float(head["clock_offset_s"]))
        elif line.startswith(RECORD) and current is not None:
            current.records.append(json.loads(line[len(RECORD):]))
        elif line.startswith(END):
            tail = json.loads(line[len(END):])
            if current is None or len(current.records) != int(tail["count"]):
                seen = 0 if current is None else len(current.records)
                raise ValueError(f"worker {tail['worker']}: {seen} of {tail['count']} records "
                                 "in the log (cut or rotated)")
            shares.append(current)
            current = None
    if current is not None:
        raise ValueError(f"worker {current.worker}: records begin but never end (log cut)")
    return shares


def rebase(record: dict[str, Any], shift_s: float) -> dict[str, Any]:
    """The record with its own times moved by `shift_s` (onto another host's monotonic clock)."""
    out = dict(record)
    for name in TIME_FIELDS:
        if out.get(name) is not None and (name != "sent_s" or out[name]):
            out[name] = out[name] + shift_s
    out["token_times_s"] = [t + shift_s for t in out.get("token_times_s") or []]
    return out


def merged(shares: list[Share]) -> list[dict[str, Any]]:
    """All shares' records on the clock of the lowest-indexed worker (wall clocks as the bridge).

    Latencies are differences within one record and do not move; only positions across records
    (warm-up cut, windows) need a common clock, to the accuracy of the nodes' clock sync.
    """
    if not shares:
        return []
    reference = min(shares, key=lambda s: s.worker).clock_offset_s
    return [rebase(r, s.clock_offset_s - reference) for s in shares for r in s.records]
