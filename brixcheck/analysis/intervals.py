"""Per-strategy confidence intervals for the report's bar charts (one rate level).

Repeats of a strategy are pooled: each replays the same schedule, so together they are one
larger sample of the strategy's behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from brixcheck.analysis.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_replicates

# (bar metric, sample kind, statistic): a percentile (0..100) or "mean"
BAR_METRICS = (("ttft_ms_p50", "ttft_ms", 50.0), ("ttft_ms_p99", "ttft_ms", 99.0),
               ("e2e_ms_p50", "e2e_ms", 50.0), ("output_tokens_per_s", "output_tokens_per_s",
                                                "mean"))


def bootstrap_statistic_ci(samples: np.ndarray, statistic: float | str, confidence: float = 0.95,
                           n_resamples: int = DEFAULT_RESAMPLES,
                           seed: int = DEFAULT_SEED) -> tuple[float, float, float]:
    """A percentile (or the mean) of `samples` with its percentile-bootstrap interval.

    Formula: estimate = the statistic of the samples (percentile: linear interpolation);
    resample with replacement `n_resamples` times (PCG64 seeded with `seed`) and take the
    (1-c)/2 and (1+c)/2 percentiles of the resampled statistics.

    Args:
        samples: the pooled samples of one strategy.
        statistic: a percentile in 0..100, or "mean".
        confidence: coverage.
        n_resamples: resample count.
        seed: generator seed.

    Returns:
        (estimate, low, high); NaNs when there are no samples.
    """
    samples = np.asarray(samples, dtype=float)
    if samples.size == 0:
        return (float("nan"),) * 3

    def stat(a: np.ndarray) -> np.ndarray:
        return a.mean(axis=-1) if statistic == "mean" else np.percentile(a, statistic, axis=-1)

    replicates = bootstrap_replicates(samples, stat, np.random.Generator(np.random.PCG64(seed)),
                                      n_resamples)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(stat(samples)), float(low), float(high)


def strategy_intervals(samples: Mapping[str, Mapping[str, np.ndarray]],
                       strategy_of: Mapping[str, str],
                       metrics: Sequence[tuple[str, str, float | str]] = BAR_METRICS,
                       ) -> pd.DataFrame:
    """Each strategy's bar values with 95% CIs, repeats pooled.

    Args:
        samples: `BenchmarkResult.samples` (group label -> sample kind -> values).
        strategy_of: group label -> strategy.
        metrics: (name, sample kind, statistic) triples.

    Returns:
        Rows of `strategy`, `metric`, `estimate`, `low`, `high`.
    """
    rows = []
    for strategy in sorted(set(strategy_of.values())):
        groups = [g for g, s in strategy_of.items() if s == strategy and g in samples]
        for name, kind, statistic in metrics:
            pooled = np.concatenate([samples[g][kind] for g in groups] or [np.empty(0)])
            estimate, low, high = bootstrap_statistic_ci(pooled, statistic)
            rows.append({"strategy": strategy, "metric": name, "estimate": estimate,
                         "low": low, "high": high})
    return pd.DataFrame(rows, columns=["strategy", "metric", "estimate", "low", "high"])
