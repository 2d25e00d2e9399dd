"""Per-request records, written to disk as they happen (JSON lines).

Every number in a report is computed from these records, never from a tool's rounded summary.
Times are CLOCK_MONOTONIC seconds (`time.monotonic()`), the clock the engine emulator's ground
truth uses too, so the two can be compared request by request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


@dataclass
class RequestRecord:
    """One request as the client saw it."""

    request_id: str
    scenario: str
    strategy: str
    intended_s: float
    sent_s: float = 0.0
    headers_s: float | None = None
    status: int = 0
    error: str = ""
    error_header: str = ""
    target_pod: str = ""
    token_times_s: list[float] = field(default_factory=list)
    chunk_tokens: list[int] = field(default_factory=list)
    done_s: float | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    truth: dict[str, Any] | None = None


class RecordWriter:
    """Appends records to a JSON-lines file, one line per finished request.

    Line-buffered: each record reaches the operating system when its request finishes, so a
    generator that is interrupted or killed (even SIGKILL) loses only the requests still in
    flight, never finished ones sitting in a buffer.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a", buffering=1)

    def write(self, record: RequestRecord) -> None:
        """Append one record."""
        # vars(), not asdict(): asdict deep-copies every token time, and a record is flat.
        self._file.write(json.dumps(vars(record), separators=(",", ":")) + "\n")

    def close(self) -> None:
        """Flush and close."""
        self._file.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """All records of a JSON-lines file; a truncated last line (run killed) is skipped."""
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
