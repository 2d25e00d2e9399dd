"""`brixcheck compare`: parse tolerances, run the gate, print, return the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from brixcheck.analysis.regression import DEFAULT_TOLERANCES, GateSettings, Tolerance
from brixcheck.errors import BrixcheckError
from brixcheck.history.gate import GateRequest, run_gate
from brixcheck.history.store import ResultsDb, history_errors
from brixcheck.report.regression import gate_text
from brixcheck.resources import default_history_db


def parse_tolerances(overrides: list[str]) -> tuple[Tolerance, ...]:
    """The default tolerances with `METRIC=PERCENT` overrides applied.

    Args:
        overrides: e.g. ["ttft_ms_p99=15"].

    Returns:
        The tolerances.

    Raises:
        BrixcheckError: for a malformed item or an unknown metric (the valid ones are listed).
    """
    by_metric = {t.metric: t for t in DEFAULT_TOLERANCES}
    for item in overrides:
        metric, _, percent = item.partition("=")
        if metric not in by_metric:
            raise BrixcheckError(f"unknown tolerance metric {metric!r}",
                                 f"choose from {', '.join(by_metric)}")
        try:
            limit = float(percent) / 100
        except ValueError:
            raise BrixcheckError(f"tolerance {item!r} is not METRIC=PERCENT",
                                 "write e.g. ttft_ms_p99=15") from None
        by_metric[metric] = dataclasses.replace(by_metric[metric], limit=limit)
    return tuple(by_metric.values())


def _check_writable(png: Path) -> None:
    """Refuse an unwritable --trend path before the comparison runs, not after."""
    folder = png.parent if str(png.parent) else Path()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path())
    if png.is_dir() or not existing.is_dir() or not os.access(existing, os.W_OK):
        raise BrixcheckError(f"--trend {png} cannot be written",
                             "pass a PNG path in a writable directory")


def list_runs(db: str) -> int:
    """Print the stored runs, oldest first; 0."""
    with history_errors(db), ResultsDb(db, read_only=True) as history:
        runs = history.runs()
    print(f"{len(runs)} runs in {db}")
    for run in runs:
        print(f"{run.run_id:<28} {run.started_at}  {run.status:<8} {run.scenario}")
    return 0


def main_compare(ns: argparse.Namespace) -> int:
    """Run the gate for parsed `compare` options and print its report.

    Args:
        ns: the options of `brixcheck compare`.

    Returns:
        1 on a significant regression, 0 otherwise.
    """
    db = ns.db or str(default_history_db())
    if ns.list:
        return list_runs(db)
    if ns.trend:
        _check_writable(Path(ns.trend))
    request = GateRequest(db, ns.baseline, ns.candidate, parse_tolerances(ns.tolerance),
                          GateSettings(alpha=ns.alpha),
                          Path(ns.trend) if ns.trend else None)
    outcome = run_gate(request)
    print(gate_text(outcome.candidate.run_id,
                    outcome.baseline.run_id if outcome.baseline else None,
                    outcome.verdicts, outcome.note, request.settings.alpha))
    if request.trend_png:
        print(f"trend plot: {request.trend_png}", file=sys.stderr)
    return outcome.exit_code
