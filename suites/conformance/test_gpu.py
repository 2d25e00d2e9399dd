"""GPU schedulability: nodes advertise nvidia.com/gpu and the scheduler honours it (seed §2)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client

from brixcheck.cluster.capability import Capability
from brixcheck.cluster.kube import owned, wait_for
from brixcheck.cluster.target import GPU_RESOURCE, Target
from brixcheck.conformance.case import Case
from brixcheck.runs import gpu_holders

ADVERTISED = Case(
    id="GpuNodesAdvertiseGpus",
    description="At least one node has allocatable nvidia.com/gpu.",
    checks="seed §2 (device plugin) and §3 phase 1 (`describe nodes | grep gpu`)",
    remedy="install the NVIDIA container toolkit and device plugin (kubectl apply -f "
           "nvidia-device-plugin.yml; on K3s set the nvidia runtime as default)",
    capabilities=frozenset({Capability.KUBERNETES_API}),
    diagnoses=("GpuNotAdvertised",),
)
SCHEDULED = Case(
    id="GpuPodIsScheduled",
    description="A pod limited to one nvidia.com/gpu is scheduled onto a node with a free GPU.",
    checks="seed §3 phase 3 (resources.limits nvidia.com/gpu: 1)",
    remedy="check `kubectl describe pod` events; free a GPU or add one",
    capabilities=frozenset({Capability.GPU_NODES}),
    diagnoses=("GpuUnschedulable",),
)
OVER_REQUEST = Case(
    id="GpuOverRequestStaysPending",
    description="A pod asking for more GPUs than any node has stays Pending for "
                "'Insufficient nvidia.com/gpu'.",
    checks="scheduler accounting of the extended resource",
    remedy="the scheduler does not account nvidia.com/gpu: check the device plugin registers "
           "the resource on every GPU node",
    capabilities=frozenset({Capability.GPU_NODES}),
)
DEVICE_PLUGIN = Case(
    id="NvidiaDevicePluginReady",
    description="An NVIDIA device plugin DaemonSet runs a ready pod on every GPU node.",
    checks="seed §2 (NVIDIA device plugin)",
    remedy="kubectl apply the NVIDIA device plugin and check its pod logs",
    capabilities=frozenset({Capability.GPU_NODES, Capability.REAL_KUBELET}),
)
SCHEDULE_TIMEOUT_S = 60.0


def _gpus(node: client.V1Node) -> int:
    return int((node.status.allocatable or {}).get(GPU_RESOURCE, "0"))


def _free_gpus(target: Target, node: client.V1Node) -> int:
    pods = target.core.list_pod_for_all_namespaces(
        field_selector=f"spec.nodeName={node.metadata.name}").items
    used = sum(int((c.resources.limits or {}).get(GPU_RESOURCE, "0"))
               for p in pods if p.status.phase not in ("Succeeded", "Failed")
               for c in p.spec.containers if c.resources)
    return _gpus(node) - used


@pytest.fixture
def gpu_pod(target: Target, namespace: str, run_id: str) -> Iterator[callable]:
    created: list[str] = []

    def create(name: str, gpus: int) -> str:
        body = owned({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                      "spec": {"containers": [{
                          "name": "gpu-check", "image": "busybox:stable",
                          "command": ["sleep", "3600"],
                          "resources": {"limits": {GPU_RESOURCE: str(gpus)}}}]}}, run_id)
        target.core.create_namespaced_pod(namespace, body)
        created.append(name)
        return name

    yield create
    for name in created:
        target.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


def _scheduled(target: Target, namespace: str, name: str) -> client.V1PodCondition | None:
    pod = target.core.read_namespaced_pod(name, namespace)
    return next((c for c in pod.status.conditions or [] if c.type == "PodScheduled"), None)


@pytest.mark.case(ADVERTISED)
def test_gpu_nodes_advertise_gpus(target: Target):
    gpu_nodes = [n.metadata.name for n in target.core.list_node().items if _gpus(n) > 0]
    assert gpu_nodes, "no node has allocatable nvidia.com/gpu"


@pytest.mark.case(SCHEDULED)
def test_gpu_pod_is_scheduled(target: Target, namespace: str, run_id: str, gpu_pod):
    free = {n.metadata.name: _free_gpus(target, n) for n in target.core.list_node().items}
    if max(free.values()) < 1:
        pytest.skip(f"every GPU is in use: {'; '.join(gpu_holders(target.core, run_id))}")
    name = gpu_pod("gpu-check-one", 1)
    condition = wait_for(lambda: _scheduled(target, namespace, name), SCHEDULE_TIMEOUT_S,
                         "a scheduling decision")
    assert condition.status == "True", f"not scheduled: {condition.message}"


@pytest.mark.case(OVER_REQUEST)
def test_gpu_over_request_stays_pending(target: Target, namespace: str, gpu_pod):
    most = max(_gpus(n) for n in target.core.list_node().items)
    name = gpu_pod("gpu-check-too-many", most + 1)
    condition = wait_for(lambda: _scheduled(target, namespace, name), SCHEDULE_TIMEOUT_S,
                         "a scheduling decision")
    assert condition.status == "False", "a pod asking for too many GPUs was scheduled"
    assert f"Insufficient {GPU_RESOURCE}" in (condition.message or "")


@pytest.mark.case(DEVICE_PLUGIN)
def test_nvidia_device_plugin_ready(target: Target):
    apps = target.apps
    sets = [d for d in apps.list_daemon_set_for_all_namespaces().items
            if "nvidia-device-plugin" in d.metadata.name]
    assert sets, "no nvidia-device-plugin DaemonSet found in any namespace"
    for daemon_set in sets:
        status = daemon_set.status
        assert status.number_ready == status.desired_number_scheduled > 0, (
            f"{daemon_set.metadata.namespace}/{daemon_set.metadata.name}: "
            f"{status.number_ready}/{status.desired_number_scheduled} ready")
