"""Paired strategy differences, regression verdicts, validity guards, plot shapes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brixcheck.analysis import (
    AnalysisOptions,
    Schedule,
    ValidityBounds,
    analyze,
    check_validity,
    metric_formulas,
    records_to_frame,
    summarize,
)
from brixcheck.analysis.distributions import latency_cdf, time_series
from brixcheck.analysis.paired import PairingSettings, paired_comparisons
from brixcheck.analysis.regression import (
    DEFAULT_TOLERANCES,
    GateSettings,
    compare_samples,
    judge,
    throughput_bins,
)
from brixcheck.analysis.validity import level_reasons
from brixcheck.analysis.window import measured
from brixcheck.load.schedule import Arrival, arrival_offsets
from tests.unit.synthetic import RunSpec, make_records

TTFT_P50 = next(t for t in DEFAULT_TOLERANCES if t.metric == "ttft_ms_p50")
TTFT_P99 = next(t for t in DEFAULT_TOLERANCES if t.metric == "ttft_ms_p99")
THROUGHPUT = next(t for t in DEFAULT_TOLERANCES if t.metric == "output_tokens_per_s")


def test_paired_difference_finds_the_faster_strategy(bench_frame: pd.DataFrame):
    diffs = paired_comparisons(measured(bench_frame, ["strategy"], 2.0), ["strategy"])
    ttft = next(d for d in diffs if d.metric == "ttft_ms")
    assert (ttft.first, ttft.second) == ("least-request", "random")
    assert ttft.interval.high < 0  # least-request lower on every replayed request
    assert ttft.interval.n == 243  # indices that succeeded under both (random had 503s)


def test_paired_difference_of_the_same_requests_includes_zero():
    records = (make_records(RunSpec("a")) + make_records(RunSpec("b", start_s=9000.0)))
    diffs = paired_comparisons(measured(records_to_frame(records), ["strategy"], 0.0),
                               ["strategy"], settings=PairingSettings(n_resamples=500))
    for diff in diffs:
        assert diff.interval.low <= 0 <= diff.interval.high


def test_paired_comparisons_stay_within_each_rate_level():
    frames = [records_to_frame(make_records(RunSpec(s, rate_per_s=r, start_s=1000 * r + i)),
                               labels={"rate_per_s": r})
              for r in (10, 20) for i, s in enumerate(("a", "b"))]
    diffs = paired_comparisons(measured(pd.concat(frames), ["strategy", "rate_per_s"], 0.0),
                               ["strategy", "rate_per_s"], metrics=["ttft_ms"],
                               settings=PairingSettings(n_resamples=200))
    assert sorted(d.within for d in diffs) == ["rate_per_s=10", "rate_per_s=20"]


def _ttft(seed: int, n: int = 300, scale: float = 1.0) -> dict[str, np.ndarray]:
    return {"ttft_ms": np.random.default_rng(seed).lognormal(np.log(50), 0.35, n) * scale}


def test_judge_flags_a_candidate_twenty_percent_slower():
    verdict = judge("random", _ttft(1), _ttft(2, scale=1.2), TTFT_P50, GateSettings())
    assert verdict.regression
    assert verdict.p_value < 0.01
    assert verdict.change > 0.1


def test_judge_passes_a_rerun_of_the_same_distribution():
    for seed in range(2, 12):
        for tolerance in (TTFT_P50, TTFT_P99):
            verdict = judge("random", _ttft(1), _ttft(seed), tolerance, GateSettings())
            assert not verdict.regression, verdict


def test_judge_ignores_a_significant_change_within_tolerance():
    verdict = judge("random", _ttft(1, n=20000), _ttft(2, n=20000, scale=1.05), TTFT_P50,
                    GateSettings())
    assert verdict.p_value < 1e-6
    assert not verdict.regression


def test_judge_flags_a_throughput_drop_on_per_second_bins():
    rng = np.random.default_rng(4)
    base = {"output_tokens_per_s": rng.normal(1000, 30, 60)}
    cand = {"output_tokens_per_s": rng.normal(800, 30, 60)}
    assert judge("random", base, cand, THROUGHPUT, GateSettings()).regression
    assert not judge("random", cand, base, THROUGHPUT, GateSettings()).regression


def test_judge_tests_itl_on_one_value_per_request():
    itl = next(t for t in DEFAULT_TOLERANCES if t.metric == "itl_ms_p50")
    rng = np.random.default_rng(5)
    # Three of four requests 15% slower: their 3000 gaps would look overwhelmingly
    # "significant" if the test counted gaps, but four requests against four are weak evidence.
    base = {"itl_ms": np.full(4000, 10.0), "itl_ms_request_p50": np.full(4, 10.0)}
    cand = {"itl_ms": np.concatenate([rng.normal(10, 0.01, 1000), rng.normal(11.5, 0.01, 3000)]),
            "itl_ms_request_p50": np.array([10.0, 11.5, 11.5, 11.5])}
    verdict = judge("random", base, cand, itl, GateSettings())
    assert verdict.change > itl.limit
    assert verdict.p_value > 0.01
    assert not verdict.regression


def test_compare_samples_judges_groups_present_in_both_runs():
    base = {"a": _ttft(1), "b": _ttft(3)}
    cand = {"a": _ttft(2)}
    verdicts = compare_samples(base, cand, [TTFT_P50])
    assert [(v.group, v.metric) for v in verdicts] == [("a", "ttft_ms_p50")]


def test_throughput_bins_sum_tokens_by_completion_second():
    bins = throughput_bins(np.array([0.1, 0.5, 1.2, 2.9, 3.5]), np.array([10, 10, 5, 1, 99]),
                           window_s=3.2)
    assert bins.tolist() == [20.0, 5.0, 1.0]


def _summary(rate_scale: float = 1.0, lag_ms: float = 0.3) -> pd.DataFrame:
    records = make_records(RunSpec("random", rate_per_s=20 * rate_scale, send_lag_ms=lag_ms))
    return summarize(records_to_frame(records))


def test_validity_passes_a_run_that_kept_its_schedule():
    validity = check_validity(_summary(), Schedule(20, 15),
                              ValidityBounds(min_achieved_fraction=0.85))
    assert validity.valid, validity.reasons


def test_validity_flags_a_rate_undershoot_with_the_reason():
    validity = check_validity(_summary(rate_scale=0.5), Schedule(20, 15), ValidityBounds())
    assert not validity.valid
    assert "of the scheduled 20 req/s" in validity.reasons[0]
    assert validity.reasons[0].startswith("random: achieved")


def test_validity_flags_send_lag_beyond_its_bound():
    validity = check_validity(_summary(lag_ms=40), Schedule(), ValidityBounds())
    assert not validity.valid
    assert "send lag p99" in validity.reasons[0]


def test_validity_flags_an_error_rate_beyond_its_bound(bench_frame: pd.DataFrame):
    validity = check_validity(summarize(bench_frame), Schedule(),
                              ValidityBounds(max_error_rate=0.01))
    assert len(validity.reasons) == 1  # least-request had no errors
    assert validity.reasons[0].startswith("random: error rate 3.8% exceeds 1.0%")


def test_analyze_marks_a_run_without_requests_invalid():
    result = analyze(records_to_frame([]))
    assert not result.validity.valid
    assert result.validity.reasons == ("no measured requests",)


def test_analyze_bundles_everything_for_a_report(bench_frame: pd.DataFrame):
    result = analyze(bench_frame, AnalysisOptions(warmup_s=2.0, schedule=Schedule(20, 15),
                                                  bounds=ValidityBounds(min_achieved_fraction=0.85)))
    assert result.validity.valid, result.validity.reasons
    assert set(result.cdfs) == {"ttft_ms", "itl_ms", "e2e_ms"}
    assert set(result.samples) == {"least-request", "random"}
    assert len(result.samples["random"]["ttft_ms"]) == result.summary.set_index(
        "group").loc["random", "ok_requests"]


def test_latency_cdf_spans_min_to_max(bench_frame: pd.DataFrame):
    cdf = latency_cdf(bench_frame, "ttft_ms", ["strategy"], points=11)
    rows = cdf[cdf["group"] == "random"]
    ok = bench_frame[(bench_frame["strategy"] == "random") & bench_frame["ok"]]
    assert rows["value_ms"].iloc[0] == pytest.approx(ok["ttft_ms"].min())
    assert rows["value_ms"].iloc[-1] == pytest.approx(ok["ttft_ms"].max())


def test_time_series_counts_requests_in_flight():
    records = [{"request_id": f"0-{i}", "strategy": "s", "intended_s": 10.0 + i,
                "sent_s": 10.0 + i, "status": 200, "token_times_s": [10.5 + i],
                "chunk_tokens": [1], "done_s": 12.5 + i, "output_tokens": 1} for i in range(3)]
    series = time_series(records_to_frame(records), ["strategy"], step_s=1.0)
    assert series["in_flight"].tolist() == [1, 2, 3, 2, 1]
    assert series["output_tokens_per_s"].tolist() == [1, 1, 1, 0, 0]


def test_every_formula_source_documents_its_formula():
    formulas = metric_formulas()
    assert {"TTFT", "ITL", "TPOT", "E2E", "Goodput", "Pod balance"} <= set(formulas)
    assert all(len(text) > 20 for text in formulas.values())


def test_validity_counts_a_short_poisson_schedule_by_its_own_arrivals():
    # 2 req/s for 8 s with seed 5 holds only 10 arrivals: rate x duration would call a
    # generator that sent all of them 40 % short.
    schedule = Schedule(2, 8, arrival="poisson", seed=5)
    offsets = arrival_offsets(2, 8, Arrival.POISSON, 5)
    assert len(offsets) == 10
    assert schedule.expected_requests(warmup_s=0) == 10
    row = {"group": "g", "send_lag_ms_p99": 0.1, "error_rate": 0.0, "send_span_s": 7.0}
    kept = pd.Series({**row, "sent_requests": 10})
    short = pd.Series({**row, "sent_requests": 5})
    assert level_reasons(kept, schedule, ValidityBounds()) == []
    assert "sent 5 of the 10 scheduled" in level_reasons(short, schedule, ValidityBounds())[0]


def _sweep_summary(ttft_p99: list[float]) -> pd.DataFrame:
    rates = [4.0, 8.0, 16.0][:len(ttft_p99)]
    return pd.DataFrame({"group": [f"random, repeat=0, rate_per_s={r}" for r in rates],
                         "rate_per_s": rates, "sent_requests": [r * 10 for r in rates],
                         "send_span_s": 10.0, "send_lag_ms_p99": 0.2, "error_rate": 0.0,
                         "ttft_ms_p99": ttft_p99})


def test_sweep_lists_the_saturated_level_and_stays_valid():
    validity = check_validity(_sweep_summary([50, 90, 4000]), Schedule(None, 10),
                              ValidityBounds(saturation_ttft_p99_ms=1000), sweep=True)
    assert validity.valid, validity.reasons
    assert validity.saturated == ("random, repeat=0, rate_per_s=16.0: "
                                  "TTFT p99 4000.0 ms exceeds 1000 ms",)


def test_sweep_without_a_sustained_level_is_invalid():
    validity = check_validity(_sweep_summary([4000]), Schedule(None, 10),
                              ValidityBounds(saturation_ttft_p99_ms=1000), sweep=True)
    assert validity.reasons == ("random, repeat=0: no level of the sweep was sustained",)
