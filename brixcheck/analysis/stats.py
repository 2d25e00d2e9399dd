"""Significance tests and confidence intervals on raw samples, numpy only (no scipy).

- Mann–Whitney U with the normal approximation, tie correction and continuity correction
  (the same approximation as scipy's `mannwhitneyu(..., method="asymptotic")`).
- Percentile bootstrap: seeded (numpy PCG64), fixed resample count, resampled in chunks so
  memory stays bounded.

Pure functions; callers decide what is a regression.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 20240605
_CHUNK_CELLS = 4_000_000  # resampled values held at once


class Alternative(StrEnum):
    """The alternative hypothesis about x relative to y."""

    TWO_SIDED = "two-sided"
    GREATER = "greater"  # x tends to be larger than y
    LESS = "less"  # x tends to be smaller than y


@dataclass(frozen=True)
class MannWhitney:
    """Result of a Mann–Whitney U test of x against y."""

    u: float  # U of x: pairs with x > y, plus half the ties
    z: float
    p_value: float
    alternative: Alternative


def average_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks with ties given their average rank, and the size of every tie group.

    Args:
        values: 1-D samples.

    Returns:
        (ranks aligned with `values`, tie-group sizes).
    """
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(starts) - 1
    sizes = np.bincount(group)
    first = np.flatnonzero(starts)
    ranks = np.empty(values.size, dtype=float)
    ranks[order] = (first + (sizes + 1) / 2)[group]
    return ranks, sizes


