"""The scenarios: each applies one of the seed's troubleshooting cases (or a K3s pitfall) to
the twin with the twin's own mechanisms, and waits until a user would see it.

- disk-pressure: the node-condition stage (label) makes the GPU node report DiskPressure, the
  node lifecycle controller taints it, the scenario's running model pod is evicted as the
  kubelet's eviction manager does it, and its replacement stays Pending on the taint.
- cuda-oom: 1 GiB of the virtual 8 GiB card is held by the desktop; an engine started at
  --gpu-memory-utilization 0.9 fails with vLLM's "Free memory on device" error and restarts.
- kv-cache: the seed's model as written (0.7, no --max-model-len) fails after loading.
- startup-timeout: a 180 s model load against a one-minute startup probe (12 x 5 s).
- gpu-over-request: a model limited to 2 GPUs where nodes have 1.
- orphaned-engine: a model pod runs and is deleted; the virtual GPU keeps listing its
  VLLM::EngineCore with the memory it held (docs in brixcheck/doctor/gpu_facts.py).
- traefik: K3s's Traefik LoadBalancer with its ServiceLB pod on host port 80, then Envoy
  Gateway's LoadBalancer Service whose ServiceLB pod finds the port taken.
- stack-requests: the node sized as a 16 GiB desktop and the AIBrix v0.5.0 release
  Deployments at release requests; one stays Pending for memory.

The twin's time factor (default 0.1) scales load times and probe periods together, so the
180 s load takes 18 s and the 60 s probe budget 6 s: the fault keeps its meaning, faster.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.gpu_memory import GPU_PROCESSES_ANNOTATION, GPU_USED_ANNOTATION
from brixcheck.cluster.kube import label_selector, wait_for
from brixcheck.errors import BrixcheckError
from brixcheck.twin.cluster import NODE_CONDITION_LABEL
from brixcheck.twin.pods import ENGINE_ARGS_ANNOTATION
from brixcheck.twin.scenarios import manifests
from brixcheck.twin.scenarios.record import NAMESPACE, Recorder

WAIT_S = 120.0
GPU = "nvidia.com/gpu"
DISK_TAINT = "node.kubernetes.io/disk-pressure"
# kubelet eviction manager's wording (pkg/kubelet/eviction/helpers.go), default nodefs 10%.
EVICTION_MESSAGE = ("The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, "
                    "available: 6348Mi. Container vllm-openai was using 9Gi, request is 0, has "
                    "larger consumption of ephemeral-storage. ")
# Above Linux's PID_MAX_LIMIT (4194304): no real process can have it, so the remedy
# `sudo kill PID`, if run on the twin's host, can never hit one.
ORPHAN_PID = 4_198_546
ORPHAN_GIB = 5.6  # what the dead engine reserved: 0.7 x 8 GiB
DESKTOP_16GB = {"capacity": {"cpu": "8", "memory": "16Gi"},
                # K3s reserves nothing; the kubelet's hard eviction memory.available<100Mi.
                "allocatable": {"cpu": "8", "memory": "16284Mi"}}


@dataclass(frozen=True)
class FaultScenario:
    """One fault: its name, what it shows, the finding doctor must report, how to apply it."""

    name: str
    summary: str
    finding: str
    apply: Callable[[Recorder], None]


def gpu_node(core: client.CoreV1Api) -> client.V1Node:
    """The first node (by name) with an allocatable GPU."""
    nodes = sorted(core.list_node().items, key=lambda n: n.metadata.name)
    found = [n for n in nodes if int((n.status.allocatable or {}).get(GPU, "0")) > 0]
    if not found:
        raise BrixcheckError("the twin has no GPU node", "start it with `brixcheck twin up`")
    return found[0]


def _pods(core: client.CoreV1Api, namespace: str, labels: dict[str, str]) -> list[client.V1Pod]:
    selector = label_selector(labels)
    return list(core.list_namespaced_pod(namespace, label_selector=selector).items)


def _seen(core: client.CoreV1Api, namespace: str, labels: dict[str, str]) -> str:
    return "; ".join(f"{p.metadata.name} {p.status.phase}" for p in _pods(core, namespace, labels))


def wait_pod(rec: Recorder, namespace: str, labels: dict[str, str],
             ok: Callable[[client.V1Pod], bool], what: str) -> client.V1Pod:
    """Wait until a pod with these labels satisfies `ok`; return it."""
    def check() -> client.V1Pod | None:
        return next((p for p in _pods(rec.core, namespace, labels) if ok(p)), None)

    return wait_for(check, WAIT_S, what, lambda: _seen(rec.core, namespace, labels), 0.3)


def restarted(pod: client.V1Pod) -> bool:
    """The container has restarted at least once."""
    return any((s.restart_count or 0) >= 1 for s in pod.status.container_statuses or [])


def unschedulable(text: str) -> Callable[[client.V1Pod], bool]:
    """Pending with the scheduler's message containing `text`."""
    def check(pod: client.V1Pod) -> bool:
        return pod.status.phase == "Pending" and any(
            c.type == "PodScheduled" and c.status == "False" and text in (c.message or "")
            for c in pod.status.conditions or [])
    return check


