"""A benchmark run tells the terminal how it goes, and ends with a table with units."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from brixcheck.bench import runner
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.bench.terminal import locust_counts, summary_table
from brixcheck.load.records import read_records
from tests.integration.conftest import MODEL, EngineHostHandle

LINE = re.compile(r"\[load\] progress\[baseline\]-r0: 5 req/s, (\d+) s of 6 s, "
                  r"(\d+) requests done, (\d+) errors")


def test_a_running_load_reports_its_progress(engine_host: EngineHostHandle, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runner, "PROGRESS_S", 1.0)
    url = engine_host.start("progress")
    scenario = Scenario(
        id="progress", description="progress lines", strategies=["baseline"],
        workload=Workload(model=MODEL, prompt_words=20, output_tokens=8, seed=5),
        load=Load(rate_per_s=5, duration_s=6, warmup_s=0))
    lines: list[str] = []
    result = runner.run_once(scenario, "baseline", 0, url, tmp_path, progress=lines.append)
    assert result.returncode == 0
    matches = [LINE.fullmatch(line) for line in lines]
    assert len(lines) >= 3, lines
    assert all(matches), lines
    done = [int(m.group(2)) for m in matches]
    assert done == sorted(done), "requests done only grow"
    assert done[-1] > 0
    records = [r for f in result.records.glob("*.jsonl") for r in read_records(f)]
    # Locust rewrites its stats CSV every second, so it may trail the records a little.
    requests, errors = locust_counts(result.records)
    assert 0 < requests <= len(records)
    assert errors == 0


def test_summary_table_has_units_a_row_per_group_and_the_report():
    rows = [{"group": "baseline-r0", "requests": 120, "failed_requests": 2,
             "ttft_ms_p50": 41.25, "ttft_ms_p99": 90.0, "itl_ms_p50": 10.5, "itl_ms_p99": 12.0,
             "output_tokens_per_s": 512.34},
            {"group": "random-r0", "requests": 0, "failed_requests": 0,
             "ttft_ms_p50": float("nan")}]
    lines = summary_table("chat", rows, Path("reports/bench-x/benchmark-chat.html"))
    assert "benchmark chat" in lines[0]
    for heading in ("requests", "errors", "TTFT p50 ms", "TTFT p99 ms", "ITL p50 ms",
                    "ITL p99 ms", "out tok/s"):
        assert heading in lines[1]
    assert lines[2].split() == ["baseline-r0", "120", "2", "41.2", "90.0", "10.50", "12.00",
                                "512.3"]
    assert lines[3].split()[:4] == ["random-r0", "0", "0", "-"]
    assert lines[-1] == "benchmark report: reports/bench-x/benchmark-chat.html"
