"""What `brixcheck doctor` reports: findings, and the snapshot of the cluster they come from.

A `Finding` is one problem: its cause in one sentence, the remedy as exact shell commands and
the evidence (short strings naming the objects that show it). `Observed` is everything the
checks may look at, read once, so every check is a pure function of it and unit tests build it
from plain client objects. This module reads nothing and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from kubernetes import client

from brixcheck.doctor.gpu_facts import GpuFacts


class FindingId(StrEnum):
    """The closed set of problems doctor knows."""

    DISK_PRESSURE = "DiskPressure"
    EVICTED_PODS = "EvictedPods"
    NODE_NOT_READY = "NodeNotReady"
    CUDA_OOM_AT_START = "CudaOomAtStart"
    KV_CACHE_TOO_SMALL = "KvCacheTooSmall"
    STARTUP_PROBE_TIMEOUT = "StartupProbeTimeout"
    GPU_UNSCHEDULABLE = "GpuUnschedulable"
    GPU_NOT_ADVERTISED = "GpuNotAdvertised"
    ORPHANED_ENGINE = "OrphanedEngine"
    TRAEFIK_HOLDS_PORT_80 = "TraefikHoldsPort80"
    STACK_REQUESTS_TOO_LARGE = "StackRequestsTooLarge"


@dataclass(frozen=True)
class Finding:
    """One problem found.

    Attributes:
        id: which problem.
        cause: one sentence saying what is wrong and why.
        remedy: exact shell commands, in order; lines starting with `#` explain a choice.
        evidence: short strings naming the objects that show the problem.
    """

    id: FindingId
    cause: str
    remedy: tuple[str, ...]
    evidence: tuple[str, ...] = ()


# (namespace, pod name, container, previous) -> the container log, "" when there is none.
LogReader = Callable[[str, str, str, bool], str]


def _no_logs(namespace: str, pod: str, container: str, previous: bool) -> str:  # noqa: ARG001
    return ""


@dataclass(frozen=True)
class Observed:
    """What the checks see: the cluster's objects, container logs on demand, GPU facts.

    Attributes:
        nodes: every node.
        pods: every pod, all namespaces.
        events: every event, all namespaces.
        services: every Service, all namespaces.
        deployments: every Deployment, all namespaces.
        replica_sets: every ReplicaSet, all namespaces (to find a pod's Deployment).
        logs: reads one container's log (current or previous).
        gpu: GPU facts of the host (NVML) or of the twin's virtual GPUs; None when unknown.
        time_scale: seconds of the cluster's clock per second of the pod spec's probe periods
            (1.0 on a real cluster; the twin's time factor on the twin).
    """

    nodes: tuple[client.V1Node, ...] = ()
    pods: tuple[client.V1Pod, ...] = ()
    events: tuple[client.CoreV1Event, ...] = ()
    services: tuple[client.V1Service, ...] = ()
    deployments: tuple[client.V1Deployment, ...] = ()
    replica_sets: tuple[client.V1ReplicaSet, ...] = ()
    logs: LogReader = field(default=_no_logs)
    gpu: GpuFacts | None = None
    time_scale: float = 1.0


Check = Callable[[Observed], list[Finding]]
