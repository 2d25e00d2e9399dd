"""Each tool's capacity: its highest sustained level per load-generator core, and brixcheck's
ratio to it (the issue's goal: at least 1.5x the best peer at equal or better accuracy).

A level is sustained when it and every level below it passed (p99 TTFT error within the bound,
>= 90 % of the target rate). Load per core = that level's rate / the tool's CPU cores there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from benchmarks.peers.common import fmt

OURS = "brixcheck"


class _Row(Protocol):
    tool: str
    target: float
    kind: str
    passed: bool
    tool_cpu_cores: float | None
    ttft_err_p99_ms: float | None
    itl_err_p99_ms: float | None


@dataclass(frozen=True)
class Capacity:
    """One tool at its highest sustained level."""

    tool: str
    level: float
    kind: str
    cores: float | None
    ttft_err_p99_ms: float | None
    itl_err_p99_ms: float | None

    @property
    def per_core(self) -> float | None:
        """Requests/s (or users) per load-generator core at that level."""
        return self.level / self.cores if self.cores else None


def capacities(rows: list[_Row]) -> list[Capacity]:
    """Per tool, in the rows' order: the highest level with every level up to it passed."""
    found = []
    for tool in dict.fromkeys(r.tool for r in rows):
        last = None
        for row in sorted((r for r in rows if r.tool == tool), key=lambda r: r.target):
            if not row.passed:
                break
            last = row
        if last is not None:
            found.append(Capacity(tool, last.target, last.kind, last.tool_cpu_cores,
                                  last.ttft_err_p99_ms, last.itl_err_p99_ms))
    return found


def capacity_table(rows: list[_Row]) -> str:
    """Markdown: each tool's sustained level, cores, load per core, accuracy, brixcheck's ratio."""
    caps = capacities(rows)
    ours = next((c for c in caps if c.tool == OURS), None)
    lines = ["| tool | highest sustained level | tool CPU there (cores) | load per core | "
             "p99 TTFT error there (ms) | p99 ITL error there (ms) | brixcheck / tool, per core |",
             "|---|---|---|---|---|---|---|"]
    for cap in caps:
        ratio = (ours.per_core / cap.per_core if ours and ours.per_core and cap.per_core
                 else None)
        unit = "req/s" if cap.kind == "rate" else "users"
        lines.append(f"| {cap.tool} | {cap.level:g} {unit} | {fmt(cap.cores, '.2f')} | "
                     f"{fmt(cap.per_core, ',.0f')} {unit} | {fmt(cap.ttft_err_p99_ms, '+.1f')} | "
                     f"{fmt(cap.itl_err_p99_ms, '+.2f')} | "
                     f"{'—' if cap.tool == OURS else fmt(ratio, '.2f') + 'x'} |")
    return "\n".join(lines)
