"""brixcheck's Locust scenario against a real emulated engine: records match the ground truth."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from brixcheck.load.records import read_records
from brixcheck.load.run_spec import RUN_OPTION, OpenLoop, RunSpec, Workload, write_run
from brixcheck.load.schedule import Arrival
from tests.integration.conftest import EngineHostHandle

REPO = Path(__file__).resolve().parents[2]


def test_open_loop_scenario_writes_one_record_per_request(engine_host: EngineHostHandle,
                                                          tmp_path: Path):
    url = engine_host.start("locust", ["--served-model-name", "deepseek-r1-qwen-1b5"])
    spec = RunSpec(workload=Workload(model="deepseek-r1-qwen-1b5", output_tokens=8),
                   open_loop=OpenLoop(rate_per_s=10, arrival=Arrival.CONSTANT, duration_s=2),
                   ground_truth=True, records_dir=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles/streaming_chat.py"),
         "--headless", "--only-summary", "-H", url, RUN_OPTION,
         str(write_run(spec, tmp_path / "run" / "run.json")), "--run-time", "6s",
         "OpenLoopUser"],
        capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    records = [r for f in tmp_path.glob("*.jsonl") for r in read_records(f)]
    assert len(records) == 20
    for record in records:
        assert record["status"] == 200
        assert record["output_tokens"] == 8
        assert len(record["token_times_s"]) == len(record["truth"]["token_intended_s"]) == 8
        assert record["sent_s"] >= record["intended_s"]
        assert record["truth"]["arrival_s"] >= record["sent_s"]


def test_locust_without_a_run_file_exits_2_with_one_line(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles/streaming_chat.py"),
         "--headless", "--only-summary", "-H", "http://127.0.0.1:9", "--run-time", "2s",
         "OpenLoopUser"], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "brixcheck: no run file: pass --brixcheck-run FILE" in run.stderr
    assert "Traceback" not in run.stderr
