"""What a benchmark shows in the terminal: a line of progress per run while Locust runs, and a
per-scenario summary table with units at the end, in the spirit of `vllm bench serve`.

Progress comes from Locust's own periodic stats CSV (`--csv`), which it rewrites every second,
so no record file is read while it is being written.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from brixcheck.report.leaderboard import terminal_rows

STATS_PREFIX = "locust"  # Locust writes <records>/locust_stats.csv
# (heading, summary column, format)
COLUMNS = (
    ("requests", "requests", "{:.0f}"),
    ("errors", "failed_requests", "{:.0f}"),
    ("TTFT p50 ms", "ttft_ms_p50", "{:.1f}"),
    ("TTFT p99 ms", "ttft_ms_p99", "{:.1f}"),
    ("ITL p50 ms", "itl_ms_p50", "{:.2f}"),
    ("ITL p99 ms", "itl_ms_p99", "{:.2f}"),
    ("out tok/s", "output_tokens_per_s", "{:.1f}"),
)


def locust_counts(records: Path) -> tuple[int, int]:
    """Requests and failures so far, from Locust's stats CSV ((0, 0) before its first write)."""
    path = records / f"{STATS_PREFIX}_stats.csv"
    try:
        with path.open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("Name") == "Aggregated"]
    except (OSError, csv.Error):
        return 0, 0
    if not rows:
        return 0, 0
    return int(rows[-1].get("Request Count") or 0), int(rows[-1].get("Failure Count") or 0)


def progress_line(label: str, rate: str, elapsed_s: float, duration_s: float,
                  counts: tuple[int, int]) -> str:
    """One progress line of a running load."""
    return (f"[load] {label}: {rate}, {elapsed_s:.0f} s of {duration_s:.0f} s, "
            f"{counts[0]} requests done, {counts[1]} errors")


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def summary_table(scenario: str, rows: Sequence[dict[str, Any]], report: Path,
                  columns: Sequence[tuple[str, str, str]] = COLUMNS) -> list[str]:
    """The table of one scenario: a row per group (strategy, repeat, level), units in heads.

    `columns` are (heading, row key, format); a row's `group` labels it.
    """
    width = max([len(str(r.get("group", ""))) for r in rows] + [5])
    cells = [[_cell(r.get(col), fmt) for _, col, fmt in columns] for r in rows]
    widths = [max([11, len(h)] + [len(c[i]) for c in cells])
              for i, (h, _, _) in enumerate(columns)]
    head = f"{'group':<{width}}" + "".join(f"  {h:>{w}}" for (h, _, _), w in
                                            zip(columns, widths, strict=True))
    lines = [f"{' benchmark ' + scenario + ' ':=^{len(head)}}", head]
    for row, texts in zip(rows, cells, strict=True):
        lines.append(f"{row.get('group', '')!s:<{width}}"
                     + "".join(f"  {t:>{w}}" for t, w in zip(texts, widths, strict=True)))
    lines.append(f"benchmark report: {report}")
    return lines


def leaderboard_table(scenario: str, board: dict[str, Any], report: Path) -> list[str]:
    """The report's first-screen table (one row per strategy) in the terminal, then a legend
    and each significant difference from the baseline with its confidence interval."""
    columns, rows, notes = terminal_rows(board)
    lines = summary_table(scenario, rows, report, columns)
    legend = (f"ranked by goodput ({board['slo']} SLOs), then TTFT p50; * best of its column; "
              f"v/^ significantly lower/higher than the baseline {board['baseline']}")
    return [*lines[:-1], legend, *notes, lines[-1]]
