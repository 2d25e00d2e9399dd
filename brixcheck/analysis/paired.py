"""Paired per-request differences between strategies that replayed the same schedule.

Every strategy's run uses the same seed, prompts and arrival schedule, so request index i
(`request_id` "<worker>-<i>") is the same request under each strategy. Differencing request by
request removes the workload's own variance (prompt, position in the schedule) from the
comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import pandas as pd

from brixcheck.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, bootstrap_mean_ci

PAIRED_METRICS = ("ttft_ms", "e2e_ms")


@dataclass(frozen=True)
class PairedDifference:
    """Mean of first - second over requests both strategies completed, with its CI."""

    metric: str
    first: str
    second: str
    within: str  # the other grouping columns, e.g. "rate_per_s=20"; "" when none
    interval: Interval


@dataclass(frozen=True)
class PairingSettings:
    """Which column holds the strategy, and the bootstrap settings."""

    column: str = "strategy"
    confidence: float = 0.95
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


def paired_difference(measured: pd.DataFrame, metric: str, first: str, second: str,
                      settings: PairingSettings) -> PairedDifference | None:
    """Paired difference of one metric between two strategies.

    Formula: d_i = metric_i(first) - metric_i(second) for every request index i that
    succeeded under both; estimate = mean(d); CI = percentile bootstrap of mean(d)
    (`settings.n_resamples` resamples of the pairs, PCG64 seeded with `settings.seed`).

    Args:
        measured: measured rows of one `within` slice (several strategies).
        metric: `ttft_ms` or `e2e_ms`.
        first: strategy on the left of the difference.
        second: strategy on the right.
        settings: column and bootstrap settings.

    Returns:
        The difference, or None when no request index succeeded under both.
    """
    ok = measured[measured["ok"]]
    a = ok[ok[settings.column] == first].set_index("request_id")[metric]
    b = ok[ok[settings.column] == second].set_index("request_id")[metric]
    joined = pd.concat([a, b], axis=1, join="inner", keys=["a", "b"]).dropna()
    if joined.empty:
        return None
    diffs = (joined["a"] - joined["b"]).to_numpy()
    interval = bootstrap_mean_ci(diffs, settings.confidence, settings.n_resamples, settings.seed)
    return PairedDifference(metric, first, second, "", interval)


def _slices(measured: pd.DataFrame, within: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    if not within:
        return [("", measured)]
    out = []
    for key, rows in measured.groupby(list(within), dropna=False, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        out.append((", ".join(f"{c}={v}" for c, v in zip(within, values, strict=True)), rows))
    return out


def paired_comparisons(measured: pd.DataFrame, by: Sequence[str],
                       metrics: Sequence[str] = PAIRED_METRICS,
                       settings: PairingSettings | None = None) -> list[PairedDifference]:
    """Paired differences for every pair of strategies, within each slice of the other keys.

    Args:
        measured: measured rows.
        by: the summary's grouping columns; the strategy column is paired, the others slice.
        metrics: which metrics to difference.
        settings: column and bootstrap settings.

    Returns:
        One difference per (slice, strategy pair, metric) with at least one common request.
    """
    settings = settings or PairingSettings()
    within = [c for c in by if c != settings.column]
    results = []
    for label, rows in _slices(measured, within):
        strategies = sorted(rows[settings.column].unique())
        for first, second in combinations(strategies, 2):
            for metric in metrics:
                diff = paired_difference(rows, metric, first, second, settings)
                if diff is not None:
                    results.append(PairedDifference(diff.metric, first, second, label,
                                                    diff.interval))
    return results
