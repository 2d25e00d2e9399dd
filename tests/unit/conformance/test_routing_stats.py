"""The routing cases' statistics against values computed independently (tables, closed forms)."""

from __future__ import annotations

import math
import random

import pytest

from brixcheck.conformance.routing_stats import (
    avoid_sample_size,
    binomial_sf,
    chi_square_sf,
    chi_square_uniform,
    hits_threshold,
    separation_sample_size,
    sticky_sample_size,
    uniform_sample_size,
)


@pytest.mark.parametrize(("x", "df", "expected"), [
    (3.841458820694124, 1, 0.05),  # textbook critical values
    (13.815510557964274, 2, 0.001),
    (16.26623619623813, 3, 0.001),
    (18.46682695290317, 4, 0.001),
    (0.5, 7, 0.9994),
])
def test_chi_square_sf_matches_tables(x, df, expected):
    assert chi_square_sf(x, df) == pytest.approx(expected, rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("x", [0.1, 1.0, 4.0, 9.0, 30.0])
def test_chi_square_sf_two_dof_is_exponential(x):
    assert chi_square_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-9)


def test_uniform_counts_pass_and_skewed_fail():
    assert chi_square_uniform([100, 100, 100])[1] == pytest.approx(1.0)
    assert chi_square_uniform([150, 75, 75])[1] < 0.001


def test_false_alarm_rate_of_uniformity_is_near_its_bound():
    draw = random.Random(7)
    trials, alarms = 4000, 0
    for _ in range(trials):
        counts = [0, 0, 0]
        for _ in range(uniform_sample_size(3)):
            counts[draw.randrange(3)] += 1
        alarms += chi_square_uniform(counts)[1] < 0.01
    assert 0.004 < alarms / trials < 0.02  # at alpha 0.01: 40 expected of 4000


def test_binomial_tail_matches_closed_forms():
    assert binomial_sf(10, 10, 0.5) == pytest.approx(0.5 ** 10)
    assert binomial_sf(1, 5, 0.2) == pytest.approx(1 - 0.8 ** 5)
    assert binomial_sf(0, 3, 0.3) == 1.0


def test_sample_sizes_meet_the_bound():
    n = sticky_sample_size(3)
    assert 3 * (1 / 3) ** n <= 0.001 < 3 * (1 / 3) ** (n - 1)
    assert uniform_sample_size(3) == 60
    assert avoid_sample_size(3) == 18  # (2/3)^18 = 0.00068, (2/3)^17 = 0.0010
    assert (2 / 3) ** 18 <= 0.001 < (2 / 3) ** 17
    k = hits_threshold(30, 1 / 3)
    assert binomial_sf(k, 30, 1 / 3) <= 0.001 < binomial_sf(k - 1, 30, 1 / 3)


def test_separation_sample_size_meets_the_bound():
    n = separation_sample_size(3)  # one user's n on one pod, the other's n all elsewhere
    assert n == 6  # 3 x (1/3)^6 x (2/3)^6 = 0.00036; with 5: 0.0016
    assert 3 * (1 / 3) ** n * (2 / 3) ** n <= 0.001 < 3 * (1 / 3) ** (n - 1) * (2 / 3) ** (n - 1)
    with pytest.raises(ValueError, match="two pods"):
        separation_sample_size(1)


def test_separation_false_alarm_matches_a_random_router():
    draw = random.Random(11)
    trials, passes = 20000, 0
    for _ in range(trials):
        light = {draw.randrange(3) for _ in range(3)}
        heavy = {draw.randrange(3) for _ in range(3)}
        passes += len(light) == 1 and not light & heavy
    assert passes / trials == pytest.approx(3 * (1 / 3) ** 3 * (2 / 3) ** 3, rel=0.2)  # 0.033


def test_impossible_thresholds_are_refused():
    with pytest.raises(ValueError, match="cannot reach"):
        hits_threshold(3, 0.5)
