"""The AIBrix stack on a cluster: which version is installed, and whether the release fits.

The version is read from the controller manager's image tag (the release manifests pin every
component to the release tag). The preflight adds up what the v0.5.0 release requests and
compares it with the roomiest node's free allocatable, so a small K3s box learns before
installing that it needs the K3s-small overrides (manifests/aibrix/k3s-small).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.kube import pod_requests, quantity

CONTROLLER = "aibrix-controller-manager"
RESOURCES = ("cpu", "memory")


def installed_version(apps: client.AppsV1Api) -> str | None:
    """The AIBrix release tag of the installed controller manager, or None when absent."""
    try:
        deployment = apps.read_namespaced_deployment(CONTROLLER, aibrix.SYSTEM_NAMESPACE)
    except ApiException as exc:
        return None if exc.status == 404 else "unknown"  # e.g. 403: not ours to read
    image = deployment.spec.template.spec.containers[0].image or ""
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    return tag or "unknown"


def _pods(small: bool) -> list[aibrix.Requests]:
    per = [*aibrix.RELEASE_REQUESTS.values(), aibrix.ENVOY_REQUESTS]
    if not small:
        return per
    cap = aibrix.K3S_SMALL_REQUESTS
    return [aibrix.Requests(min(r.cpu, cap.cpu, key=quantity),
                            min(r.memory, cap.memory, key=quantity)) for r in per]


def _amounts(requests: aibrix.Requests) -> dict[str, Decimal]:
    return {"cpu": quantity(requests.cpu), "memory": quantity(requests.memory)}


def release_requests(small: bool = False) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """(all pods, the largest pod) the v0.5.0 release requests, Envoy included.

    `small`: with the K3s-small overrides (no container above aibrix.K3S_SMALL_REQUESTS).
    """
    pods = [_amounts(r) for r in _pods(small)]
    total = {r: sum((p[r] for p in pods), Decimal(0)) for r in RESOURCES}
    largest = {r: max(p[r] for p in pods) for r in RESOURCES}
    return total, largest


@dataclass(frozen=True)
class Room:
    """What the nodes have left for new pods: the roomiest node, and all nodes together."""

    node: str
    node_free: dict[str, Decimal]
    cluster_free: dict[str, Decimal]

    def holds(self, total: dict[str, Decimal], largest: dict[str, Decimal]) -> bool:
        """Whether the largest pod fits the roomiest node and the total fits the cluster."""
        return all(largest[r] <= self.node_free[r] and total[r] <= self.cluster_free[r]
                   for r in RESOURCES)


def free_room(core: client.CoreV1Api) -> Room | None:
    """Allocatable minus bound pods' requests, per schedulable node; None without nodes."""
    pods = core.list_pod_for_all_namespaces().items
    frees = {}
    for node in core.list_node().items:
        if node.spec.unschedulable:
            continue
        allocatable = node.status.allocatable or {}
        bound = [p for p in pods if p.spec.node_name == node.metadata.name
                 and p.status.phase not in ("Succeeded", "Failed")]
        frees[node.metadata.name] = {
            r: quantity(allocatable.get(r, "0"))
            - sum((pod_requests(p).get(r, Decimal(0)) for p in bound), Decimal(0))
            for r in RESOURCES}
    if not frees:
        return None
    roomiest = max(frees, key=lambda name: frees[name]["memory"])
    return Room(roomiest, frees[roomiest],
                {r: sum((f[r] for f in frees.values()), Decimal(0)) for r in RESOURCES})
