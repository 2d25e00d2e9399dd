"""Engine telemetry over a run's window: counter increases, the engine hit rate, per-pod load."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from brixcheck.analysis import AnalysisOptions, analyze, records_to_frame
from brixcheck.analysis.telemetry import (
    counter_increase,
    engine_pod_load,
    engine_prefix_cache_hit_rate,
    engine_series,
    gpu_load,
    load_telemetry,
)
from brixcheck.report import RunInfo, write_benchmark_report


def _line(t: float, pod: str, metric: str = "", value: float | None = None,
          gap: str = "", source: str = "engine", labels: dict | None = None) -> dict:
    row = {"t_s": t, "wall_s": 1.7e9 + t, "source": source, "instance": pod}
    if gap:
        return {**row, "gap": gap}
    return {**row, "metric": metric, "labels": labels or {"model_name": "m", "engine": "0"},
            "value": value}


def _frame(lines: list[dict], tmp_path: Path, **labels) -> pd.DataFrame:
    path = tmp_path / f"t-{len(list(tmp_path.iterdir()))}.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return load_telemetry([path], labels)


def test_counter_increase_sums_steps_and_treats_a_drop_as_a_restart():
    assert counter_increase([1, 3, 6]) == 5
    assert counter_increase([5, 8, 2, 4]) == 3 + 2 + 2
    assert counter_increase([7]) == 0


def test_hit_rate_takes_counters_at_the_samples_bracketing_the_window(tmp_path):
    # Before the window the cache missed everything; inside it, 3 of 4 tokens hit.
    lines = []
    for t, queries, hits in ((0, 0, 0), (1, 400, 0), (2, 800, 0), (3, 1200, 300),
                             (4, 1600, 600), (5, 2000, 900), (6, 2400, 1200)):
        lines += [_line(t, "a", "vllm:prefix_cache_queries", queries),
                  _line(t, "a", "vllm:prefix_cache_hits", hits)]
    samples = _frame(lines, tmp_path)
    assert engine_prefix_cache_hit_rate(samples, 2.0, 5.0) == pytest.approx(0.75)
    assert engine_prefix_cache_hit_rate(samples, 2.5, 4.5) == pytest.approx(0.75)  # 2 .. 5
    assert engine_prefix_cache_hit_rate(samples, 0.0, 6.0) == pytest.approx(1200 / 2400)


def test_hit_rate_sums_pods_and_reads_older_names(tmp_path):
    lines = []
    for t in range(4):
        lines += [_line(t, "a", "vllm:prefix_cache_queries", 100 * t),
                  _line(t, "a", "vllm:prefix_cache_hits", 10 * t),
                  _line(t, "b", "vllm:gpu_prefix_cache_queries", 100 * t),
                  _line(t, "b", "vllm:gpu_prefix_cache_hits", 50 * t)]
    lines.append(_line(1.5, "b", gap="ConnectError: refused"))
    assert engine_prefix_cache_hit_rate(_frame(lines, tmp_path), 0, 3) == pytest.approx(0.3)


def test_hit_rate_is_nan_without_queries(tmp_path):
    samples = _frame([_line(0, "a", "vllm:num_requests_running", 1)], tmp_path)
    assert math.isnan(engine_prefix_cache_hit_rate(samples, 0, 1))


def test_pod_load_keeps_the_window_sums_series_and_falls_back_to_gpu_cache_usage(tmp_path):
    lines = [_line(t, "a", "vllm:num_requests_running", r) for t, r in
             ((0, 9), (1, 2), (2, 4), (9, 9))]
    lines += [_line(1, "a", "vllm:num_requests_waiting", 1, labels={"engine": "0"}),
              _line(1, "a", "vllm:num_requests_waiting", 2, labels={"engine": "1"}),
              _line(2, "a", "vllm:num_requests_waiting", 0, labels={"engine": "0"}),
              _line(1, "a", "vllm:gpu_cache_usage_perc", 0.2),
              _line(2, "a", "vllm:gpu_cache_usage_perc", 0.6),
              _line(1.5, "a", gap="ReadTimeout: timed out")]
    row = engine_pod_load(_frame(lines, tmp_path), 1, 2).iloc[0]
    assert (row["pod"], row["samples"], row["gaps"]) == ("a", 2, 1)
    assert (row["running_mean"], row["running_max"]) == (3, 4)
    assert (row["waiting_mean"], row["waiting_max"]) == (1.5, 3)
    assert row["kv_usage_mean"] == pytest.approx(0.4)
    assert row["kv_usage_max"] == pytest.approx(0.6)


def test_series_breaks_at_gaps_and_counts_from_the_group_start(tmp_path):
    lines = [_line(10, "a", "vllm:num_requests_running", 1),
             _line(10, "a", "vllm:kv_cache_usage_perc", 0.1),
             _line(11, "a", gap="ConnectError"),
             _line(12, "a", "vllm:num_requests_running", 3)]
    series = engine_series(_frame(lines, tmp_path), start_s=10)
    assert series["t_s"].tolist() == [0, 1, 2]
    assert series["running"].tolist()[0] == 1
    assert math.isnan(series["running"].tolist()[1])


def test_gpu_load_per_device(tmp_path):
    lines = [_line(t, "0", m, v, source="gpu", labels={}) for t, m, v in
             ((1, "gpu:utilization_perc", 50), (2, "gpu:utilization_perc", 100),
              (1, "gpu:power_watts", 70.5), (1, "gpu:memory_used_bytes", 4e9))]
    row = gpu_load(_frame(lines, tmp_path), 0, 5).iloc[0]
    assert (row["gpu"], row["utilization_perc_mean"], row["utilization_perc_max"]) == ("0", 75, 100)
    assert row["power_watts_max"] == 70.5


def _telemetry_of_run(start: float, hits_per_query: float, tmp_path: Path,
                      strategy: str) -> pd.DataFrame:
    lines = []
    for k in range(20):
        for pod in ("pod-a", "pod-b"):
            lines += [_line(start + k, pod, "vllm:num_requests_running", k % 3),
                      _line(start + k, pod, "vllm:num_requests_waiting", 0),
                      _line(start + k, pod, "vllm:kv_cache_usage_perc", k / 40),
                      _line(start + k, pod, "vllm:prefix_cache_queries", 100 * k),
                      _line(start + k, pod, "vllm:prefix_cache_hits", 100 * k * hits_per_query)]
    return _frame(lines, tmp_path, strategy=strategy)


def test_analyze_puts_engine_hit_rate_beside_the_client_one_and_reports_it(bench_records,
                                                                            tmp_path):
    telemetry = pd.concat([_telemetry_of_run(1000.0, 0.25, tmp_path, "random"),
                           _telemetry_of_run(5000.0, 0.5, tmp_path, "least-request")],
                          ignore_index=True)
    result = analyze(records_to_frame(bench_records), AnalysisOptions(warmup_s=2.0), telemetry)
    summary = result.summary.set_index("group")
    columns = list(result.summary.columns)
    assert columns.index("engine_prefix_cache_hit_rate") == \
        columns.index("prefix_cache_hit_rate") + 1
    assert summary.loc["random", "engine_prefix_cache_hit_rate"] == pytest.approx(0.25)
    assert summary.loc["least-request", "engine_prefix_cache_hit_rate"] == pytest.approx(0.5)
    assert set(result.telemetry.pods["pod"]) == {"pod-a", "pod-b"}
    assert result.telemetry.pods["running_max"].max() == 2
    paths = write_benchmark_report(result, RunInfo("r", "2026-01-01T00:00:00Z"), tmp_path / "rep")
    doc = json.loads(paths.json.read_text())
    assert len(doc["enginePods"]) == 4
    assert doc["gpus"] == []
    assert "engine_prefix_cache_hit_rate" in paths.csv.read_text().splitlines()[0]
    assert "Engine metrics over time" in paths.html.read_text()


def test_analyze_without_telemetry_leaves_the_engine_hit_rate_undefined(bench_frame):
    result = analyze(bench_frame)
    assert result.summary["engine_prefix_cache_hit_rate"].isna().all()
    assert result.telemetry.pods.empty
    assert result.telemetry.series.empty


def test_pod_requests_come_from_the_success_counter(tmp_path):
    lines = [_line(t, "a", "vllm:request_success", v) for t, v in ((0, 5), (1, 6), (3, 9))]
    lines += [_line(1, "b", "vllm:num_requests_running", 0)]
    rows = engine_pod_load(_frame(lines, tmp_path), 1, 3).set_index("pod")
    assert rows.loc["a", "requests"] == 3
    assert math.isnan(rows.loc["b", "requests"])  # not exported: undefined, not zero


def test_a_router_without_target_pod_gets_balance_from_the_engines(bench_records, tmp_path):
    records = [{**r, "target_pod": ""} for r in bench_records]  # responses name no pod
    lines = []
    for k in range(20):
        lines += [_line(1000.0 + k, "pod-a", "vllm:request_success", 3 * k),
                  _line(1000.0 + k, "pod-b", "vllm:request_success", k)]
    telemetry = _frame(lines, tmp_path, strategy="random")
    result = analyze(records_to_frame(records), AnalysisOptions(warmup_s=2.0), telemetry)
    row = result.summary.set_index("group").loc["random"]
    assert row["pods"] == 2
    assert row["pod_requests_max_over_mean"] == pytest.approx(1.5)  # 3:1 split
