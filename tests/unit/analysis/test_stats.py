"""Mann–Whitney U and bootstrap, against reference values.

The expected p-values were computed with scipy 1.17.1,
`scipy.stats.mannwhitneyu(x, y, alternative=..., method="asymptotic")` (normal approximation,
tie and continuity correction), in a throw-away environment: scipy is not a dependency, so the
implementation under test shares no code with the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from brixcheck.analysis.stats import (
    Alternative,
    average_ranks,
    bootstrap_mean_ci,
    holm_adjust,
    mann_whitney_u,
    quantile_shift,
)

NO_TIES = ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [4.5, 6.5, 8.5, 11, 12, 13, 14, 15])
TIES = ([1, 2, 2, 3, 3, 3, 4, 5], [2, 3, 3, 4, 4, 5, 6, 6, 7])
SMALL = ([1, 2, 3], [4, 5, 6])
MANY_TIES = ([i % 5 for i in range(40)], [i % 7 for i in range(35)])


@pytest.mark.parametrize(("samples", "alternative", "u", "p"), [
    (NO_TIES, "two-sided", 12.0, 0.014548023867342977),
    (NO_TIES, "greater", 12.0, 0.994334012177401),
    (NO_TIES, "less", 12.0, 0.007274011933671489),
    (TIES, "two-sided", 16.5, 0.062484795672341206),
    (TIES, "greater", 16.5, 0.9750537275484503),
    (TIES, "less", 16.5, 0.031242397836170603),
    (SMALL, "two-sided", 0.0, 0.08085559837005224),
    (SMALL, "greater", 0.0, 0.9854518341293739),
    (SMALL, "less", 0.0, 0.04042779918502612),
    (MANY_TIES, "two-sided", 500.0, 0.03177229838121475),
    (MANY_TIES, "greater", 500.0, 0.984537128665581),
    (MANY_TIES, "less", 500.0, 0.015886149190607376),
])
def test_mann_whitney_matches_scipy_asymptotic(samples, alternative, u, p):
    result = mann_whitney_u(np.array(samples[0]), np.array(samples[1]), Alternative(alternative))
    assert result.u == u
    assert result.p_value == pytest.approx(p, rel=1e-9)


def test_mann_whitney_of_all_tied_values_is_not_significant():
    assert mann_whitney_u(np.ones(5), np.ones(4)).p_value == 1.0


def test_mann_whitney_refuses_an_empty_sample():
    with pytest.raises(ValueError, match="both samples need values"):
        mann_whitney_u(np.array([]), np.array([1.0]))


def test_average_ranks_share_ties():
    ranks, sizes = average_ranks(np.array([10.0, 20.0, 10.0, 30.0, 20.0, 20.0]))
    assert ranks.tolist() == [1.5, 4.0, 1.5, 6.0, 4.0, 4.0]
    assert sorted(sizes.tolist()) == [1, 2, 3]


def test_bootstrap_mean_ci_is_seeded_and_covers_the_mean():
    data = np.random.default_rng(1).normal(5.0, 2.0, size=400)
    first = bootstrap_mean_ci(data, seed=3)
    assert first == bootstrap_mean_ci(data, seed=3)
    assert first.low < data.mean() < first.high
    standard_error = data.std(ddof=1) / np.sqrt(data.size)
    assert first.high - first.low == pytest.approx(2 * 1.96 * standard_error, rel=0.15)


def test_quantile_shift_sees_a_slower_tail():
    rng = np.random.default_rng(2)
    base = rng.lognormal(np.log(50), 0.3, 500)
    shift = quantile_shift(base, base * 1.3, 0.99, n_resamples=500)
    assert shift.change == pytest.approx(0.3)
    assert shift.low > 0.05
    assert shift.p_value < 0.01
    assert quantile_shift(base * 1.3, base, 0.99, Alternative.LESS, n_resamples=500).p_value < 0.01


def test_quantile_shift_permutation_test_holds_its_level():
    rejections = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        shift = quantile_shift(rng.lognormal(0, 0.3, 60), rng.lognormal(0, 0.3, 60), 0.9,
                               n_resamples=99, seed=seed)
        rejections += shift.p_value <= 0.05
    assert rejections <= 20  # 10 expected at the 5% level; a binomial 99.9% bound is 21


def test_holm_adjust_matches_the_step_down_definition():
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []
