"""Small readings of Kubernetes objects that several checks share.

Pure functions over the official client's models: conditions, taints, why a pod is Pending,
its events, its Deployment, requests and free resources of a node, quantities. No API calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from kubernetes import client

from brixcheck.cluster.kube import pod_requests, quantity
from brixcheck.cluster.target import GPU_RESOURCE
from brixcheck.doctor.findings import Observed

GIB = 1024**3


def node_condition(node: client.V1Node, kind: str) -> client.V1NodeCondition | None:
    """The node's condition of this type, if reported."""
    return next((c for c in node.status.conditions or [] if c.type == kind), None)


def has_taint(node: client.V1Node, key: str) -> bool:
    """True when the node carries a taint with this key."""
    return any(t.key == key for t in node.spec.taints or [])


def pod_ref(pod: client.V1Pod) -> str:
    """'namespace/name' of a pod."""
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def is_running(pod: client.V1Pod) -> bool:
    """True for a pod that is Running and not being deleted."""
    return pod.status.phase == "Running" and pod.metadata.deletion_timestamp is None


def unschedulable_message(pod: client.V1Pod) -> str:
    """The scheduler's reason a Pending pod has no node ('' when it is not unschedulable)."""
    if pod.status.phase != "Pending" or pod.spec.node_name:
        return ""
    for condition in pod.status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return condition.message or condition.reason or ""
    return ""


def events_of(seen: Observed, pod: client.V1Pod) -> list[client.CoreV1Event]:
    """Events about this pod (this UID when the event names one), oldest first."""
    def about(event: client.CoreV1Event) -> bool:
        ref = event.involved_object
        if ref.kind != "Pod" or ref.namespace != pod.metadata.namespace:
            return False
        if ref.uid:
            return bool(ref.uid == pod.metadata.uid)
        return bool(ref.name == pod.metadata.name)

    found = [e for e in seen.events if about(e)]
    return sorted(found, key=lambda e: str(e.last_timestamp or e.event_time or ""))


def scheduling_messages(seen: Observed, pod: client.V1Pod) -> str:
    """Everything the scheduler said about a Pending pod: condition and FailedScheduling."""
    said = [unschedulable_message(pod)]
    said += [e.message or "" for e in events_of(seen, pod) if e.reason == "FailedScheduling"]
    return " ".join(m for m in said if m)


def first_sentence(message: str) -> str:
    """The scheduler's verdict without its preemption details: up to the first '. '."""
    return message.split(". ", 1)[0].strip()


def owner_deployment(seen: Observed, pod: client.V1Pod) -> client.V1Deployment | None:
    """The Deployment that owns the pod through its ReplicaSet, if any."""
    rs_name = next((o.name for o in pod.metadata.owner_references or []
                    if o.kind == "ReplicaSet"), None)
    if rs_name is None:
        return None
    rs = next((r for r in seen.replica_sets if r.metadata.name == rs_name
               and r.metadata.namespace == pod.metadata.namespace), None)
    if rs is None:
        return None
    dep_name = next((o.name for o in rs.metadata.owner_references or []
                     if o.kind == "Deployment"), None)
    return next((d for d in seen.deployments if d.metadata.name == dep_name
                 and d.metadata.namespace == pod.metadata.namespace), None)


def pods_on(seen: Observed, node: str) -> list[client.V1Pod]:
    """Pods bound to a node that still hold resources (not Succeeded or Failed)."""
    return [p for p in seen.pods if p.spec.node_name == node
            and p.status.phase not in ("Succeeded", "Failed")]


def node_free(seen: Observed, node: client.V1Node, resource: str) -> Decimal:
    """Allocatable minus what bound pods request, for one resource."""
    allocatable = quantity((node.status.allocatable or {}).get(resource, "0"))
    used = sum((pod_requests(p).get(resource, Decimal(0))
                for p in pods_on(seen, node.metadata.name)), Decimal(0))
    return allocatable - used


def describe(resource: str, value: Decimal) -> str:
    """A resource amount as people write it: '2 CPU', '8.0 GiB', '1 nvidia.com/gpu'."""
    if resource == "cpu":
        return f"{float(value):g} CPU"
    if resource in ("memory", "ephemeral-storage"):
        return f"{float(value) / GIB:.1f} GiB"
    return f"{value:f}".rstrip("0").rstrip(".") + f" {resource}"


def gpu_count(node: client.V1Node) -> int:
    """Allocatable nvidia.com/gpu of a node."""
    return int((node.status.allocatable or {}).get(GPU_RESOURCE, "0"))


def plural(count: int, word: str) -> str:
    """'1 pod', '2 pods'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def names(items: Iterable[str]) -> str:
    """Comma-separated, in the order given."""
    return ", ".join(items)


def ceil_div(value: float, by: float) -> int:
    """Smallest integer n with n x by >= value."""
    return max(1, math.ceil(value / by))
