"""`brixcheck doctor` on the twin: each scenario turned on is diagnosed with its cause and
remedy, where the remedy is a kubectl command applying it fixes the fault, and turning the
scenario off leaves the cluster all clear and the node as it was.

Each run writes the doctor transcripts to reports/doctor/ (docs/doctor.md quotes them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from brixcheck.twin import scenarios
from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(400)]
REPO = Path(__file__).resolve().parents[2]
TRANSCRIPTS = REPO / "reports" / "doctor"
NODE = "k3s-gpu-0"


@dataclass(frozen=True)
class Expect:
    """What doctor must say about a scenario; `fixes` names the model Deployment the first
    remedy command repairs (None when the remedy is run on the host, not with kubectl)."""

    finding: str
    cause: str
    remedy: str
    fixes: str | None = None


EXPECT = {
    "disk-pressure": Expect("DiskPressure", f"{NODE} reports DiskPressure",
                            "sudo k3s crictl rmi --prune"),
    "cuda-oom": Expect("CudaOomAtStart", "0.9 x 8.0 GiB = 7.2 GiB", '"value":"0.7"',
                       "oom-model"),
    "kv-cache": Expect("KvCacheTooSmall", "max_model_len 131,072", '"value":"32768"',
                       "kv-model"),
    "startup-timeout": Expect("StartupProbeTimeout", "failureThreshold 12 x periodSeconds 5",
                              '"value":60', "slow-model"),
    "gpu-over-request": Expect("GpuUnschedulable", "asks for 2 nvidia.com/gpu",
                               "nvidia.com~1gpu", "greedy-model"),
    "orphaned-engine": Expect("OrphanedEngine", "(VLLM::EngineCore) still holds 5.6 GiB",
                              "sudo kill 4198546"),
    "traefik": Expect("TraefikHoldsPort80", "Traefik holds host port 80",
                      "disable: [traefik]"),
    "stack-requests": Expect("StackRequestsTooLarge", "Pending for memory",
                             "set resources deployment aibrix-gateway-plugins"),
}


def doctor(layout: TwinLayout, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `brixcheck doctor` on the twin, as a user would."""
    return subprocess.run([sys.executable, "-m", "brixcheck.cli", "doctor", "--kubeconfig",
                           str(layout.kubeconfig), *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, check=False)


def findings(layout: TwinLayout) -> list[dict]:
    """Doctor's findings as data."""
    return json.loads(doctor(layout, "--json").stdout)["findings"]


def node_state(core: client.CoreV1Api) -> dict:
    """What a scenario may change on the node and must restore."""
    node = core.read_node(NODE)
    return {"labels": node.metadata.labels, "annotations": node.metadata.annotations,
            "taints": sorted(t.key for t in node.spec.taints or []),
            "capacity": node.status.capacity, "allocatable": node.status.allocatable}


@pytest.fixture(scope="module")
def api(twin: TwinLayout) -> client.ApiClient:
    return config.new_client_from_config(str(twin.kubeconfig))


def _apply_first_remedy(layout: TwinLayout, finding: dict) -> None:
    command = next(c for c in finding["remedy"] if c.startswith("kubectl"))
    env = {**os.environ, "KUBECONFIG": str(layout.kubeconfig)}
    done = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr


def _model_ready(core: client.CoreV1Api, model: str) -> bool:
    pods = core.list_namespaced_pod(scenarios.NAMESPACE,
                                    label_selector=f"model.aibrix.ai/name={model}").items
    return any(p.status.phase == "Running" and p.metadata.deletion_timestamp is None and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        for p in pods)


def test_doctor_all_clear_on_a_healthy_twin(twin: TwinLayout, core: client.CoreV1Api,
                                            apps: client.AppsV1Api, namespace: str):
    deployment, service = yaml.safe_load_all(
        (REPO / "manifests" / "models" / "deepseek-r1-qwen-1b5.yaml").read_text())
    apps.create_namespaced_deployment(namespace, deployment)
    core.create_namespaced_service(namespace, service)
    wait_until(lambda: any(c.type == "Ready" and c.status == "True"
                           for p in core.list_namespaced_pod(namespace).items
                           for c in p.status.conditions or []), 120, "the model to be Ready")
    done = doctor(twin)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("all clear: no problem found in 1 node, ")


def _diagnose(layout: TwinLayout, core: client.CoreV1Api, name: str) -> None:
    expect = EXPECT[name]
    done = doctor(layout)
    (TRANSCRIPTS / f"{name}-on.txt").write_text(done.stdout)
    assert done.returncode == 1
    [finding] = [f for f in findings(layout) if f["id"] == expect.finding]
    assert expect.cause in finding["cause"]
    assert any(expect.remedy in command for command in finding["remedy"])
    if expect.fixes is not None:
        _apply_first_remedy(layout, finding)
        wait_until(lambda: _model_ready(core, expect.fixes), 120,
                   f"{expect.fixes} to be Ready after the remedy")
        assert expect.finding not in [f["id"] for f in findings(layout)]


@pytest.mark.parametrize("name", list(EXPECT))
def test_doctor_diagnoses_scenario_and_is_all_clear_after_off(
        twin: TwinLayout, api: client.ApiClient, core: client.CoreV1Api, name: str):
    TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
    before = node_state(core)
    scenarios.turn_on(api, name)
    try:
        _diagnose(twin, core, name)
    finally:
        scenarios.turn_off(api, name)
    assert node_state(core) == before
    done = doctor(twin)
    (TRANSCRIPTS / f"{name}-off.txt").write_text(done.stdout)
    assert done.returncode == 0, done.stdout
    assert done.stdout.startswith("all clear")