def running(pod: client.V1Pod) -> bool:
    """Running with an IP and a started container (the backer runs its engine)."""
    return pod.status.phase == "Running" and bool(pod.status.pod_ip) and any(
        s.state and s.state.running for s in pod.status.container_statuses or [])


def ready(pod: client.V1Pod) -> bool:
    """The pod's Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _model(rec: Recorder, name: str, flags: dict[str, str | None] | None = None,
           annotations: dict[str, str] | None = None) -> dict[str, str]:
    rec.create(manifests.model_deployment(name, NAMESPACE, flags, annotations))
    return {manifests.MODEL_LABEL: name}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evict(rec: Recorder, pod: client.V1Pod, message: str) -> None:
    """What the kubelet's eviction manager does to a pod: kill its containers, set the pod
    Failed/Evicted with a DisruptionTarget condition, and record a Warning Evicted event."""
    for _attempt in range(5):
        current = rec.core.read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
        _evicted_status(current.status, message)
        try:
            rec.core.replace_namespaced_pod_status(pod.metadata.name, pod.metadata.namespace,
                                                   current)
            break
        except ApiException as exc:
            if exc.status != 409:
                raise
    rec.create({"apiVersion": "v1", "kind": "Event",
                "metadata": {"generateName": f"{pod.metadata.name}.",
                             "namespace": pod.metadata.namespace},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod.metadata.name,
                                   "namespace": pod.metadata.namespace, "uid": pod.metadata.uid},
                "reason": "Evicted", "message": message, "type": "Warning", "count": 1,
                "firstTimestamp": _now(), "lastTimestamp": _now(),
                "source": {"component": "kubelet", "host": pod.spec.node_name}})


def _evicted_status(status: client.V1PodStatus, message: str) -> None:
    now = dt.datetime.now(dt.UTC)
    status.phase, status.reason, status.message = "Failed", "Evicted", message
    kept = [c for c in status.conditions or [] if c.type not in
            ("Ready", "ContainersReady", "DisruptionTarget")]
    status.conditions = [*kept, *(client.V1PodCondition(type=t, status="False",
                                                        last_transition_time=now)
                                  for t in ("Ready", "ContainersReady")),
                         client.V1PodCondition(type="DisruptionTarget", status="True",
                                               reason="TerminationByKubelet", message=message,
                                               last_transition_time=now)]
    for container in status.container_statuses or []:
        started = container.state.running.started_at if container.state.running else now
        container.state = client.V1ContainerState(terminated=client.V1ContainerStateTerminated(
            exit_code=137, reason="Error", started_at=started, finished_at=now))
        container.ready, container.started = False, False


def disk_pressure(rec: Recorder) -> None:
    """DiskPressure on the GPU node: taint, eviction of the running model pod, Pending
    replacement."""
    node = gpu_node(rec.core).metadata.name
    labels = _model(rec, "disk-model")
    # Evict a serving pod: one still starting would go on reporting container states.
    pod = wait_pod(rec, NAMESPACE, labels, ready, "the model pod to be Ready")
    rec.set_node_metadata(node, "labels", {NODE_CONDITION_LABEL: "DiskPressure"})

    def pressured() -> bool:
        current = rec.core.read_node(node)
        return any(t.key == DISK_TAINT for t in current.spec.taints or [])

    wait_for(pressured, WAIT_S, f"node {node} to be tainted {DISK_TAINT}", interval_s=0.3)
    evict(rec, pod, EVICTION_MESSAGE)
    wait_pod(rec, NAMESPACE, labels, unschedulable(DISK_TAINT),
                  "the replacement pod to stay Pending on the disk-pressure taint")


def cuda_oom(rec: Recorder) -> None:
    """The desktop holds 1 GiB of the 8 GiB card; vLLM at 0.9 asks for 7.2 GiB and refuses."""
    node = gpu_node(rec.core).metadata.name
    rec.set_node_metadata(node, "annotations", {GPU_USED_ANNOTATION: "1.0"})
    labels = _model(rec, "oom-model", {"--gpu-memory-utilization": "0.9"})
    wait_pod(rec, NAMESPACE, labels, restarted, "vLLM to fail its start and restart")


def kv_cache(rec: Recorder) -> None:
    """The seed's nvidia-model.yaml settings: 0.7 and the model's full 131,072-token length."""
    labels = _model(rec, "kv-model", {"--max-model-len": None})
    wait_pod(rec, NAMESPACE, labels, restarted, "vLLM to fail after loading and restart")


def startup_timeout(rec: Recorder) -> None:
    """A 3-minute model load (seed §4C) against a one-minute startup probe (12 x 5 s)."""
    manifest = manifests.model_deployment(
        "slow-model", NAMESPACE, annotations={ENGINE_ARGS_ANNOTATION: "--emu-load-time-s 180 "
                                              "--no-emu-listen-while-loading"})
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["startupProbe"].update(periodSeconds=5, failureThreshold=12)
    rec.create(manifest)
    wait_pod(rec, NAMESPACE, {manifests.MODEL_LABEL: "slow-model"}, restarted,
                  "the startup probe to kill the loading container")


def gpu_over_request(rec: Recorder) -> None:
    """A model Deployment limited to 2 GPUs where every node has 1."""
    manifest = manifests.model_deployment("greedy-model", NAMESPACE)
    manifest["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][GPU] = "2"
    rec.create(manifest)
    wait_pod(rec, NAMESPACE, {manifests.MODEL_LABEL: "greedy-model"},
             unschedulable(f"Insufficient {GPU}"), "the pod to stay Pending for GPUs")


def orphaned_engine(rec: Recorder) -> None:
    """A model pod runs and is deleted; its engine-core process stays on the virtual GPU."""
    node = gpu_node(rec.core)
    notes = node.metadata.annotations or {}
    rec.create(manifests.model_pod("orphan-source", NAMESPACE, node.metadata.name))
    labels = {manifests.MODEL_LABEL: "orphan-source"}
    pod = wait_pod(rec, NAMESPACE, labels, running, "the model pod to run its engine")
    rec.core.delete_namespaced_pod(pod.metadata.name, NAMESPACE, grace_period_seconds=0)
    wait_for(lambda: not _pods(rec.core, NAMESPACE, labels), WAIT_S, "the model pod to go")
    used = float(notes.get(GPU_USED_ANNOTATION, "1.0")) + ORPHAN_GIB
    process = {"pid": ORPHAN_PID, "name": "VLLM::EngineCore", "usedGiB": ORPHAN_GIB,
               "podUID": pod.metadata.uid}
    rec.set_node_metadata(node.metadata.name, "annotations", {
        GPU_PROCESSES_ANNOTATION: json.dumps([process]), GPU_USED_ANNOTATION: f"{used:.1f}"})


def _address(node: client.V1Node) -> str:
    internal = [a.address for a in node.status.addresses or [] if a.type == "InternalIP"]
    fallback = (node.metadata.annotations or {}).get("k3s.io/internal-ip", "127.0.0.1")
    return str((internal or [fallback])[0])


def _lb_with_svclb(rec: Recorder, service: dict[str, Any], ports: list[int]) -> Any:
    created = rec.create(service)
    meta = created.metadata
    rec.create(manifests.svclb_daemonset(meta.name, meta.namespace, meta.uid, ports))
    return created


def traefik(rec: Recorder) -> None:
    """K3s's Traefik on port 80 via ServiceLB, then Envoy Gateway's LoadBalancer on port 80."""
    node = gpu_node(rec.core)
    web = manifests.load_balancer_service(
        "traefik", "kube-system", {"app.kubernetes.io/name": "traefik",
                                   "app.kubernetes.io/instance": "traefik-kube-system"},
        {"web": (80, 8000), "websecure": (443, 8443)})
    _lb_with_svclb(rec, web, [80, 443])
    svclb = {manifests.SVCLB_LABEL: "traefik"}
    wait_pod(rec, "kube-system", svclb, running, "Traefik's svclb pod to hold port 80")
    # ServiceLB publishes the node's address once its pod runs.
    rec.core.patch_namespaced_service_status("traefik", "kube-system", {"status": {
        "loadBalancer": {"ingress": [{"ip": _address(node), "ipMode": "VIP"}]}}})
    rec.ensure_namespace(aibrix.ENVOY_GATEWAY_NAMESPACE)
    envoy = manifests.load_balancer_service(
        aibrix.ENVOY_SERVICE_NAME, aibrix.ENVOY_GATEWAY_NAMESPACE, manifests.ENVOY_LABELS,
        {"http-80": (80, manifests.ENVOY_LISTENER_PORT)})
    _lb_with_svclb(rec, envoy, [80])
    wait_pod(rec, "kube-system", {manifests.SVCLB_LABEL: aibrix.ENVOY_SERVICE_NAME},
             unschedulable("free ports"), "Envoy's svclb pod to find port 80 taken")


def stack_requests(rec: Recorder) -> None:
    """A 16 GiB desktop node and the AIBrix v0.5.0 release Deployments at release requests."""
    node = gpu_node(rec.core).metadata.name
    for field_name, values in DESKTOP_16GB.items():
        rec.set_node_status(node, field_name, values)
    rec.ensure_namespace(aibrix.SYSTEM_NAMESPACE)
    rec.ensure_namespace(aibrix.ENVOY_GATEWAY_NAMESPACE)
    for manifest in manifests.aibrix_stack(aibrix.SYSTEM_NAMESPACE):
        rec.create(manifest)
    rec.create(manifests.envoy_deployment(aibrix.ENVOY_GATEWAY_NAMESPACE))

    def stuck() -> bool:
        return any(unschedulable("Insufficient memory")(p)
                   for ns in (aibrix.SYSTEM_NAMESPACE, aibrix.ENVOY_GATEWAY_NAMESPACE)
                   for p in _pods(rec.core, ns, rec.labels))

    wait_for(stuck, WAIT_S, "a stack pod to stay Pending for memory", interval_s=0.3)


SCENARIOS = {s.name: s for s in (
    FaultScenario("disk-pressure",
                  "node DiskPressure: taint, model pod Evicted, replacement Pending",
                  "DiskPressure", disk_pressure),
    FaultScenario("cuda-oom", "vLLM at --gpu-memory-utilization 0.9 while the desktop holds 1 GiB",
                  "CudaOomAtStart", cuda_oom),
    FaultScenario("kv-cache", "the seed's model without --max-model-len: KV cache too small",
                  "KvCacheTooSmall", kv_cache),
    FaultScenario("startup-timeout", "3-minute model load against a 12 x 5 s startup probe",
                  "StartupProbeTimeout", startup_timeout),
    FaultScenario("gpu-over-request", "a model asking for 2 GPUs on 1-GPU nodes",
                  "GpuUnschedulable", gpu_over_request),
    FaultScenario("orphaned-engine", "a deleted pod's VLLM::EngineCore still holds 5.6 GiB",
                  "OrphanedEngine", orphaned_engine),
    FaultScenario("traefik", "K3s Traefik holds port 80; Envoy's LoadBalancer stays pending",
                  "TraefikHoldsPort80", traefik),
    FaultScenario("stack-requests", "AIBrix release requests on a 16 GiB node",
                  "StackRequestsTooLarge", stack_requests),
)}
