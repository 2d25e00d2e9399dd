"""The shoot-out table: rows per strategy, best values, significant differences from the
baseline, and the same table in the terminal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from brixcheck.analysis import AnalysisOptions, analyze
from brixcheck.analysis.intervals import bootstrap_statistic_ci, strategy_intervals
from brixcheck.analysis.paired import PairingSettings, choose_baseline, paired_quantile_difference
from brixcheck.bench.terminal import leaderboard_table
from brixcheck.plots import interval_bars_figure
from brixcheck.report.document import RunInfo, benchmark_document
from tests.unit.synthetic import shootout_frame


@pytest.fixture(scope="module")
def result():
    return analyze(shootout_frame(repeats=2),
                   AnalysisOptions(by=("strategy", "repeat"), warmup_s=2.0))


@pytest.fixture(scope="module")
def board(result):
    return benchmark_document(result, RunInfo("t", "2026-01-01T00:00:00Z"))["leaderboard"]


def _row(board, strategy):
    return next(r for r in board["rows"] if r["strategy"] == strategy)


def test_one_row_per_strategy_with_units(board):
    assert sorted(r["strategy"] for r in board["rows"]) == [
        "least-request", "prefix-cache", "random", "throughput"]
    assert all(r["repeats"] == 2 for r in board["rows"])
    units = {c["key"]: c["unit"] for c in board["columns"]}
    assert units["ttft_ms_p50"] == "ms"
    assert units["output_tokens_per_s"] == "tokens/s"
    assert board["baseline"] == "random"
    assert _row(board, "random")["baseline"]


def test_best_values_are_marked(board, result):
    fastest = _row(board, "prefix-cache")
    assert "ttft_ms_p50" in fastest["best"]
    assert "prefix_hit_rate" in fastest["best"]
    assert fastest["values"]["prefix_hit_rate"] == pytest.approx(60.0, abs=1)
    assert "ttft_ms_p50" not in _row(board, "random")["best"]
    means = result.summary.groupby("strategy")["ttft_ms_p50"].mean()
    assert fastest["values"]["ttft_ms_p50"] == pytest.approx(means["prefix-cache"])


def test_faster_strategies_differ_significantly_from_the_baseline(board):
    diff = _row(board, "prefix-cache")["versusBaseline"]["ttft_ms_p50"]
    assert diff["significant"]
    assert diff["high"] < 0
    assert diff["pairs"] > 400
    assert _row(board, "random")["versusBaseline"] == {}
    assert board["rows"][0]["strategy"] == "prefix-cache"  # all meet the SLOs: TTFT p50 ranks


def test_paired_quantile_difference_finds_no_difference_between_equals():
    rng = np.random.default_rng(1)
    a = rng.lognormal(4, 0.3, 500)
    same = paired_quantile_difference(a, rng.permutation(a), 0.5, PairingSettings())
    assert same.low < 0 < same.high
    shifted = paired_quantile_difference(a * 1.2, a, 0.5, PairingSettings())
    assert shifted.estimate == pytest.approx(0.2 * np.median(a))
    assert shifted.low > 0


def test_choose_baseline_prefers_the_named_then_baseline_then_random():
    assert choose_baseline(["a", "random"]) == "random"
    assert choose_baseline(["baseline", "random"]) == "baseline"
    assert choose_baseline(["b", "a"]) == "a"
    assert choose_baseline(["a", "b"], "b") == "b"
    with pytest.raises(ValueError, match="did not run"):
        choose_baseline(["a"], "z")


def test_terminal_prints_the_same_table(board):
    lines = leaderboard_table("shootout", board, Path("r.html"))
    head = lines[1]
    assert "TTFT p50 ms" in head
    assert "out tok/s" in head
    assert "goodput %" in head
    body = lines[2:6]
    assert [line.split()[0] for line in body] == [r["strategy"] for r in board["rows"]]
    assert "v*" in body[0]  # prefix-cache: best and significantly below random
    assert any("prefix-cache TTFT p50 ms:" in line and "95% CI" in line for line in lines)
    assert lines[-1] == "benchmark report: r.html"


def test_interval_bars_start_at_zero_and_cover_the_estimate(result):
    strategy_of = dict(zip(result.summary["group"], result.summary["strategy"], strict=True))
    intervals = strategy_intervals(result.samples, strategy_of)
    assert (intervals["low"] <= intervals["estimate"]).all()
    assert (intervals["estimate"] <= intervals["high"]).all()
    fig = interval_bars_figure(intervals, ["ttft_ms_p50"], "random")
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0
    assert ax.get_ylabel() == "TTFT p50 (ms)"
    assert [t.get_text() for t in ax.get_xticklabels()] == sorted(set(strategy_of.values()))


def test_bootstrap_statistic_ci_of_nothing_is_undefined():
    assert all(np.isnan(bootstrap_statistic_ci(np.empty(0), 50)))


def test_a_sweep_gets_a_row_per_strategy_and_level():
    frames = [shootout_frame(repeats=1).assign(rate_per_s=rate, intended_s=lambda f, r=rate:
                                               f["intended_s"] + r * 10_000)
              for rate in (10.0, 20.0)]
    result = analyze(pd.concat(frames, ignore_index=True),
                     AnalysisOptions(by=("strategy", "repeat", "rate_per_s"), warmup_s=2.0,
                                     sweep=True))
    board = benchmark_document(result, RunInfo("t", "2026-01-01T00:00:00Z"))["leaderboard"]
    assert sorted({r["within"] for r in board["rows"]}) == ["rate_per_s=10.0",
                                                            "rate_per_s=20.0"]
    assert len(board["rows"]) == 8
    level = [r for r in board["rows"] if r["within"] == "rate_per_s=10.0"]
    assert level[0]["versusBaseline"] or level[0]["baseline"]
