"""`pytest suites/benchmark` against the twin the way a user runs it: one scenario, its report,
its records and the engine telemetry sampled beside them; strategies without a gateway are
NOT-SUPPORTED, not silently left out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]


def test_baseline_scenario_reports_with_telemetry(twin, tmp_path: Path):
    junit = tmp_path / "junit.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "suites/benchmark", "-q", "-rs",
                          "-p", "no:cacheprovider", "-k", "baseline-streaming or prefix-sharing",
                          f"--history-db={tmp_path / 'history.sqlite'}", f"--junitxml={junit}"],
                         cwd=REPO, capture_output=True, text=True, check=False, timeout=280)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "NOT-SUPPORTED: strategy prefix-cache needs an AIBrix gateway" in run.stdout
    html = next(line.split("benchmark report: ")[1] for line in run.stdout.splitlines()
                if "benchmark report: " in line and "baseline-streaming" in line)
    doc = json.loads((REPO / html).with_suffix(".json").read_text())
    assert doc["status"] == "VALID", doc["validity"]
    assert doc["summary"][0]["ok_requests"] > 0
    assert doc["enginePods"], "engine /metrics were sampled during the run"
    records = list((REPO / html).parent.glob("baseline-streaming/baseline-r0/*.jsonl"))
    assert records, "raw records are kept beside the report"
