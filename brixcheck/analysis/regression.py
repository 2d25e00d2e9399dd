"""Night-over-night regression decisions on raw samples: significant AND beyond tolerance.

A metric regresses only when both hold:

1. the change is statistically significant on the raw samples, one-sided in the bad
   direction: Mann–Whitney U for medians (p50) and per-second throughput bins, a permutation
   test of the quantile's relative change for tail quantiles (p90 and up);
2. the observed relative change is worse than the metric's tolerance (e.g. TTFT p50 more than
   10% higher, output tokens/s more than 10% lower).

Significance alone flags harmless shifts on big samples; tolerance alone flags noise. One
comparison runs many tests (metrics x groups), so p-values are Holm-adjusted over all of them
and `alpha` bounds the chance of any false alarm in the comparison, not per metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from brixcheck.analysis.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Alternative,
    holm_adjust,
    mann_whitney_u,
    quantile_shift,
)

DEFAULT_ALPHA = 0.01
THROUGHPUT_SAMPLES = "output_tokens_per_s"
ITL_PER_REQUEST = "itl_ms_request_p50"


@dataclass(frozen=True)
class Tolerance:
    """How much worse a metric may get before a significant change counts as a regression."""

    metric: str  # the summary column, e.g. "ttft_ms_p50"
    samples: str  # the raw samples its value is taken from, e.g. "ttft_ms"
    quantile: float | None  # None: compare means (throughput bins)
    limit: float  # relative, 0.10 = 10%
    higher_is_worse: bool = True
    # Samples the significance test runs on when they differ from `samples`: the gaps of one
    # request are correlated, so ITL is tested on one value per request (its median gap).
    test_samples: str | None = None


DEFAULT_TOLERANCES = (
    Tolerance("ttft_ms_p50", "ttft_ms", 0.50, 0.10),
    Tolerance("ttft_ms_p99", "ttft_ms", 0.99, 0.10),
    Tolerance("e2e_ms_p50", "e2e_ms", 0.50, 0.10),
    Tolerance("itl_ms_p50", "itl_ms", 0.50, 0.10, test_samples=ITL_PER_REQUEST),
    Tolerance("output_tokens_per_s", THROUGHPUT_SAMPLES, None, 0.10, higher_is_worse=False),
)


@dataclass(frozen=True)
class Verdict:
    """The decision for one metric of one group."""

    group: str
    metric: str
    baseline: float
    candidate: float
    change: float  # candidate / baseline - 1
    tolerance: float
    test: str
    p_value: float  # raw, one-sided
    p_adjusted: float  # Holm-adjusted over the comparison (== p_value when judged alone)
    alpha: float
    n_baseline: int
    n_candidate: int
    regression: bool


def throughput_bins(done_offset_s: np.ndarray, output_tokens: np.ndarray, window_s: float,
                    bin_s: float = 1.0) -> np.ndarray:
    """Output tokens per second in consecutive bins of the measured window (the samples the
    throughput test runs on).

    Formula: bin i holds the output tokens of successful requests that ended in
    [i*bin_s, (i+1)*bin_s) after the window start, divided by bin_s; only whole bins count.

    Args:
        done_offset_s: each successful request's end, seconds after the window start.
        output_tokens: its output tokens.
        window_s: the window length.
        bin_s: bin width.

    Returns:
        One tokens/s value per bin.
    """
    bins = int(window_s // bin_s)
    if bins < 1:
        return np.empty(0)
    index = np.floor(np.asarray(done_offset_s, dtype=float) / bin_s).astype(int)
    keep = (index >= 0) & (index < bins)
    totals = np.bincount(index[keep], weights=np.asarray(output_tokens, float)[keep],
                         minlength=bins)
    return totals / bin_s


def _statistic(samples: np.ndarray, tolerance: Tolerance) -> float:
    if tolerance.quantile is None:
        return float(samples.mean())
    return float(np.quantile(samples, tolerance.quantile))


def _p_value(base: np.ndarray, cand: np.ndarray, tolerance: Tolerance,
             n_resamples: int, seed: int) -> tuple[str, float]:
    worse = Alternative.GREATER if tolerance.higher_is_worse else Alternative.LESS
    if tolerance.quantile is not None and tolerance.quantile >= 0.9:
        shift = quantile_shift(base, cand, tolerance.quantile, worse,
                               n_resamples=n_resamples, seed=seed)
        return f"permutation q{tolerance.quantile:g} ({n_resamples}, {worse.value})", shift.p_value
    return f"Mann-Whitney U ({worse.value})", mann_whitney_u(cand, base, worse).p_value


@dataclass(frozen=True)
class GateSettings:
    """Statistics settings of a comparison."""

    alpha: float = DEFAULT_ALPHA
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


def _worse(change: float, tolerance: Tolerance) -> bool:
    """Whether a relative change is worse than the tolerance allows."""
    return (change if tolerance.higher_is_worse else -change) > tolerance.limit


def judge(group: str, baseline: Mapping[str, np.ndarray], candidate: Mapping[str, np.ndarray],
          tolerance: Tolerance, settings: GateSettings) -> Verdict:
    """Decide whether one metric regressed from baseline to candidate samples.

    Args:
        group: the group's label (e.g. the strategy).
        baseline: the baseline run's raw samples by kind (`tolerance.samples` and, when set,
            `tolerance.test_samples`).
        candidate: the candidate run's raw samples by kind.
        tolerance: the metric and how much worse it may get.
        settings: alpha, resamples and seed.

    Returns:
        The verdict of this test alone; `regression` iff p < alpha and the change is worse
        than the tolerance (`compare_samples` re-decides on Holm-adjusted p-values).
    """
    base = np.asarray(baseline[tolerance.samples], float)
    cand = np.asarray(candidate[tolerance.samples], float)
    base_value, cand_value = _statistic(base, tolerance), _statistic(cand, tolerance)
    change = cand_value / base_value - 1 if base_value else float("nan")
    tested = tolerance.test_samples or tolerance.samples
    test, p = _p_value(np.asarray(baseline[tested], float), np.asarray(candidate[tested], float),
                       tolerance, settings.n_resamples, settings.seed)
    regression = bool(p < settings.alpha and _worse(change, tolerance))
    return Verdict(group, tolerance.metric, base_value, cand_value, change, tolerance.limit,
                   test, p, p, settings.alpha, base.size, cand.size, regression)



def compare_samples(baseline: Mapping[str, Mapping[str, np.ndarray]],
                    candidate: Mapping[str, Mapping[str, np.ndarray]],
                    tolerances: Sequence[Tolerance] = DEFAULT_TOLERANCES,
                    settings: GateSettings | None = None) -> list[Verdict]:
    """Judge every tolerance for every group present in both runs.

    Args:
        baseline: group -> sample kind -> raw samples, of the baseline run.
        candidate: the same for the candidate run.
        tolerances: metrics to judge.
        settings: statistics settings (defaults: alpha 0.01, 2000 resamples).

    Returns:
        One verdict per (common group, tolerance) with samples on both sides; `regression`
        iff the Holm-adjusted p-value < alpha and the change is worse than the tolerance.
    """
    settings = settings or GateSettings()
    judged = []
    for group in sorted(set(baseline) & set(candidate)):
        for tolerance in tolerances:
            kinds = {tolerance.samples, tolerance.test_samples or tolerance.samples}
            if all(len(run[group].get(k, ())) for run in (baseline, candidate) for k in kinds):
                judged.append((judge(group, baseline[group], candidate[group], tolerance,
                                     settings), tolerance))
    adjusted = holm_adjust([v.p_value for v, _ in judged])
    return [replace(v, p_adjusted=p, regression=p < settings.alpha and _worse(v.change, t))
            for (v, t), p in zip(judged, adjusted, strict=True)]
