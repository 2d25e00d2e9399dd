"""Summary metrics against closed-form values of deterministic records (oracle.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from brixcheck.analysis import SloSet, error_table, pod_table, records_to_frame, summarize
from brixcheck.analysis.metrics import balance_indices, prefix_cache_hit_rate
from brixcheck.analysis.window import measured
from tests.unit.analysis.oracle import DONE_AFTER_LAST_S, GAP_S, TOKENS, TTFT_S, constant_run

E2E_MS = (TTFT_S + (TOKENS - 1) * GAP_S + DONE_AFTER_LAST_S) * 1000


def _summary(records, **kwargs) -> pd.Series:
    return summarize(records_to_frame(records), **kwargs).iloc[0]


def test_summary_latency_percentiles_match_the_schedule():
    row = _summary(constant_run())
    for p in (50, 90, 99):
        assert row[f"ttft_ms_p{p}"] == pytest.approx(TTFT_S * 1000)
        assert row[f"itl_ms_p{p}"] == pytest.approx(GAP_S * 1000)
        assert row[f"e2e_ms_p{p}"] == pytest.approx(E2E_MS)
        assert row[f"tpot_ms_p{p}"] == pytest.approx((E2E_MS - TTFT_S * 1000) / (TOKENS - 1))
    assert row["send_lag_ms_p99"] == pytest.approx(0.2)


def test_summary_percentiles_interpolate_linearly():
    records = constant_run(rate_per_s=1, duration_s=5)
    for i, rec in enumerate(records):  # TTFTs 10, 20, 30, 40, 50 ms
        shift = (i + 1) * 0.010 - TTFT_S
        rec["token_times_s"] = [t + shift for t in rec["token_times_s"]]
        rec["done_s"] += shift
    row = _summary(records)
    assert row["ttft_ms_p50"] == pytest.approx(30.0)
    assert row["ttft_ms_p90"] == pytest.approx(46.0)
    assert row["ttft_ms_p99"] == pytest.approx(49.6)


def test_summary_warmup_drops_requests_intended_before_start_plus_warmup():
    row = _summary(constant_run(rate_per_s=10, duration_s=10), warmup_s=2.0)
    assert row["requests"] == 80  # offsets 2.0 .. 9.9


def test_summary_throughput_counts_the_measured_window_only():
    row = _summary(constant_run(rate_per_s=10, duration_s=10), warmup_s=2.0)
    duration = 9.9 + E2E_MS / 1000 - 2.0  # last request's end minus window start
    assert row["duration_s"] == pytest.approx(duration)
    assert row["requests_per_s"] == pytest.approx(80 / duration)
    assert row["output_tokens_per_s"] == pytest.approx(80 * TOKENS / duration)


def test_goodput_requires_every_threshold_of_the_set():
    records = constant_run(rate_per_s=10, duration_s=2)
    for rec in records[:5]:  # 5 of 20 requests get TTFT 250 ms
        rec["token_times_s"] = [t + 0.2 for t in rec["token_times_s"]]
        rec["done_s"] += 0.2
    slos = (SloSet("ttft", ttft_ms=100), SloSet("e2e", e2e_ms=100), SloSet("none"))
    row = _summary(records, slos=slos)
    assert row["goodput_ttft_fraction"] == pytest.approx(15 / 20)
    assert row["goodput_ttft_per_s"] == pytest.approx(15 / row["duration_s"])
    assert row["goodput_e2e_fraction"] == 0.0
    assert row["goodput_none_fraction"] == 1.0


def test_failures_count_against_goodput_and_error_rate_but_not_latency():
    records = constant_run(rate_per_s=10, duration_s=1)
    records[0].update(status=503, error_header="x-error-no-model-backends: m",
                      token_times_s=[], chunk_tokens=[], done_s=None, error="no backends")
    row = _summary(records, slos=(SloSet("any"),))
    assert (row["requests"], row["failed_requests"]) == (10, 1)
    assert row["error_rate"] == pytest.approx(0.1)
    assert row["goodput_any_fraction"] == pytest.approx(0.9)
    assert row["ttft_ms_p99"] == pytest.approx(TTFT_S * 1000)


def test_error_table_groups_labels_with_counts_and_samples():
    frame = records_to_frame(constant_run(rate_per_s=10, duration_s=1))
    frame.loc[:2, ["ok", "error_label", "error"]] = [False, "503 x-error-no-model-backends", "a"]
    frame.loc[3, ["ok", "error_label", "error"]] = [False, "0 ConnectionRefusedError", "refused"]
    table = error_table(measured(frame, ["strategy"], 0.0), ["strategy"])
    counts = dict(zip(table["error_label"], table["count"], strict=True))
    assert counts == {"0 ConnectionRefusedError": 1, "503 x-error-no-model-backends": 3}
    assert table.set_index("error_label").loc["0 ConnectionRefusedError", "samples"] == [
        "refused"]


def test_balance_indices_of_two_to_one_to_one():
    indices = balance_indices([2, 1, 1])
    assert indices["max_over_mean"] == pytest.approx(1.5)
    assert indices["cv"] == pytest.approx(math.sqrt(2 / 9) / (4 / 3))


def test_pod_table_lists_expected_but_unused_pods_with_zero():
    frame = records_to_frame(constant_run(rate_per_s=10, duration_s=1, pods=("a", "b")))
    table = pod_table(measured(frame, ["strategy"], 0.0), ["strategy"], pods=("a", "b", "c"))
    assert table.set_index("target_pod")["requests"].to_dict() == {"a": 5, "b": 5, "c": 0}
    row = _summary(constant_run(rate_per_s=10, duration_s=1, pods=("a", "b")),
                   pods=("a", "b", "c"))
    assert row["pod_requests_max_over_mean"] == pytest.approx(5 / (10 / 3))


def test_prefix_cache_hit_rate_is_cached_over_prompt_tokens():
    frame = records_to_frame(constant_run(rate_per_s=10, duration_s=1))
    assert prefix_cache_hit_rate(frame) == pytest.approx(0.4)
    frame["cached_tokens"] = None
    assert math.isnan(prefix_cache_hit_rate(frame))


def test_summarize_gives_one_row_per_strategy(bench_frame: pd.DataFrame):
    summary = summarize(bench_frame, ["strategy"], warmup_s=2.0).set_index("strategy")
    assert list(summary.index) == ["least-request", "random"]
    assert summary.loc["least-request", "ttft_ms_p50"] < summary.loc["random", "ttft_ms_p50"]
    assert summary.loc["random", "failed_requests"] > 0
    assert summary.loc["least-request", "pod_requests_max_over_mean"] > summary.loc[
        "random", "pod_requests_max_over_mean"]
