"""Node checks: disk pressure (seed §4A), Evicted pods left behind, nodes NotReady."""

from __future__ import annotations

from collections import defaultdict

from kubernetes import client

from brixcheck.doctor.facts import (
    has_taint,
    names,
    node_condition,
    plural,
    pod_ref,
    unschedulable_message,
)
from brixcheck.doctor.findings import Finding, FindingId, Observed

DISK_TAINT = "node.kubernetes.io/disk-pressure"
# The kubelet's eviction message names the signal: nodefs/imagefs or ephemeral-storage.
DISK_SIGNALS = ("ephemeral-storage", "nodefs", "imagefs")
FREE_DISK = (
    "sudo k3s crictl rmi --prune",
    "docker system prune -af   # only where Docker keeps images on the same disk (seed §4A)",
    "rm -rf ~/.local/share/Trash/*",
    "df -h /var/lib/rancher/k3s",
)


def _under_disk_pressure(node: client.V1Node) -> bool:
    condition = node_condition(node, "DiskPressure")
    return (condition is not None and condition.status == "True") or has_taint(node, DISK_TAINT)


def _evicted(pod: client.V1Pod) -> bool:
    return bool(pod.status.phase == "Failed" and pod.status.reason == "Evicted")


def _evicted_for_disk(pod: client.V1Pod) -> bool:
    return _evicted(pod) and any(s in (pod.status.message or "") for s in DISK_SIGNALS)


def delete_pods_commands(pods: list[client.V1Pod]) -> list[str]:
    """`kubectl delete pod` lines, one per namespace."""
    by_namespace: dict[str, list[str]] = defaultdict(list)
    for pod in pods:
        by_namespace[pod.metadata.namespace].append(pod.metadata.name)
    return [f"kubectl -n {ns} delete pod {' '.join(sorted(found))}"
            for ns, found in sorted(by_namespace.items())]


def disk_pressure(seen: Observed) -> list[Finding]:
    """Nodes with DiskPressure: the taint, the pods it evicted and the pods it keeps Pending."""
    nodes = [n for n in seen.nodes if _under_disk_pressure(n)]
    if not nodes:
        return []
    evicted = [p for p in seen.pods if _evicted_for_disk(p)]
    pending = [p for p in seen.pods if DISK_TAINT in unschedulable_message(p)]
    node_names = [n.metadata.name for n in nodes]
    cause = (f"{names(node_names)} {'reports' if len(nodes) == 1 else 'report'} DiskPressure: "
             f"the kubelet is past its disk eviction threshold (LLM images fill the disk), so "
             f"the node is tainted {DISK_TAINT}:NoSchedule, {plural(len(evicted), 'pod')} "
             f"{'was' if len(evicted) == 1 else 'were'} evicted and {plural(len(pending), 'pod')} "
             f"{'stays' if len(pending) == 1 else 'stay'} Pending.")
    verify = [f"kubectl describe node {n} | grep DiskPressure   # expect False"
              for n in node_names]
    evidence = [f"node/{n} DiskPressure=True, taint {DISK_TAINT}" for n in node_names]
    evidence += [f"pod/{pod_ref(p)} Evicted: {(p.status.message or '').strip()[:90]}"
                 for p in evicted]
    evidence += [f"pod/{pod_ref(p)} Pending: untolerated taint {DISK_TAINT}" for p in pending]
    return [Finding(FindingId.DISK_PRESSURE, cause,
                    (*FREE_DISK, *verify, *delete_pods_commands(evicted)), tuple(evidence))]


def evicted_pods(seen: Observed) -> list[Finding]:
    """Evicted pods left as Failed objects once no node is under disk pressure any more."""
    if any(_under_disk_pressure(n) for n in seen.nodes):
        return []
    evicted = [p for p in seen.pods if _evicted(p)]
    if not evicted:
        return []
    cause = (f"{plural(len(evicted), 'pod')} {'was' if len(evicted) == 1 else 'were'} evicted "
             "earlier and remain as Failed pod objects (their controllers already replaced "
             "them); nothing runs in them.")
    evidence = tuple(f"pod/{pod_ref(p)} Evicted: {(p.status.message or '').strip()[:90]}"
                     for p in evicted)
    return [Finding(FindingId.EVICTED_PODS, cause, tuple(delete_pods_commands(evicted)),
                    evidence)]


def _k3s_service(node: client.V1Node) -> str:
    labels = node.metadata.labels or {}
    server = "node-role.kubernetes.io/control-plane" in labels
    return "k3s" if server else "k3s-agent"


def node_not_ready(seen: Observed) -> list[Finding]:
    """Nodes whose Ready condition is not True: no pod there starts or is probed."""
    findings = []
    for node in seen.nodes:
        ready = node_condition(node, "Ready")
        if ready is not None and ready.status == "True":
            continue
        name, service = node.metadata.name, _k3s_service(node)
        said = f"{ready.reason}: {ready.message}" if ready else "no Ready condition reported"
        cause = (f"Node {name} is NotReady ({said}): its kubelet (the {service} service on "
                 "K3s) does not post a healthy status, so pods there are not started or "
                 "probed.")
        remedy = (f"sudo systemctl status {service}",
                  f"sudo journalctl -u {service} --since '15 min ago' --no-pager | tail -n 50",
                  f"sudo systemctl restart {service}",
                  f"kubectl get node {name}   # expect Ready")
        findings.append(Finding(FindingId.NODE_NOT_READY, cause, remedy,
                                (f"node/{name} Ready={ready.status if ready else '?'}",)))
    return findings
