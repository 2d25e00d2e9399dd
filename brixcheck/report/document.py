"""The benchmark report as data: the versioned JSON document and the summary CSV.

`benchmark_document` is the single source of what a report says; the HTML writer renders the
same document. No metric is computed here: everything comes from a `BenchmarkResult`.
"""

from __future__ import annotations

import math
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from brixcheck.analysis import BenchmarkResult, metric_formulas
from brixcheck.report.comparison import statement
from brixcheck.report.fingerprint import fingerprint
from brixcheck.report.leaderboard import leaderboard

# v1alpha3: `leaderboard` (the first-screen table of strategies).
# v1alpha2: summary column `engine_prefix_cache_hit_rate`, `enginePods[]` and `gpus[]`
# (engine and GPU telemetry); v1alpha1 documents have none of them.
SCHEMA_VERSION = "brixcheck.benchmark/v1alpha3"


class RunStatus(StrEnum):
    """Whether a run's numbers can be trusted."""

    VALID = "VALID"
    INVALID = "INVALID"  # a guard was breached: the numbers describe the generator, not AIBrix
    PARTIAL = "PARTIAL"  # the run died or was cut short: numbers cover only what finished


@dataclass(frozen=True)
class RunInfo:
    """What the analysis cannot know: identity, environment, configuration, completeness."""

    run_id: str
    started_at: str  # ISO 8601, UTC
    environment: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    partial_reason: str = ""  # non-empty: the run did not finish (records are what survived)


def run_status(result: BenchmarkResult, info: RunInfo) -> RunStatus:
    """PARTIAL when the run did not finish, else INVALID when a guard was breached, else VALID.

    An unfinished run is PARTIAL even when its guards look breached: what is missing is the
    reason (an interrupt, a dead load generator), not a misbehaving target.

    Args:
        result: the analysis.
        info: the run's identity and completeness.

    Returns:
        The status.
    """
    if info.partial_reason:
        return RunStatus.PARTIAL
    return RunStatus.VALID if result.validity.valid else RunStatus.INVALID


def plain(value: Any) -> Any:
    """A JSON-safe copy: numpy scalars to Python, NaN/inf to None, containers recursively.

    Args:
        value: any value from a frame or dataclass.

    Returns:
        The converted value.
    """
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [plain(row) for row in frame.to_dict(orient="records")]


def _tool() -> dict[str, str]:
    try:
        version = metadata.version("brixcheck")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"name": "brixcheck", "version": version, "python": sys.version.split()[0],
            "platform": platform.platform(), "pandas": pd.__version__, "numpy": np.__version__}


def _comparisons(result: BenchmarkResult) -> list[dict[str, Any]]:
    pairing = result.options.pairing
    return [plain({"metric": d.metric, "first": d.first, "second": d.second,
                   "within": d.within, "meanDifferenceMs": d.interval.estimate,
                   "ciLowMs": d.interval.low, "ciHighMs": d.interval.high,
                   "confidence": d.interval.confidence, "pairs": d.interval.n,
                   "resamples": pairing.n_resamples, "seed": pairing.seed,
                   "statement": statement(d)}) for d in result.comparisons]


def analysis_config(result: BenchmarkResult) -> dict[str, Any]:
    """The analysis options as plain data (part of the run configuration in reports).

    Args:
        result: the analysis.

    Returns:
        Grouping, warm-up, SLO sets, schedule, validity bounds, pairing settings.
    """
    config: dict[str, Any] = plain(asdict(result.options))
    return config


def benchmark_document(result: BenchmarkResult, info: RunInfo) -> dict[str, Any]:
    """The `brixcheck.benchmark/v1alpha3` document of a run (docs/reports.md lists the fields).

    Args:
        result: the analysis.
        info: identity, environment, configuration, completeness.

    Returns:
        A JSON-ready dict.
    """
    status = run_status(result, info)
    return {
        "schemaVersion": SCHEMA_VERSION, "runId": info.run_id, "startedAt": info.started_at,
        "generatedAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "status": str(status),
        "validity": {"valid": result.validity.valid, "reasons": list(result.validity.reasons),
                     "saturated": list(result.validity.saturated)},
        "partial": {"partial": bool(info.partial_reason), "reason": info.partial_reason},
        "tool": _tool(), "environment": plain(info.environment),
        "fingerprint": fingerprint(info.environment),
        "config": {"run": plain(info.config), "analysis": analysis_config(result)},
        "formulas": metric_formulas(), "summary": _records(result.summary),
        "errors": _records(result.errors), "pods": _records(result.pods),
        "enginePods": _records(result.telemetry.pods), "gpus": _records(result.telemetry.gpus),
        "comparisons": _comparisons(result), "leaderboard": leaderboard(result),
    }


def summary_csv(result: BenchmarkResult) -> str:
    """The summary table as CSV (one row per group, metric names as headers).

    Args:
        result: the analysis.

    Returns:
        CSV text.
    """
    return str(result.summary.to_csv(index=False))
