"""The nightly gate: an injected 20% slow-down of the engine is flagged by `brixcheck compare`,
and a rerun without it is not. Runs the real pipeline: Locust through the twin's Envoy, records,
analysis, report, history, compare.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client

from brixcheck.bench.reporting import report_scenario, run_info
from brixcheck.bench.runner import run_once
from brixcheck.bench.scenario import Scenario
from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until
from tests.twin.test_twin_pods import MODEL_ARGS, _pod, _ready

pytestmark = [pytest.mark.twin, pytest.mark.timeout(600)]
MODEL = "reg-model"
SCENARIO = Scenario.model_validate({
    "id": "regression-gate", "description": "fixed load for the gate test",
    "strategies": ["baseline"], "workload": {"model": MODEL, "prompt_words": 50,
                                             "output_tokens": 32, "seed": 3},
    "load": {"mode": "open", "arrival": "constant", "rate_per_s": 10, "duration_s": 15,
             "warmup_s": 2}})


def _serve(core: client.CoreV1Api, namespace: str, slowdown: float) -> None:
    try:
        core.delete_namespaced_pod(MODEL, namespace, grace_period_seconds=0)
        wait_until(lambda: not core.list_namespaced_pod(namespace).items, 30, "old pod gone")
    except client.ApiException:
        pass
    pod = _pod(MODEL, [*MODEL_ARGS, "--served-model-name", MODEL],
               {"brixcheck.io/engine-args": f"--emu-load-time-factor 0.02 "
                                            f"--emu-slowdown {slowdown}"})
    core.create_namespaced_pod(namespace, pod)
    wait_until(lambda: _ready(core, namespace, MODEL), 60, "the model pod to be Ready")


def _night(name: str, gateway: str, out: Path, db: Path) -> str:
    result = run_once(SCENARIO, "baseline", 0, gateway, out / name, {"model": MODEL})
    info = run_info(name, SCENARIO, {"target": "twin", "model": MODEL, "scenario": SCENARIO.id})
    report_scenario(SCENARIO, [result], info, out / name, db)
    return info.run_id


def _compare(db: Path, baseline: str, candidate: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "brixcheck.cli", "compare", "--db", str(db),
                           "--baseline", baseline, "--candidate", candidate],
                          capture_output=True, text=True, check=False)


def test_slowdown_is_flagged_and_a_rerun_is_not(twin: TwinLayout, core: client.CoreV1Api,
                                                namespace: str, tmp_path: Path):
    gateway = json.loads((twin.run_dir / "dataplane.json").read_text())["gateway"]
    db = tmp_path / "history.sqlite"
    _serve(core, namespace, 1.0)
    first = _night("night-1", gateway, tmp_path, db)
    second = _night("night-2", gateway, tmp_path, db)
    _serve(core, namespace, 1.2)
    slow = _night("night-3", gateway, tmp_path, db)
    rerun = _compare(db, first, second)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    flagged = _compare(db, first, slow)
    assert flagged.returncode == 1, flagged.stdout + flagged.stderr
    assert "regress" in flagged.stdout.lower()
