"""GPU checks: pods Pending for nvidia.com/gpu, no node advertising GPUs, and GPU memory held
by engine processes that belong to no running pod (see brixcheck/doctor/gpu_facts.py for what
a real host and the twin can show).
"""

from __future__ import annotations

import json
import shlex
from collections import defaultdict

from kubernetes import client

from brixcheck.cluster.kube import container_requests, pod_requests
from brixcheck.doctor.commands import patch_commands, target_of
from brixcheck.doctor.facts import (
    GIB,
    GPU_RESOURCE,
    gpu_count,
    names,
    owner_deployment,
    plural,
    pod_ref,
    pods_on,
    scheduling_messages,
    unschedulable_message,
)
from brixcheck.doctor.findings import Finding, FindingId, Observed
from brixcheck.doctor.gpu_facts import GpuProcess

INSUFFICIENT_GPU = f"Insufficient {GPU_RESOURCE}"
DEVICE_PLUGIN = ("https://raw.githubusercontent.com/NVIDIA/k8s-device-plugin/v0.17.0/"
                 "deployments/static/nvidia-device-plugin.yml")
NVIDIA_SMI = "nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv"


def _gpus_of(pod: client.V1Pod) -> int:
    return int(pod_requests(pod).get(GPU_RESOURCE, 0))


def _gpu_pending(seen: Observed) -> list[client.V1Pod]:
    return [p for p in seen.pods if unschedulable_message(p)
            and INSUFFICIENT_GPU in scheduling_messages(seen, p)]


def gpu_not_advertised(seen: Observed) -> list[Finding]:
    """Pods ask for GPUs but no node advertises nvidia.com/gpu: the device plugin is missing."""
    if any(gpu_count(n) for n in seen.nodes):
        return []
    waiting = [p for p in seen.pods if _gpus_of(p) and unschedulable_message(p)]
    if not waiting:
        return []
    cause = (f"{plural(len(waiting), 'pod')} {'asks' if len(waiting) == 1 else 'ask'} for "
             f"{GPU_RESOURCE} but no node advertises any: the NVIDIA device plugin is not "
             "running (or the container runtime cannot see the GPU).")
    remedy = ("nvidia-smi   # on the GPU node: the driver must work first",
              "sudo systemctl restart k3s   # K3s adds the nvidia runtime when "
              "nvidia-container-toolkit is installed",
              f"kubectl apply -f {DEVICE_PLUGIN}",
              "kubectl get nodes -o custom-columns=NAME:.metadata.name,"
              "GPU:.status.allocatable.nvidia\\.com/gpu")
    return [Finding(FindingId.GPU_NOT_ADVERTISED, cause, remedy,
                    tuple(f"pod/{pod_ref(p)} Pending: {INSUFFICIENT_GPU}" for p in waiting))]


def _holders(seen: Observed) -> list[client.V1Pod]:
    return [p for n in seen.nodes if gpu_count(n) for p in pods_on(seen, n.metadata.name)
            if _gpus_of(p)]


def _too_big(seen: Observed, pod: client.V1Pod, most: int) -> Finding:
    deployment = owner_deployment(seen, pod)
    target = target_of(pod, deployment)
    index = next(i for i, c in enumerate(target.spec.containers)
                 if container_requests(c).get(GPU_RESOURCE, 0) > 0)
    resources = target.spec.containers[index].resources
    ops = [{"op": "add", "path": f"{target.prefix}/containers/{index}/resources/{field}/"
                                 "nvidia.com~1gpu", "value": str(most)}
           for field in ("limits", "requests") if getattr(resources, field)
           and GPU_RESOURCE in getattr(resources, field)]
    cause = (f"Pod {pod_ref(pod)} asks for {_gpus_of(pod)} {GPU_RESOURCE} but no node has "
             f"more than {most}, so it can never be scheduled.")
    return Finding(FindingId.GPU_UNSCHEDULABLE, cause,
                   tuple(patch_commands(target, ops, f"set {GPU_RESOURCE} to {most}")),
                   (f"pod/{pod_ref(pod)} Pending: {INSUFFICIENT_GPU}",))


