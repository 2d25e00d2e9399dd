"""The answer first: one row per strategy, columns with units, the best of each column and the
significant differences from the baseline marked.

Only selection, averaging over repeats and layout of numbers the analysis computed
(`BenchmarkResult.summary` and `.versus_baseline`); the HTML page and the terminal both render
the `leaderboard` part of the benchmark document this module builds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from brixcheck.analysis import BenchmarkResult
from brixcheck.analysis.paired import PairedDifference


@dataclass(frozen=True)
class Column:
    """One column of the table: which summary column, how it is headed and which way is good."""

    key: str
    heading: str
    unit: str
    better: str  # "lower" or "higher"
    short: str = ""  # terminal heading, with unit
    scale: float = 1.0  # fraction -> percent
    digits: int = 1


LATENCY = tuple(Column(f"{m}_p{p}", f"{name} p{p}", "ms", "lower", f"{name} p{p} ms",
                       digits=digits)
                for m, name, digits, ps in (("ttft_ms", "TTFT", 1, (50, 90, 99)),
                                            ("itl_ms", "ITL", 2, (50, 99)),
                                            ("e2e_ms", "E2E", 0, (50, 90, 99)))
                for p in ps)
OTHER = (
    Column("output_tokens_per_s", "output", "tokens/s", "higher", "out tok/s"),
    Column("goodput_fraction", "goodput", "% requests", "higher", "goodput %", 100.0),
    Column("prefix_hit_rate", "prefix hits", "% prompt tokens", "higher",
           "prefix hit %", 100.0),
    Column("pod_requests_max_over_mean", "pod max/mean", "requests", "lower",
           "pod max/mean", digits=2),
    Column("error_rate", "errors", "% requests", "lower", "errors %", 100.0, 2),
)
COLUMNS = LATENCY + OTHER
GROUP_KEYS = ("strategy", "repeat")  # a row per strategy: repeats are averaged


def _within(row: pd.Series, columns: list[str]) -> str:
    return ", ".join(f"{c}={row[c]}" for c in columns)


def _prefix_hit_rate(summary: pd.DataFrame) -> pd.Series:
    """Client-side hit rate (cached tokens in `usage`), else the engines' counters."""
    engine = summary.get("engine_prefix_cache_hit_rate", pd.Series(math.nan, summary.index))
    return summary["prefix_cache_hit_rate"].fillna(engine)


def _table_frame(summary: pd.DataFrame, slo: str) -> pd.DataFrame:
    frame = summary.copy()
    frame["goodput_fraction"] = frame.get(f"goodput_{slo}_fraction", math.nan)
    frame["prefix_hit_rate"] = _prefix_hit_rate(frame)
    return frame


def _best(values: dict[str, float], better: str) -> set[str]:
    finite = {k: v for k, v in values.items() if v is not None and math.isfinite(v)}
    if len(finite) < 2:
        return set()
    target = min(finite.values()) if better == "lower" else max(finite.values())
    return {k for k, v in finite.items() if math.isclose(v, target, rel_tol=1e-9)}


def _difference(diff: PairedDifference) -> dict[str, Any]:
    ci = diff.interval
    return {"estimate": ci.estimate, "low": ci.low, "high": ci.high,
            "confidence": ci.confidence, "pairs": ci.n,
            "significant": bool(ci.low > 0 or ci.high < 0)}


def _slice_rows(strategy_rows: dict[str, pd.DataFrame], within: str,
                result: BenchmarkResult) -> list[dict[str, Any]]:
    diffs = {(d.first, d.metric): d for d in result.versus_baseline if d.within == within}
    values = {s: {c.key: float(rows[c.key].mean()) * c.scale for c in COLUMNS}
              for s, rows in strategy_rows.items()}
    best = {c.key: _best({s: v[c.key] for s, v in values.items()}, c.better) for c in COLUMNS}
    out = []
    for strategy, rows in strategy_rows.items():
        out.append({
            "strategy": strategy, "within": within, "repeats": len(rows),
            "baseline": strategy == result.baseline,
            "values": {k: (v if math.isfinite(v) else None) for k, v in values[strategy].items()},
            "best": [c.key for c in COLUMNS if strategy in best[c.key]],
            "versusBaseline": {m: _difference(d) for (s, m), d in diffs.items()
                               if s == strategy}})
    return out