def normal_sf(z: float) -> float:
    """Upper tail P(Z > z) of the standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def mann_whitney_u(x: np.ndarray, y: np.ndarray,
                   alternative: Alternative = Alternative.TWO_SIDED) -> MannWhitney:
    """Mann–Whitney U test, normal approximation with tie and continuity correction.

    Formula: U = R_x - n_x(n_x+1)/2 with R_x the sum of x's average ranks in the pooled sample;
    mu = n_x n_y / 2; sigma^2 = n_x n_y / 12 * ((n+1) - sum(t^3 - t) / (n(n-1))) over tie groups
    of size t; z = (U - mu -/+ 0.5) / sigma (continuity correction toward mu). "greater":
    p = P(Z > z); "less": p = P(Z < z); two-sided: p = 2 P(Z > (|U - mu| - 0.5)/sigma), <= 1.

    Args:
        x: first sample (e.g. candidate).
        y: second sample (e.g. baseline).
        alternative: what x is suspected of.

    Returns:
        U, z and the p-value; p = 1 when every value is tied.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    nx, ny = x.size, y.size
    if nx == 0 or ny == 0:
        raise ValueError(f"both samples need values, got {nx} and {ny}")
    n = nx + ny
    ranks, ties = average_ranks(np.concatenate([x, y]))
    u = float(ranks[:nx].sum() - nx * (nx + 1) / 2)
    mu = nx * ny / 2
    variance = nx * ny / 12 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1)))
    if variance <= 0:
        return MannWhitney(u, 0.0, 1.0, alternative)
    sigma = math.sqrt(variance)
    if alternative is Alternative.GREATER:
        z = (u - mu - 0.5) / sigma
        p = normal_sf(z)
    elif alternative is Alternative.LESS:
        z = (u - mu + 0.5) / sigma
        p = normal_sf(-z)
    else:
        z = (abs(u - mu) - 0.5) / sigma
        p = min(1.0, 2 * normal_sf(z))
    return MannWhitney(u, z, p, alternative)


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def bootstrap_replicates(samples: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                         rng: np.random.Generator,
                         n_resamples: int = DEFAULT_RESAMPLES) -> np.ndarray:
    """The statistic of `n_resamples` resamples (with replacement) of `samples`.

    Args:
        samples: 1-D data.
        statistic: maps a (resamples, n) array to one value per row.
        rng: the seeded generator (shared, so paired calls stay reproducible).
        n_resamples: how many resamples.

    Returns:
        One value per resample.
    """
    samples = np.asarray(samples, dtype=float)
    rows = max(1, _CHUNK_CELLS // max(samples.size, 1))
    out = []
    for start in range(0, n_resamples, rows):
        count = min(rows, n_resamples - start)
        index = rng.integers(0, samples.size, size=(count, samples.size))
        out.append(statistic(samples[index]))
    return np.concatenate(out)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile-bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int


def _percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean_ci(samples: np.ndarray, confidence: float = 0.95,
                      n_resamples: int = DEFAULT_RESAMPLES,
                      seed: int = DEFAULT_SEED) -> Interval:
    """Mean of `samples` with a percentile-bootstrap confidence interval.

    Formula: estimate = mean(d); resample d with replacement `n_resamples` times (PCG64 seeded
    with `seed`); the interval is the (1-c)/2 and (1+c)/2 percentiles of the resampled means.

    Args:
        samples: e.g. per-request paired differences.
        confidence: coverage of the interval.
        n_resamples: resample count.
        seed: generator seed.

    Returns:
        The estimate and interval.
    """
    samples = np.asarray(samples, dtype=float)
    if samples.size == 0:
        raise ValueError("bootstrap needs at least one sample")
    replicates = bootstrap_replicates(samples, lambda a: a.mean(axis=1), _rng(seed), n_resamples)
    low, high = _percentile_interval(replicates, confidence)
    return Interval(float(samples.mean()), low, high, confidence, samples.size)


def _permuted_columns(pooled: np.ndarray, split: int, quantile: float,
                      rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """q(second part) / q(first part) - 1 for `n_resamples` random relabellings of `pooled`."""
    rows = max(1, _CHUNK_CELLS // pooled.size)
    out = []
    for start in range(0, n_resamples, rows):
        count = min(rows, n_resamples - start)
        shuffled = rng.permuted(np.broadcast_to(pooled, (count, pooled.size)), axis=1)
        first = np.quantile(shuffled[:, :split], quantile, axis=1)
        out.append(np.quantile(shuffled[:, split:], quantile, axis=1) / first - 1)
    return np.concatenate(out)


@dataclass(frozen=True)
class QuantileShift:
    """Relative change of a quantile from baseline to candidate, with its CI and test."""

    change: float  # q(candidate) / q(baseline) - 1
    low: float  # bootstrap interval of the change
    high: float
    p_value: float  # one-sided permutation p-value in the direction of `alternative`
    alternative: Alternative


def quantile_shift(baseline: np.ndarray, candidate: np.ndarray, quantile: float,
                   alternative: Alternative = Alternative.GREATER, confidence: float = 0.95,
                   n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                   ) -> QuantileShift:
    """Relative change of a quantile between two independent samples, with CI and p-value.

    Formula: change = q_c / q_b - 1, q the `quantile` (linear interpolation). CI: each sample
    resampled independently `n_resamples` times (PCG64, `seed`), percentile interval of the
    resampled changes. p-value (permutation test, one-sided): pool both samples, relabel them
    at random `n_resamples` times keeping the sample sizes, and p = (1 + #{relabelled change
    >= observed change}) / (n_resamples + 1) for "greater" (<= for "less"). The permutation
    test holds its level exactly when both runs have the same distribution; a percentile-
    bootstrap test of a tail quantile of a small sample (whose resampled p99 takes only a
    handful of distinct values) is conservative and loses power (benchmarks/gate_statistics.py).

    Args:
        baseline: baseline samples.
        candidate: candidate samples.
        quantile: in [0, 1], e.g. 0.99.
        alternative: GREATER (candidate higher) or LESS.
        confidence: coverage of the interval.
        n_resamples: resample and permutation count.
        seed: generator seed.

    Returns:
        The change, its interval and the p-value.
    """
    base, cand = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    rng = _rng(seed)

    def stat(a: np.ndarray) -> np.ndarray:
        return np.asarray(np.quantile(a, quantile, axis=1), dtype=float)

    changes = (bootstrap_replicates(cand, stat, rng, n_resamples)
               / bootstrap_replicates(base, stat, rng, n_resamples) - 1)
    low, high = _percentile_interval(changes, confidence)
    change = float(np.quantile(cand, quantile) / np.quantile(base, quantile) - 1)
    null = _permuted_columns(np.concatenate([base, cand]), base.size, quantile, rng,
                             n_resamples)
    extreme = null >= change if alternative is Alternative.GREATER else null <= change
    p = (1 + int(extreme.sum())) / (n_resamples + 1)
    return QuantileShift(change, low, high, p, alternative)


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error rate control).

    Formula: sort the m p-values ascending, p_(1) <= ... <= p_(m); adjusted p_(k) =
    max over j <= k of min(1, (m - j + 1) p_(j)); returned in the input order. Rejecting
    where adjusted p < alpha keeps the chance of any false alarm in the family below alpha.

    Args:
        p_values: raw p-values of one family of tests.

    Returns:
        Adjusted p-values, same order.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
