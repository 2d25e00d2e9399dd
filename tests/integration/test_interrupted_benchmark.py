"""A benchmark run that is interrupted, or whose load generator dies, keeps what it measured.

A child process runs one scenario with brixcheck's runner against a real emulated engine, the
way the benchmark suite does, and writes the scenario's report and history row at the end. The
test interrupts it (or kills its Locust) halfway, then compares the records on disk with the
requests the engine had finished at that instant.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from brixcheck.history.store import ResultsDb
from brixcheck.load.records import read_records
from tests.integration.conftest import EngineHostHandle, poll

pytestmark = pytest.mark.timeout(180)
REPO = Path(__file__).resolve().parents[2]
RATE_PER_S, DURATION_S = 20, 12
SCENARIO = f"""
id: interrupted
description: half a run, then an interrupt
strategies: [baseline]
workload: {{model: deepseek-r1-qwen-1b5, prompt_words: 20, output_tokens: 8, seed: 3}}
load: {{mode: open, arrival: constant, rate_per_s: {RATE_PER_S}, duration_s: {DURATION_S},
        warmup_s: 0}}
repeats: 1
"""
CHILD = """
import json, sys
from pathlib import Path
from brixcheck.bench.reporting import partial_reason, report_scenario, run_info
from brixcheck.bench.runner import RunInterrupted, run_once
from brixcheck.bench.scenario import load_scenario
from brixcheck.interrupts import CURRENT

CURRENT.install()
scenario_file, host, out = sys.argv[1:4]
scenario = load_scenario(Path(scenario_file))
try:
    result = run_once(scenario, "baseline", 0, host, Path(out), {"model": "deepseek-r1-qwen-1b5"})
except RunInterrupted as stop:
    result = stop.result
paths = report_scenario(scenario, [result], run_info("t", scenario, {}, partial_reason([result])),
                        Path(out), Path(out) / "history.sqlite")
print(json.dumps({"records": str(result.records), "report": str(paths.json)}))
"""


def _finished(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    match = re.search(r"^vllm:request_success_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _locust_pids(out: Path) -> list[int]:
    """Locust processes whose command line names this run's output directory."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "locust" in cmdline and str(out) in cmdline:
            pids.append(int(proc.name))
    return pids


def _run_halfway(engine_host: EngineHostHandle, tmp_path: Path, name: str,
                 stop: callable) -> tuple[dict, float, Path]:
    url = engine_host.start(name)
    (tmp_path / "scenario.yaml").write_text(SCENARIO)
    (tmp_path / "child.py").write_text(CHILD)
    out = tmp_path / "out"
    child = subprocess.Popen([sys.executable, str(tmp_path / "child.py"),
                              str(tmp_path / "scenario.yaml"), url, str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    poll(lambda: _finished(url) >= RATE_PER_S * DURATION_S / 2, DURATION_S + 30,
         "half the scenario's requests")
    finished = _finished(url)
    stop(child, out)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 0, stderr[-3000:]
    assert not _locust_pids(out), "Locust outlived the run"
    return json.loads(stdout.strip().splitlines()[-1]), finished, out


def _kept(paths: dict) -> int:
    return sum(r["status"] == 200 for f in Path(paths["records"]).glob("*.jsonl")
               for r in read_records(f))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_halfway_keeps_the_records_and_a_partial_report(
        engine_host: EngineHostHandle, tmp_path: Path, record_property, sig):
    paths, finished, out = _run_halfway(engine_host, tmp_path, f"interrupt-{sig.name}",
                                        lambda child, _: child.send_signal(sig))
    kept = _kept(paths)
    record_property("kept_of_finished", f"{kept}/{finished:.0f}")
    print(f"kept {kept} records of {finished:.0f} requests finished at the interrupt")
    assert kept >= 0.99 * finished, f"{kept} records for {finished:.0f} finished requests"
    assert kept < RATE_PER_S * DURATION_S  # it really stopped early
    report = json.loads(Path(paths["report"]).read_text())
    assert report["partial"] == {"partial": True,
                                 "reason": f"baseline-r0: interrupted by {sig.name}"}
    with ResultsDb(out / "history.sqlite") as db:
        assert db.run("t-interrupted").status == "PARTIAL"


def test_killed_load_generator_gives_a_partial_report_naming_it(
        engine_host: EngineHostHandle, tmp_path: Path):
    def kill_locust(_child: subprocess.Popen[str], out: Path) -> None:
        for pid in _locust_pids(out):
            os.kill(pid, signal.SIGKILL)

    paths, finished, out = _run_halfway(engine_host, tmp_path, "killed", kill_locust)
    assert _kept(paths) >= 0.99 * finished
    report = json.loads(Path(paths["report"]).read_text())
    assert report["partial"] == {"partial": True, "reason":
                                 "baseline-r0: the load generator was killed by SIGKILL"}
    with ResultsDb(out / "history.sqlite") as db:
        assert db.run("t-interrupted").status == "PARTIAL"
