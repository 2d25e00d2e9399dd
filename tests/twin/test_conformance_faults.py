"""Each conformance case the twin can show is seen failing: a fault injected into the twin
turns it FAIL with its remedy, and removing the fault turns it back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from brixcheck.twin.cluster import NODE_CONDITION_LABEL
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]
NODE = "k3s-gpu-0"


def run_cases(*args: str) -> dict[str, dict]:
    subprocess.run([sys.executable, "-m", "pytest", "suites/conformance", "-q",
                    "-p", "no:cacheprovider", *args], cwd=REPO, capture_output=True,
                   timeout=240, check=False)
    report = json.loads((REPO / "reports" / "conformance-latest.json").read_text())
    return {case["id"]: case for case in report["cases"]}


def _condition(core: client.CoreV1Api, kind: str) -> str:
    node = core.read_node(NODE)
    return next(c.status for c in node.status.conditions if c.type == kind)


@pytest.fixture
def node_condition(core: client.CoreV1Api) -> Iterator[callable]:
    def set_fault(kind: str, status: str) -> None:
        core.patch_node(NODE, {"metadata": {"labels": {NODE_CONDITION_LABEL: kind}}})
        wait_until(lambda: _condition(core, kind) == status, 30, f"{kind}={status}")

    yield set_fault
    core.patch_node(NODE, {"metadata": {"labels": {NODE_CONDITION_LABEL: None}}})
    wait_until(lambda: _condition(core, "DiskPressure") == "False"
               and _condition(core, "Ready") == "True", 60, "node conditions to clear")


def test_disk_pressure_fails_its_case_with_the_remedy(twin, node_condition):
    node_condition("DiskPressure", "True")
    case = run_cases("-k", "disk_pressure")["NodesHaveNoDiskPressure"]
    assert case["outcome"] == "FAIL"
    assert NODE in case["reason"]
    assert "crictl rmi --prune" in case["remedy"]
    assert "doctor: DiskPressure:" in case["reason"], "the failure is explained by doctor"


def test_node_not_ready_fails_nodes_ready(twin, node_condition):
    node_condition("Ready", "False")
    case = run_cases("-k", "nodes_ready")["NodesReady"]
    assert case["outcome"] == "FAIL"
    assert "systemctl status k3s" in case["remedy"]


def test_vram_held_by_other_processes_fails_the_memory_case(twin, core: client.CoreV1Api):
    core.patch_node(NODE, {"metadata": {"annotations": {"brixcheck.io/gpu-used-gib": "3.0"}}})
    try:
        case = run_cases("-k", "memory")["GpuMemoryFitsUtilization"]
    finally:
        core.patch_node(NODE, {"metadata": {"annotations": {"brixcheck.io/gpu-used-gib": "1.0"}}})
    assert case["outcome"] == "FAIL"
    assert "0.7 x 8.00 GiB = 5.60 GiB > 5.00 GiB free" in case["reason"]
    assert "lower --gpu-memory-utilization" in case["remedy"]


def test_short_startup_probe_fails_the_startup_cases(twin, tmp_path: Path):
    docs = list(yaml.safe_load_all((REPO / "manifests/models/deepseek-r1-qwen-1b5.yaml")
                                   .read_text()))
    pod = docs[0]["spec"]["template"]
    pod["metadata"]["annotations"] = {"brixcheck.io/engine-args": "--emu-load-time-s 40"}
    pod["spec"]["containers"][0]["startupProbe"].update(periodSeconds=1, failureThreshold=2)
    manifest = tmp_path / "short-probe.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    cases = run_cases("-k", "startup or model_pod", f"--model-manifest={manifest}",
                      "--model-ready-timeout=15")
    for name in ("ModelPodReady", "StartupBudgetCoversLoadTime"):
        assert cases[name]["outcome"] == "FAIL", cases[name]
        assert cases[name]["phase"] == "setup"
    assert "Killing" in cases["ModelPodReady"]["reason"] or "Unhealthy" in \
        cases["ModelPodReady"]["reason"]
    assert "failureThreshold" in cases["ModelPodReady"]["remedy"]


def test_a_node_without_room_fails_the_stack_preflight(twin, core: client.CoreV1Api,
                                                       namespace: str):
    # A workload holding 26 of the node's 32 GiB: the release's 8 GiB gateway plugin no longer
    # fits, its K3s-small form (1 GiB a pod, 2.8 GiB in all) still does.
    hog = {"metadata": {"name": "memory-hog"}, "spec": {
        "nodeName": NODE, "tolerations": [{"operator": "Exists"}],
        "containers": [{"name": "hog", "image": "busybox",
                        "resources": {"requests": {"cpu": "100m", "memory": "26Gi"}}}]}}
    core.create_namespaced_pod(namespace, hog)
    case = run_cases("-k", "stack_fits")["StackFitsNodes"]
    assert case["outcome"] == "FAIL", case
    assert "largest pod 2 CPU / 8.0 GiB" in case["reason"]
    assert "it would fit" in case["reason"]
    assert "kubectl apply -k manifests/aibrix/k3s-small" in case["remedy"]


@pytest.fixture
def gpu_node(core: client.CoreV1Api) -> Iterator[client.V1Node]:
    """The GPU node as it was; its taints and GPU count are put back afterwards."""
    node = core.read_node(NODE)
    yield node
    core.patch_node(NODE, {"spec": {"taints": node.spec.taints or None}})
    core.patch_node_status(NODE, {"status": {"allocatable": node.status.allocatable,
                                             "capacity": node.status.capacity}})


def test_unregistered_gpus_fail_the_advertise_case(twin, core: client.CoreV1Api, gpu_node):
    # What a node shows when the NVIDIA device plugin never registered: no nvidia.com/gpu.
    core.patch_node_status(NODE, {"status": {"allocatable": {"nvidia.com/gpu": "0"},
                                             "capacity": {"nvidia.com/gpu": "0"}}})
    case = run_cases("-k", "advertise")["GpuNodesAdvertiseGpus"]
    assert case["outcome"] == "FAIL", case
    assert "no node has allocatable nvidia.com/gpu" in case["reason"]
    assert "device plugin" in case["remedy"]


def test_an_untolerated_gpu_taint_fails_the_scheduling_case(twin, core: client.CoreV1Api,
                                                            gpu_node):
    # GPU nodes are often tainted so that only GPU workloads land there; a pod without the
    # toleration stays Pending even though the GPU is free.
    taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    core.patch_node(NODE, {"spec": {"taints": [*(gpu_node.spec.taints or []), taint]}})
    case = run_cases("-k", "gpu_pod_is_scheduled")["GpuPodIsScheduled"]
    assert case["outcome"] == "FAIL", case
    assert "untolerated taint" in case["reason"]


def test_an_engine_answering_500_fails_the_openai_cases(twin, tmp_path: Path):
    docs = list(yaml.safe_load_all((REPO / "manifests/models/deepseek-r1-qwen-1b5.yaml")
                                   .read_text()))
    docs[0]["spec"]["template"]["metadata"]["annotations"] = {
        "brixcheck.io/engine-args": "--emu-error-rate 1"}
    manifest = tmp_path / "failing-engine.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    cases = run_cases("-k", "chat_completion or chat_stream", f"--model-manifest={manifest}")
    for name in ("OpenAIChatCompletion", "OpenAIChatStreamWithUsage"):
        assert cases[name]["outcome"] == "FAIL", cases[name]
        assert "500" in cases[name]["reason"]
