"""The emulator's faults, switched at run time through its control port (``/brixcheck/faults``).

Each one breaks exactly one promise a gateway case checks, so a twin test can show the case
failing with its remedy: a strategy degraded to random, a `target-pod` naming another pod than
the one that served, vtc-basic's token counters frozen, a wrong `x-error-*` header name or
value, added latency per request, and a crash (the process exits; the twin restarts it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

WRONG_VALUE = "brixcheck-fault"
ERROR_HEADER_MODES = ("", "name", "value")


@dataclass
class Faults:
    """What is broken now; all off by default."""

    degraded: list[str] = field(default_factory=list)
    wrong_target: bool = False
    vtc_frozen: bool = False  # vtc-basic's token counters stop counting
    error_header: str = ""  # "name": x-error-* renamed; "value": its value replaced
    latency_s: float = 0.0
    crash: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object of field changes; unknown fields or bad values raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; known: {sorted(known)}")
        if changes.get("error_header", "") not in ERROR_HEADER_MODES:
            raise ValueError(f"error_header must be one of {ERROR_HEADER_MODES}")
        for name, value in changes.items():
            setattr(self, name, value)
        self.degraded = [str(n) for n in self.degraded]
        self.latency_s = float(self.latency_s)
        self.vtc_frozen = bool(self.vtc_frozen)


def apply_error_fault(answer: pb.ProcessingResponse, mode: str) -> None:
    """Rename (mode "name") or re-value ("value") every x-error-* header of an error answer."""
    for option in answer.immediate_response.headers.set_headers:
        if not option.header.key.startswith("x-error-"):
            continue
        if mode == "name":
            option.header.key = "x-error-" + WRONG_VALUE
        else:
            option.header.raw_value = WRONG_VALUE.encode()
