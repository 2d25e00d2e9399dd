"""A scenario's runs with telemetry files become report rows (the suite's glue, no cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brixcheck.bench.reporting import report_scenario, run_info
from brixcheck.bench.runner import RunResult, records_dir
from brixcheck.bench.scenario import discover
from brixcheck.bench.telemetry import telemetry_path
from brixcheck.errors import BrixcheckError
from tests.unit.synthetic import RunSpec, make_records


def _run(out: Path, scenario, strategy: str, start: float, hits: int) -> RunResult:
    records = records_dir(scenario, strategy, 0, out)
    records.mkdir(parents=True)
    (records / "0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in make_records(
        RunSpec(strategy, start_s=start, duration_s=10))))
    lines = [{"t_s": start + k, "wall_s": 0.0, "source": "engine", "instance": "pod-a",
              "metric": name, "labels": {}, "value": value}
             for k in range(-1, 14) for name, value in (("vllm:prefix_cache_queries", 10 * k),
                                                        ("vllm:prefix_cache_hits", hits * k),
                                                        ("vllm:num_requests_running", 2))]
    telemetry = telemetry_path(records)
    telemetry.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return RunResult(scenario.id, strategy, 0, records, 0.0, 0, telemetry=telemetry)


def test_report_scenario_reads_each_runs_telemetry(tmp_path):
    scenario = next(s for s in discover() if s.id == "baseline-streaming")
    runs = [_run(tmp_path, scenario, "random", 1000.0, 2), _run(tmp_path, scenario, "prefix-cache",
                                                               5000.0, 8)]
    paths = report_scenario(scenario, runs, run_info("t", scenario, {}), tmp_path, None)
    doc = json.loads(paths.json.read_text())
    rates = {row["strategy"]: row["engine_prefix_cache_hit_rate"] for row in doc["summary"]}
    assert rates == {"random": 0.2, "prefix-cache": 0.8}
    assert {row["pod"] for row in doc["enginePods"]} == {"pod-a"}


def test_a_corrupted_history_keeps_the_report_and_names_the_file(tmp_path):
    scenario = next(s for s in discover() if s.id == "baseline-streaming")
    runs = [_run(tmp_path, scenario, "baseline", 1000.0, 2)]
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"SQLite format 3\x00" + b"\x07" * 3000)  # a truncated, damaged file
    with pytest.raises(BrixcheckError, match=f"{history} is not a readable brixcheck results"):
        report_scenario(scenario, runs, run_info("t", scenario, {}), tmp_path, history)
    assert next(tmp_path.glob("benchmark-*.html")).stat().st_size > 0  # the report was kept
