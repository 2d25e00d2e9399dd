"""`brixcheck compare`: parse tolerances, run the gate, print, return the exit code."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from brixcheck.analysis.regression import DEFAULT_TOLERANCES, GateSettings, Tolerance
from brixcheck.errors import BrixcheckError
from brixcheck.history.gate import GateRequest, run_gate
from brixcheck.report.regression import gate_text


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


def main_compare(ns: argparse.Namespace) -> int:
    """Run the gate for parsed `compare` options and print its report.

    Args:
        ns: the options of `brixcheck compare`.

    Returns:
        1 on a significant regression, 0 otherwise.
    """
    request = GateRequest(ns.db, ns.baseline, ns.candidate, parse_tolerances(ns.tolerance),
                          GateSettings(alpha=ns.alpha),
                          Path(ns.trend) if ns.trend else None)
    outcome = run_gate(request)
    print(gate_text(outcome.candidate.run_id,
                    outcome.baseline.run_id if outcome.baseline else None,
                    outcome.verdicts, outcome.note, request.settings.alpha))
    if request.trend_png:
        print(f"trend plot: {request.trend_png}", file=sys.stderr)
    return outcome.exit_code
