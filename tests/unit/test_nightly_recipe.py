"""The nightly recipe (docs/nightly.md): the GitHub Actions workflow and the CronJob run the
nightly scenario, keep the history where the next night finds it, fail on a regression and keep
the reports. The workflow's gate step runs here in bash against history rows; actionlint checks
the workflow where it is installed; tests/twin/test_nightly_cronjob.py dry-runs the CronJob."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from brixcheck.bench.scenario import load_scenario
from tests.unit.history.helpers import store_run

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly-gpu.yml"
CRONJOB = ROOT / "manifests" / "nightly" / "cronjob.yaml"
SCENARIO = ROOT / "suites" / "nightly" / "nightly.yaml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _step(name: str) -> dict:
    return next(s for s in _workflow()["jobs"]["nightly"]["steps"] if s.get("name") == name)


def _cronjob() -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all(CRONJOB.read_text())}


def test_nightly_scenario_is_a_valid_scenario():
    scenario = load_scenario(SCENARIO)
    assert scenario.id == "nightly"
    assert scenario.repeats >= 2


def test_workflow_runs_nightly_on_a_self_hosted_gpu_runner():
    workflow = _workflow()
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1: on == True
    assert triggers["schedule"][0]["cron"]
    job = workflow["jobs"]["nightly"]
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    assert job["env"]["BRIXCHECK_SCENARIO_DIR"] == "suites/nightly"
    assert Path(job["env"]["BRIXCHECK_HISTORY_DB"]).is_absolute()  # outside the wiped workspace
    assert "brixcheck bench" in _step("Run the nightly scenario")["run"]
    assert '--history-db "$BRIXCHECK_HISTORY_DB"' in _step("Run the nightly scenario")["run"]
    assert '--db "$BRIXCHECK_HISTORY_DB"' in _step(
        "Regression gate against the last VALID night")["run"]
    keep = _step("Keep the reports")
    assert keep["if"] == "always()"
    assert keep["uses"].startswith("actions/upload-artifact@")
    assert "reports/bench-*/" in keep["with"]["path"]


def _gate(tmp_path: Path, db: Path) -> subprocess.CompletedProcess:
    """The workflow's gate step, in bash as Actions runs it (-eo pipefail)."""
    (tmp_path / "reports").mkdir(exist_ok=True)
    venv = tmp_path / ".venv"
    if not venv.exists():
        venv.symlink_to(ROOT / ".venv")
    env = {**os.environ, "BRIXCHECK_HISTORY_DB": str(db)}
    script = _step("Regression gate against the last VALID night")["run"]
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_workflow_gate_step_fails_the_job_on_a_regression(tmp_path: Path):
    db = tmp_path / "history.sqlite"
    store_run(db, "night-1", "2026-01-01T02:00:00Z", seed=1)
    store_run(db, "night-2", "2026-01-02T02:00:00Z", seed=2)
    passed = _gate(tmp_path, db)
    assert passed.returncode == 0, passed.stderr
    store_run(db, "night-3", "2026-01-03T02:00:00Z", seed=3, ttft_scale=1.2)
    failed = _gate(tmp_path, db)
    assert failed.returncode == 1, failed.stderr
    assert "REGRESSION" in (tmp_path / "reports" / "gate.txt").read_text()
    assert (tmp_path / "reports" / "trend.png").read_bytes().startswith(b"\x89PNG")


def test_workflow_passes_actionlint():
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not on PATH: `go install "
                    "github.com/rhysd/actionlint/cmd/actionlint@latest` to run this check")
    run = subprocess.run([actionlint, str(WORKFLOW)], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_cronjob_keeps_history_on_a_volume_and_fails_on_a_regression():
    objects = _cronjob()
    assert set(objects) == {"Namespace", "PersistentVolumeClaim", "ConfigMap", "CronJob"}
    cron = objects["CronJob"]["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    job = cron["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == (
        objects["PersistentVolumeClaim"]["metadata"]["name"])
    script = container["args"][0]
    assert "--history-db /data/history.sqlite" in script
    assert "brixcheck compare --db /data/history.sqlite" in script
    assert mounts["data"] == "/data"
    assert container["workingDir"] == "/data"  # reports/ lands on the volume
    assert 'exit "$gate"' in script


def test_cronjob_scenario_is_the_nightly_scenario():
    config_map = _cronjob()["ConfigMap"]
    assert config_map["data"]["nightly.yaml"] == SCENARIO.read_text()
    assert all(o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "brixcheck"
               for o in _cronjob().values())
