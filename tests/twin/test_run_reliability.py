"""Runs on the twin: a killed run's leftovers are removed by the next, a SIGTERM cleans up, and a
model that waits for another run's GPU is timed from its scheduling."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.cluster.deployment import ModelDeployment, deploy_model
from brixcheck.cluster.kube import owned
from brixcheck.cluster.target import GPU_RESOURCE, connect
from brixcheck.runs import HEARTBEAT, gpu_holders
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifests" / "models" / "deepseek-r1-qwen-1b5.yaml"


def _exists(core: client.CoreV1Api, name: str) -> bool:
    try:
        core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


@pytest.fixture
def other_run(core: client.CoreV1Api) -> Iterator[callable]:
    """Make the namespace of another brixcheck run, with a heartbeat `age_s` old (None: none)."""
    made: list[str] = []

    def make(age_s: float | None, gpu: bool) -> str:
        run_id = uuid.uuid4().hex[:8]
        name = f"brixcheck-{run_id}"
        body = owned({"metadata": {"name": name}}, run_id)
        if age_s is not None:
            body["metadata"]["annotations"] = {HEARTBEAT: str(int(time.time() - age_s))}
        core.create_namespace(body)
        made.append(name)
        if gpu:
            core.create_namespaced_pod(name, owned({"metadata": {"name": "holder"}, "spec": {
                "containers": [{"name": "c", "image": "busybox:stable", "resources": {
                    "limits": {GPU_RESOURCE: "1"}}}]}}, run_id))
            wait_until(lambda: core.read_namespaced_pod("holder", name).spec.node_name, 30,
                       "the GPU holder to be scheduled")
        return name

    yield make
    for name in made:
        if _exists(core, name):
            core.delete_namespace(name)
    wait_until(lambda: not any(_exists(core, n) for n in made), 120, "test namespaces to go")


def _conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           *args], cwd=REPO, capture_output=True, text=True, check=False,
                          timeout=240)


def test_next_run_removes_a_killed_runs_namespace_and_names_unknown_ones(twin, core, other_run):
    dead = other_run(age_s=3600, gpu=True)  # killed an hour ago, its pod holds the only GPU
    unknown = other_run(age_s=None, gpu=False)
    assert f"{dead}/holder (left by brixcheck run" in "; ".join(gpu_holders(core, "none"))
    run = _conformance("suites/conformance/test_gpu.py", "-k", "is_scheduled")
    assert f"removing namespaces of runs that were killed: {dead}" in run.stdout
    assert f"remove them with `kubectl delete namespace {unknown}`" in run.stdout
    assert not _exists(core, dead)
    report = json.loads((REPO / "reports" / "conformance-latest.json").read_text())
    outcomes = {c["id"]: c["outcome"] for c in report["cases"]}
    assert outcomes == {"GpuPodIsScheduled": "PASS"}, run.stdout[-2000:]


def test_sigterm_during_a_run_removes_its_namespace(twin, core):
    before = {n.metadata.name for n in core.list_namespace().items}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                             "suites/conformance/test_startup.py"], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def run_pod() -> str | None:
        for ns in core.list_namespace(label_selector="brixcheck.io/run-id").items:
            name = ns.metadata.name
            if name not in before and core.list_namespaced_pod(name).items:
                return name
        return None

    namespace = wait_until(run_pod, 120, "the run's model pod")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 2, out[-2000:]
    assert "Traceback" not in out
    assert not _exists(core, namespace), "SIGTERM left the run's namespace"


def test_model_waiting_for_another_runs_gpu_is_timed_from_scheduling(twin, core, other_run):
    holder_ns = other_run(age_s=0, gpu=True)  # a live run holds the only GPU
    assert f"{holder_ns}/holder (another brixcheck run, still running)" in gpu_holders(core, "x")
    target = connect(twin.kubeconfig)
    run_id = uuid.uuid4().hex[:8]
    namespace = other_run(age_s=0, gpu=False)
    result: dict[str, ModelDeployment] = {}
    deploying = threading.Thread(target=lambda: result.update(
        model=deploy_model(target, MANIFEST, namespace, run_id, 120)))
    start = time.monotonic()
    deploying.start()
    wait_until(lambda: any(c.reason == "Unschedulable" for p in core.list_namespaced_pod(
        namespace).items for c in p.status.conditions or []), 30, "the model pod to wait")
    time.sleep(3)  # the other run keeps the GPU a while longer: that wait must not count
    core.delete_namespaced_pod("holder", holder_ns, grace_period_seconds=0)
    deploying.join(timeout=150)
    total = time.monotonic() - start
    model = result["model"]
    assert f"Insufficient {GPU_RESOURCE}" in model.unscheduled_reason
    assert model.unscheduled_s >= 3
    assert model.ready_s <= total - model.unscheduled_s + 1