def _rank(row: dict[str, Any]) -> tuple[float, float]:
    goodput = row["values"]["goodput_fraction"]
    ttft = row["values"]["ttft_ms_p50"]
    return (-(goodput if goodput is not None else -1.0),
            ttft if ttft is not None else math.inf)


def leaderboard(result: BenchmarkResult) -> dict[str, Any]:
    """The first-screen table as data (the `leaderboard` field of the benchmark document).

    Rows are ranked by goodput against the first SLO set (the scenario's own when it states
    them), then by TTFT p50; per rate level in a sweep. Values are means over repeats.

    Args:
        result: the analysis.

    Returns:
        `baseline`, `slo`, `columns` (key, heading, unit, better) and `rows` (strategy, within,
        repeats, baseline, values, best: column keys, versusBaseline: column key ->
        estimate/low/high/confidence/pairs/significant, in the column's unit).
    """
    slo = result.options.slos[0].name if result.options.slos else ""
    columns = [{"key": c.key, "heading": c.heading, "unit": c.unit, "better": c.better,
                "short": c.short, "digits": c.digits} for c in COLUMNS]
    summary = result.summary
    board: dict[str, Any] = {"baseline": result.baseline, "slo": slo, "columns": columns,
                             "rows": []}
    if summary.empty or "strategy" not in summary.columns:
        return board
    frame = _table_frame(summary, slo)
    within_columns = [c for c in result.options.by if c not in GROUP_KEYS]
    frame["_within"] = [_within(r, within_columns) for _, r in frame.iterrows()]
    for within, rows in frame.groupby("_within", sort=False):
        by_strategy = {str(s): r for s, r in rows.groupby("strategy", sort=True)}
        board["rows"] += sorted(_slice_rows(by_strategy, str(within), result), key=_rank)
    return board


def value_text(value: float | None, digits: int) -> str:
    """A table value: fixed digits, thousands separated, "–" when undefined."""
    return "–" if value is None else f"{value:,.{digits}f}"


def difference_text(diff: dict[str, Any], digits: int, unit: str = "") -> str:
    """A difference from the baseline with its CI: "-3.1 ms (95% CI -4.0..-2.2)", or without
    unit and level (table cells): "-3.1 (-4.0..-2.2)"."""
    interval = f"{diff['low']:+,.{digits}f}..{diff['high']:+,.{digits}f}"
    if not unit:
        return f"{diff['estimate']:+,.{digits}f} ({interval})"
    return f"{diff['estimate']:+,.{digits}f} {unit} ({diff['confidence']:.0%} CI {interval})"


def terminal_rows(board: dict[str, Any]) -> tuple[list[tuple[str, str, str]], list[dict[str, str]],
                                                  list[str]]:
    """The same table for the terminal: columns, rows of texts ("*" best, "v"/"^" significantly
    lower/higher than the baseline) and one line per significant difference with its CI."""
    columns = [(c["short"], c["key"], "{}") for c in board["columns"]]
    rows, notes = [], []
    for row in board["rows"]:
        label = row["strategy"] + (" (baseline)" if row["baseline"] else "")
        label += f" [{row['within']}]" if row["within"] else ""
        cells = {"group": label}
        for c in board["columns"]:
            text = value_text(row["values"][c["key"]], c["digits"])
            diff = row["versusBaseline"].get(c["key"])
            if diff and diff["significant"]:
                text += "v" if diff["high"] < 0 else "^"
                words = difference_text(diff, c["digits"], c["unit"])
                notes.append(f"{label} {c['short']}: {words} vs {board['baseline']}")
            cells[c["key"]] = text + ("*" if c["key"] in row["best"] else "")
        rows.append(cells)
    return columns, rows, notes
