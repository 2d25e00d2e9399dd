"""The benchmark report: versioned JSON, CSV, self-contained HTML skeleton, banners, sentences."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path

import pytest

from brixcheck.analysis import (
    AnalysisOptions,
    Schedule,
    ValidityBounds,
    analyze,
    metric_formulas,
    records_to_frame,
)
from brixcheck.analysis.paired import PairedDifference
from brixcheck.analysis.stats import Interval
from brixcheck.report import SCHEMA_VERSION, RunInfo, benchmark_document, write_benchmark_report
from brixcheck.report.comparison import statement
from brixcheck.report.html import render_html

ENVIRONMENT = {"target": "twin", "gpuProduct": "NVIDIA-GeForce-RTX-4060", "driver": "580.1",
               "engineImage": "brixcheck-emulator", "engineVersion": "0.1.0", "model": "m",
               "aibrixVersion": "v0.5.0", "scenario": "streaming-chat"}
OPTIONS = AnalysisOptions(warmup_s=2.0, schedule=Schedule(20, 15),
                          bounds=ValidityBounds(min_achieved_fraction=0.85))
SKELETON = ["Figures", "Environment", "Strategy comparison (paired by request)",
            "All summary metrics", "Errors", "Per-pod balance",
            "Engine telemetry per pod (measured window)",
            "GPU telemetry (NVML on the benchmark host)", "Run configuration", "Metric formulas"]


@pytest.fixture(scope="module")
def written(bench_records, tmp_path_factory):
    result = analyze(records_to_frame(bench_records), OPTIONS)
    info = RunInfo("night-1", "2026-01-01T02:00:00Z", ENVIRONMENT, {"rate_per_s": 20})
    return result, write_benchmark_report(result, info, tmp_path_factory.mktemp("report"))


def test_json_report_is_versioned_and_complete(written):
    _, paths = written
    doc = json.loads(paths.json.read_text())
    assert doc["schemaVersion"] == SCHEMA_VERSION == "brixcheck.benchmark/v1alpha3"
    assert doc["status"] == "VALID"
    assert doc["environment"] == ENVIRONMENT
    assert re.fullmatch(r"[0-9a-f]{16}", doc["fingerprint"])
    assert doc["config"]["run"] == {"rate_per_s": 20}
    assert doc["config"]["analysis"]["warmup_s"] == 2.0
    assert doc["formulas"] == metric_formulas()
    assert {row["group"] for row in doc["summary"]} == {"least-request", "random"}
    assert doc["errors"][0]["error_label"] == "503 x-error-no-model-backends"
    assert {c["metric"] for c in doc["comparisons"]} == {"ttft_ms", "e2e_ms"}


def test_csv_report_has_one_row_per_strategy(written):
    _, paths = written
    rows = list(csv.DictReader(io.StringIO(paths.csv.read_text())))
    assert [r["group"] for r in rows] == ["least-request", "random"]
    assert float(rows[0]["ttft_ms_p50"]) < float(rows[1]["ttft_ms_p50"])


def test_html_report_skeleton(written):
    _, paths = written
    page = paths.html.read_text()
    assert re.findall(r"<h2>(.*?)</h2>", page) == SKELETON
    for table_id in ("leaderboard", "environment", "summary", "errors", "pods"):
        assert f'<table id="{table_id}">' in page
    assert page.index('<table id="leaderboard">') < page.index("<h2>")  # the answer first
    assert 'class="banner VALID compact"' in page


def test_html_report_embeds_its_figures_and_nothing_external(written):
    _, paths = written
    page = paths.html.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4  # one rate level: CI bars instead of the two across-level curves
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_html_report_quotes_the_formulas(written):
    _, paths = written
    page = paths.html.read_text()
    assert "<dt>TTFT</dt>" in page
    assert "TPOT = (E2E - TTFT) / (output_tokens - 1)" in page


def test_comparison_markdown_states_the_winner(written):
    _, paths = written
    text = paths.comparison.read_text()
    assert re.search(r"least-request is lower than random on TTFT by [\d.]+ ms \(95% CI "
                     r"[\d.]+\.\.[\d.]+ ms, \d+ paired requests\)", text)


def _page(result, info) -> str:
    return render_html(benchmark_document(result, info), [])


def test_invalid_run_gets_a_red_banner_with_the_reason(bench_records):
    options = AnalysisOptions(warmup_s=2.0, bounds=ValidityBounds(max_send_lag_p99_ms=0.01))
    result = analyze(records_to_frame(bench_records), options)
    page = _page(result, RunInfo("bad", "2026-01-01T00:00:00Z"))
    assert 'class="banner INVALID"' in page
    assert "send lag p99" in page
    assert "(INVALID)</title>" in page


def test_partial_run_gets_a_partial_banner(bench_records):
    result = analyze(records_to_frame(bench_records), OPTIONS)
    page = _page(result, RunInfo("cut", "2026-01-01T00:00:00Z",
                                 partial_reason="Locust died after 9 s"))
    assert 'class="banner PARTIAL"' in page
    assert "Locust died after 9 s" in page


def _diff(low: float, high: float) -> PairedDifference:
    return PairedDifference("ttft_ms", "a", "b", "", Interval((low + high) / 2, low, high,
                                                              0.95, 300))


@pytest.mark.parametrize(("low", "high", "text"), [
    (-5.0, -1.0, "a is lower than b on TTFT by 3.00 ms (95% CI 1.00..5.00 ms, 300 paired "
                 "requests)"),
    (1.0, 5.0, "b is lower than a on TTFT by 3.00 ms (95% CI 1.00..5.00 ms, 300 paired "
               "requests)"),
    (-1.0, 2.0, "no significant difference on TTFT between a and b: a - b = +0.50 ms (95% CI "
                "-1.00..+2.00 ms, 300 paired requests)"),
])
def test_statement_wording(low, high, text):
    assert statement(_diff(low, high)) == text


def test_report_json_has_no_nan(tmp_path: Path):
    result = analyze(records_to_frame([]))
    paths = write_benchmark_report(result, RunInfo("empty", "2026-01-01T00:00:00Z"), tmp_path)
    doc = json.loads(paths.json.read_text())
    assert doc["status"] == "INVALID"
    assert doc["validity"]["reasons"] == ["no measured requests"]
