"""The peer comparison's capacity table: highest sustained level per core and brixcheck's ratio."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.peers.capacity import capacities, capacity_table


@dataclass
class _Row:
    tool: str
    target: float
    passed: bool
    tool_cpu_cores: float | None
    ttft_err_p99_ms: float | None = 1.0
    itl_err_p99_ms: float | None = 0.0
    kind: str = "rate"


ROWS = [_Row("brixcheck", 100, True, 0.2), _Row("brixcheck", 300, True, 0.45),
        _Row("brixcheck", 400, False, 0.6), _Row("peer", 100, True, 0.25),
        _Row("peer", 200, False, 0.4), _Row("peer", 300, True, 0.5),
        _Row("never", 25, False, 0.1)]


def test_capacity_stops_at_the_first_failed_level():
    caps = {c.tool: c for c in capacities(ROWS)}
    assert caps["brixcheck"].level == 300
    assert caps["peer"].level == 100, "a pass above a failed level does not count"
    assert "never" not in caps
    assert round(caps["brixcheck"].per_core) == 667


def test_capacity_table_gives_brixcheck_over_each_peer_per_core():
    lines = capacity_table(ROWS).splitlines()
    peer = next(line for line in lines if line.startswith("| peer |"))
    assert "| 400 req/s |" in peer  # 100 req/s on 0.25 cores
    assert peer.endswith("| 1.67x |")  # 667 / 400
