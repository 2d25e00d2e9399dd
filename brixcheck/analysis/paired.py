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

import numpy as np
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


BASELINE_METRICS = ("ttft_ms", "e2e_ms")
BASELINE_QUANTILES = (50, 90, 99)


def choose_baseline(strategies: Sequence[str], wanted: str = "") -> str:
    """The strategy others are compared with: `wanted`, else `baseline`, else `random`, else
    the first by name.

    Args:
        strategies: the strategies that ran.
        wanted: the caller's choice ("" for the default order).

    Returns:
        A strategy name ("" when none ran).

    Raises:
        ValueError: when `wanted` did not run.
    """
    if wanted and wanted not in strategies:
        raise ValueError(f"baseline strategy {wanted!r} did not run (ran: "
                         f"{', '.join(sorted(strategies))})")
    for name in (wanted, "baseline", "random"):
        if name and name in strategies:
            return name
    return sorted(strategies)[0] if len(strategies) else ""


def paired_quantile_difference(a: np.ndarray, b: np.ndarray, quantile: float,
                               settings: PairingSettings) -> Interval:
    """Difference of a percentile between two strategies over the same requests.

    Formula: for the n request pairs (same repeat and request index, succeeded under both),
    estimate = q(a) - q(b) with q the `quantile` (linear interpolation); CI = percentile
    bootstrap resampling the pairs (`settings.n_resamples` times, PCG64 seeded with
    `settings.seed`), so the pairing is kept in every resample.

    Args:
        a: the first strategy's values, one per pair.
        b: the second strategy's values, aligned with `a`.
        quantile: e.g. 0.5.
        settings: confidence and bootstrap settings.

    Returns:
        The estimate and interval (n = pairs).
    """
    rng = np.random.Generator(np.random.PCG64(settings.seed))
    rows = max(1, 4_000_000 // max(a.size, 1))
    replicates = []
    for start in range(0, settings.n_resamples, rows):
        index = rng.integers(0, a.size, size=(min(rows, settings.n_resamples - start), a.size))
        replicates.append(np.quantile(a[index], quantile, axis=1)
                          - np.quantile(b[index], quantile, axis=1))
    tail = (1 - settings.confidence) / 2 * 100
    low, high = np.percentile(np.concatenate(replicates), [tail, 100 - tail])
    estimate = float(np.quantile(a, quantile) - np.quantile(b, quantile))
    return Interval(estimate, float(low), float(high), settings.confidence, int(a.size))


def _pairs(rows: pd.DataFrame, strategy: str, metric: str, settings: PairingSettings,
           keys: list[str]) -> pd.Series:
    ok = rows[rows["ok"] & (rows[settings.column] == strategy)]
    return ok.set_index(keys)[metric]


def baseline_differences(measured: pd.DataFrame, by: Sequence[str], baseline: str,
                         settings: PairingSettings | None = None) -> list[PairedDifference]:
    """Every strategy against the baseline, on TTFT and E2E p50/p90/p99, pooling repeats.

    Requests pair by (repeat, request index): each repeat replays the same schedule under
    every strategy. Other grouping columns (a rate level) slice.

    Args:
        measured: measured rows.
        by: the summary's grouping columns.
        baseline: the strategy compared with.
        settings: column and bootstrap settings.

    Returns:
        One difference per (slice, strategy, metric percentile), metric named like the
        summary column (`ttft_ms_p99`), `first` the strategy and `second` the baseline.
    """
    settings = settings or PairingSettings()
    keys = [c for c in ("repeat",) if c in by] + ["request_id"]
    within = [c for c in by if c not in (settings.column, "repeat")]
    results = []
    for label, rows in _slices(measured, within):
        others = sorted(s for s in rows[settings.column].unique() if s != baseline)
        for strategy, metric in ((s, m) for s in others for m in BASELINE_METRICS):
            joined = pd.concat([_pairs(rows, strategy, metric, settings, keys),
                                _pairs(rows, baseline, metric, settings, keys)], axis=1,
                               join="inner", keys=["a", "b"]).dropna()
            if joined.empty:
                continue
            a, b = joined["a"].to_numpy(float), joined["b"].to_numpy(float)
            for q in BASELINE_QUANTILES:
                interval = paired_quantile_difference(a, b, q / 100, settings)
                results.append(PairedDifference(f"{metric}_p{q}", strategy, baseline, label,
                                                interval))
    return results
