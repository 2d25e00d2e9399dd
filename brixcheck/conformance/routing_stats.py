"""The statistics of the routing-behaviour cases: chi-square uniformity, binomial tails and the
sample sizes that keep each case's false-alarm probability at or below a bound.

Pure functions on counts (no SciPy here): the regularised upper incomplete gamma function gives
the chi-square survival function; binomial tails are summed exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FALSE_ALARM = 0.001  # bound on a case failing a correct implementation or passing a wrong one
MIN_EXPECTED = 5  # smallest expected count per cell for the chi-square approximation


def chi_square_sf(x: float, df: int) -> float:
    """P(X >= x) for X ~ chi-square with `df` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if x <= 0:
        return 1.0
    return _upper_gamma_regularized(df / 2.0, x / 2.0)


def _upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x): series below a + 1, Lentz continued fraction above (Numerical Recipes 6.2)."""
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        while abs(term) > abs(total) * 1e-15:
            n += 1
            term *= x / n
            total += term
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b, c, d = x + 1 - a, 1 / tiny, 1 / (x + 1 - a)
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return math.exp(log_front) * h


def chi_square_uniform(counts: Sequence[int]) -> tuple[float, float]:
    """Pearson's statistic and p-value of `counts` against equal expected counts."""
    if len(counts) < 2:
        raise ValueError("uniformity needs at least two cells")
    expected = sum(counts) / len(counts)
    statistic = sum((c - expected) ** 2 for c in counts) / expected
    return statistic, chi_square_sf(statistic, len(counts) - 1)


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    return min(1.0, sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def uniform_sample_size(cells: int, min_expected: int = MIN_EXPECTED) -> int:
    """Requests for a chi-square uniformity test over `cells` pods: enough that every pod expects
    at least `min_expected` (the approximation's rule), and at least 20 per pod so that one pod
    never served is itself significant at FALSE_ALARM for up to 8 pods ((7/8)^60 < 0.001)."""
    return cells * max(min_expected, 20)


def sticky_sample_size(pods: int, alpha: float = FALSE_ALARM) -> int:
    """Requests that must all land on one pod before random routing (1/pods each) could do the
    same with probability <= alpha: the smallest n with pods * (1/pods)^n <= alpha."""
    if pods < 2:
        raise ValueError("stickiness needs at least two pods")
    return math.ceil(math.log(pods / alpha) / math.log(pods))


def avoid_sample_size(pods: int, alpha: float = FALSE_ALARM) -> int:
    """Requests that must all miss one given pod before random routing could do the same with
    probability <= alpha: the smallest n with (1 - 1/pods)^n <= alpha."""
    if pods < 2:
        raise ValueError("avoiding a pod needs at least two pods")
    return math.ceil(math.log(alpha) / math.log(1 - 1 / pods))


def separation_sample_size(pods: int, alpha: float = FALSE_ALARM) -> int:
    """Requests per user, for two users, before random routing could put all of one user's
    requests on a single pod and none of the other's there with probability <= alpha: the
    smallest n with pods * (1/pods)^n * (1 - 1/pods)^n <= alpha."""
    if pods < 2:
        raise ValueError("separating two users needs at least two pods")
    return math.ceil(math.log(alpha / pods) / math.log((1 / pods) * (1 - 1 / pods)))


def hits_threshold(n: int, p: float, alpha: float = FALSE_ALARM) -> int:
    """Smallest k with P(Binomial(n, p) >= k) <= alpha: at least k of n requests on one chosen
    pod is evidence (false alarm <= alpha) that routing prefers it over chance p."""
    for k in range(n + 1):
        if binomial_sf(k, n, p) <= alpha:
            return k
    raise ValueError(f"{n} requests cannot reach a false-alarm probability of {alpha} at p={p}")