def _rolling(seen: Observed, pod: client.V1Pod, holders: list[client.V1Pod]) -> Finding | None:
    deployment = owner_deployment(seen, pod)
    if deployment is None:
        return None
    same = [h for h in holders if owner_deployment(seen, h) is deployment]
    if not same:
        return None
    ns, name = deployment.metadata.namespace, deployment.metadata.name
    cause = (f"Deployment {ns}/{name} rolls updates: its new pod {pod.metadata.name} waits for "
             f"a GPU that its old pod {same[0].metadata.name} still holds, and the old pod "
             "is only removed once the new one is ready, so the rollout never ends.")
    body = json.dumps([{"op": "replace", "path": "/spec/strategy",
                        "value": {"type": "Recreate"}}], separators=(",", ":"))
    return Finding(FindingId.GPU_UNSCHEDULABLE, cause,
                   (f"kubectl -n {ns} patch deployment {name} --type=json -p {shlex.quote(body)}",),
                   (f"pod/{pod_ref(pod)} Pending: {INSUFFICIENT_GPU}",
                    f"pod/{pod_ref(same[0])} holds {_gpus_of(same[0])} {GPU_RESOURCE}"))


def _all_held(seen: Observed, pods: list[client.V1Pod], holders: list[client.V1Pod]) -> Finding:
    total = sum(gpu_count(n) for n in seen.nodes)
    cause = (f"{plural(len(pods), 'pod')} {'waits' if len(pods) == 1 else 'wait'} for "
             f"{GPU_RESOURCE}: all {total} of the cluster's GPUs are held by "
             f"{names(pod_ref(h) for h in holders) or 'other pods'}.")
    remedy: list[str] = []
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for pod in pods:
        deployment = owner_deployment(seen, pod)
        if deployment is not None:
            counts[(deployment.metadata.namespace, deployment.metadata.name)] += 1
    for (ns, name), pending in sorted(counts.items()):
        dep = next(d for d in seen.deployments if d.metadata.name == name
                   and d.metadata.namespace == ns)
        remedy.append(f"kubectl -n {ns} scale deployment {name} "
                      f"--replicas={max(0, (dep.spec.replicas or 1) - pending)}")
    remedy += [f"# or free a GPU: kubectl -n {h.metadata.namespace} delete pod "
               f"{h.metadata.name}   (its controller may recreate it)" for h in holders[:3]]
    evidence = [f"pod/{pod_ref(p)} Pending: {INSUFFICIENT_GPU}" for p in pods]
    evidence += [f"pod/{pod_ref(h)} holds {_gpus_of(h)} {GPU_RESOURCE}" for h in holders]
    return Finding(FindingId.GPU_UNSCHEDULABLE, cause, tuple(remedy), tuple(evidence))


def gpu_unschedulable(seen: Observed) -> list[Finding]:
    """Pods Pending for 'Insufficient nvidia.com/gpu': over-request, rollout or all GPUs held."""
    most = max((gpu_count(n) for n in seen.nodes), default=0)
    if most == 0:
        return []
    pending = _gpu_pending(seen)
    findings = [_too_big(seen, p, most) for p in pending if _gpus_of(p) > most]
    holders = _holders(seen)
    waiting = []
    for pod in (p for p in pending if _gpus_of(p) <= most):
        rolling = _rolling(seen, pod, holders)
        if rolling is None:
            waiting.append(pod)
        else:
            findings.append(rolling)
    if waiting:
        findings.append(_all_held(seen, waiting, holders))
    return findings


def orphaned_processes(seen: Observed) -> list[GpuProcess]:
    """GPU processes that belong to no running pod: vLLM outside any pod, or a gone pod's."""
    if seen.gpu is None:
        return []
    live = {p.metadata.uid for p in seen.pods if p.status.phase in ("Running", "Pending")}
    return [p for p in seen.gpu.processes
            if p.visible and ((p.pod_uid is not None and p.pod_uid not in live)
                              or (p.pod_uid is None and p.is_vllm))]


def _held(process: GpuProcess) -> str:
    return f"{process.used_bytes / GIB:.1f} GiB" if process.used_bytes else "memory"


def orphaned_engine(seen: Observed) -> list[Finding]:
    """A dead engine's process still holds GPU memory (seed §4B: kill dead VLLM::EngineCore)."""
    findings = []
    for process in orphaned_processes(seen):
        where = f"{process.gpu} on node {process.node or '?'}"
        owner = (f"its pod {process.pod_uid} no longer runs" if process.pod_uid
                 else "it runs outside any pod")
        cause = (f"Process {process.pid} ({process.name}) still holds {_held(process)} of "
                 f"{where} but belongs to no running pod ({owner}); its memory is only "
                 "returned when the process exits, so new engines find the GPU full.")
        remedy = (NVIDIA_SMI, f"sudo kill {process.pid}",
                  f"sudo kill -9 {process.pid}   # only if nvidia-smi still lists it after 10 s")
        findings.append(Finding(FindingId.ORPHANED_ENGINE, cause, remedy,
                                (f"{where}: pid {process.pid} {process.name} {_held(process)} "
                                 f"({seen.gpu.source if seen.gpu else ''})",)))
    return findings

