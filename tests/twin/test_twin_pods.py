"""Model pods on the twin behave as on a K3s GPU node: real API and scheduler, kubelet-like pods."""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
MODEL_MANIFEST = REPO / "manifests" / "models" / "deepseek-r1-qwen-1b5.yaml"
FAST = {"brixcheck.io/engine-args": "--emu-load-time-factor 0.02"}


def _model_docs() -> tuple[dict, dict]:
    deployment, service = yaml.safe_load_all(MODEL_MANIFEST.read_text())
    deployment["spec"]["template"]["metadata"]["annotations"] = dict(FAST)
    return deployment, service


def _pod(name: str, args: list[str], annotations: dict[str, str] | None = None,
         probes: dict | None = None) -> dict:
    container = {"name": "vllm-openai", "image": "vllm/vllm-openai:v0.11.0", "args": args,
                 "resources": {"limits": {"nvidia.com/gpu": "1"}}, **(probes or {})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"model.aibrix.ai/name": name},
                         "annotations": {**FAST, **(annotations or {})}},
            "spec": {"containers": [container]}}


MODEL_ARGS = ["--model", "m", "--max-model-len", "4096", "--gpu-memory-utilization", "0.7"]


def _ready(core: client.CoreV1Api, namespace: str, name: str) -> client.V1Pod | None:
    pod = core.read_namespaced_pod(name, namespace)
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    return pod if conditions.get("Ready") == "True" else None


def test_twin_node_advertises_one_gpu(core: client.CoreV1Api):
    nodes = core.list_node().items
    assert [n.status.allocatable["nvidia.com/gpu"] for n in nodes] == ["1"]
    assert nodes[0].metadata.labels["nvidia.com/gpu.product"] == "NVIDIA-GeForce-RTX-4060"


def test_seed_manifest_as_written_is_rejected(apps: client.AppsV1Api, namespace: str):
    seed = copy.deepcopy(_model_docs()[0])
    del seed["spec"]["selector"]
    del seed["spec"]["template"]["metadata"]
    with pytest.raises(ApiException) as info:
        apps.create_namespaced_deployment(namespace, seed)
    assert info.value.status == 422
    assert "spec.selector: Required value" in info.value.body


def test_corrected_seed_model_becomes_ready_and_serves(
        apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str):
    deployment, service = _model_docs()
    apps.create_namespaced_deployment(namespace, deployment)
    core.create_namespaced_service(namespace, service)
    selector = "model.aibrix.ai/name=deepseek-r1-qwen-1b5"

    def ready_pod() -> client.V1Pod | None:
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        return pods and _ready(core, namespace, pods[0].metadata.name)

    pod = wait_until(ready_pod, 60, "the model pod to be Ready")
    assert pod.status.container_statuses[0].restart_count == 0
    reply = httpx.post(f"http://{pod.status.pod_ip}:8000/v1/chat/completions", json={
        "model": "deepseek-r1-qwen-1b5", "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4})
    assert reply.status_code == 200
    assert reply.json()["usage"]["completion_tokens"] == 4

    def log() -> str:
        # kwok learns of the pod's Logs object through a watch: eventually consistent.
        try:
            return core.read_namespaced_pod_log(pod.metadata.name, namespace)
        except ApiException:
            return ""

    assert "Application startup complete." in wait_until(log, 10, "kubectl logs of the pod")


def test_second_gpu_pod_stays_pending(core: client.CoreV1Api, namespace: str):
    core.create_namespaced_pod(namespace, _pod("first", MODEL_ARGS))
    core.create_namespaced_pod(namespace, _pod("second", MODEL_ARGS))

    def unschedulable() -> str:
        pod = core.read_namespaced_pod("second", namespace)
        return next((c.message for c in pod.status.conditions or []
                     if c.type == "PodScheduled" and c.status == "False"), "")

    message = wait_until(unschedulable, 30, "the scheduler to refuse the second pod")
    assert "Insufficient nvidia.com/gpu" in message


def test_deleting_a_pod_stops_its_engine(core: client.CoreV1Api, namespace: str):
    core.create_namespaced_pod(namespace, _pod("doomed", MODEL_ARGS))
    pod = wait_until(lambda: _ready(core, namespace, "doomed"), 60, "the pod to be Ready")
    url = f"http://{pod.status.pod_ip}:8000/health"
    # No readiness probe: like a kubelet, the twin marks it Ready before the model has loaded.
    wait_until(lambda: httpx.get(url).status_code == 200, 30, "the engine to load")
    core.delete_namespaced_pod("doomed", namespace)

    def refused() -> bool:
        try:
            httpx.get(url, timeout=1)
        except httpx.ConnectError:
            return True
        except httpx.RemoteProtocolError:  # accepted, then dropped: still shutting down
            return False
        return False

    wait_until(refused, 30, "the engine at the deleted pod's IP to stop")


def test_short_startup_probe_restarts_a_slow_loading_engine(
        core: client.CoreV1Api, namespace: str):
    probes = {"startupProbe": {"httpGet": {"path": "/health", "port": 8000},
                               "periodSeconds": 1, "failureThreshold": 2}}
    slow = {"brixcheck.io/engine-args": "--emu-load-time-s 60"}
    core.create_namespaced_pod(namespace, _pod("slow", MODEL_ARGS, slow, probes))

    def restarted() -> int:
        statuses = core.read_namespaced_pod("slow", namespace).status.container_statuses
        return statuses and statuses[0].restart_count

    wait_until(restarted, 30, "a restart after the startup probe failed")
    events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=slow")
    reasons = {e.reason for e in events.items}
    assert {"Unhealthy", "Killing"} <= reasons
    assert not _ready(core, namespace, "slow")


def test_engine_that_cannot_start_goes_to_crash_loop(core: client.CoreV1Api, namespace: str):
    oom = ["--model", "m", "--max-model-len", "4096", "--gpu-memory-utilization", "0.95"]
    core.create_namespaced_pod(namespace, _pod("oom", oom))

    def crash_looping() -> bool:
        statuses = core.read_namespaced_pod("oom", namespace).status.container_statuses
        waiting = statuses and statuses[0].state.waiting
        return bool(waiting and waiting.reason == "CrashLoopBackOff")

    wait_until(crash_looping, 30, "CrashLoopBackOff")
    status = core.read_namespaced_pod("oom", namespace).status.container_statuses[0]
    assert status.last_state.terminated.exit_code == 1
    log = core.read_namespaced_pod_log("oom", namespace, previous=True) \
        if status.restart_count > 1 else ""
    assert log == "" or "Free memory on device" in log
