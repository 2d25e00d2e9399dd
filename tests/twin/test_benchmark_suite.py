"""`pytest suites/benchmark` against the twin the way a user runs it: one scenario, its report,
its records and the engine telemetry sampled beside them; strategies without a gateway are
NOT-SUPPORTED, not silently left out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]


def test_baseline_scenario_reports_with_telemetry(twin, tmp_path: Path):
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "suites/benchmark", "-q", "-rs",
                          "-p", "no:cacheprovider", "-k", "baseline-streaming",
                          f"--history-db={tmp_path / 'history.sqlite'}", f"--junitxml={junit}"],
                         cwd=REPO, capture_output=True, text=True, check=False, timeout=280)
    assert run.returncode == 0, run.stdout[-3000:]
    html = next(line.split("benchmark report: ")[1] for line in run.stdout.splitlines()
                if "benchmark report: " in line and "baseline-streaming" in line)
    doc = json.loads((REPO / html).with_suffix(".json").read_text())
    assert doc["status"] == "VALID", doc["validity"]
    assert doc["summary"][0]["ok_requests"] > 0
    assert doc["enginePods"], "engine /metrics were sampled during the run"
    records = list((REPO / html).parent.glob("baseline-streaming/baseline-r0/*.jsonl"))
    assert records, "raw records are kept beside the report"


def _locust_running(out: str) -> bool:
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "locust" in cmdline and out in cmdline:
            return True
    return False


def test_interrupted_benchmark_keeps_a_partial_report_and_stops_locust(twin, tmp_path: Path):
    from brixcheck.history.store import ResultsDb
    from tests.twin.conftest import wait_until

    db = tmp_path / "history.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "suites/benchmark", "-q",
                             "-p", "no:cacheprovider", "-k", "baseline-streaming",
                             f"--history-db={db}"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started = time.time()

    def records() -> list[Path]:
        """This run's records once 20 requests (past the 2 s warm-up at 4/s) finished."""
        files = [p for p in REPO.glob("reports/bench-*/baseline-streaming/baseline-r0/*.jsonl")
                 if p.stat().st_mtime > started]
        return files if sum(p.read_text().count("\n") for p in files) >= 20 else []

    written = wait_until(records, 120, "20 of the run's records")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert "Traceback" not in out
    assert not _locust_running(str(written[0].parent)), "Locust outlived the run"
    line = next(x for x in out.splitlines() if "benchmark PARTIAL" in x)
    assert "baseline-r0: interrupted by SIGINT" in line
    doc = json.loads((REPO / line.rsplit(": ", 1)[1]).with_suffix(".json").read_text())
    assert doc["status"] == "PARTIAL"
    assert doc["summary"][0]["ok_requests"] > 0, "the requests before the interrupt are kept"
    with ResultsDb(db) as history:
        assert [run.status for run in history.runs()] == ["PARTIAL"]
