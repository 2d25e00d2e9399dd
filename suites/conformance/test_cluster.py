"""Cluster: the API answers and the nodes are Ready (seed section 3, phase 1)."""

from __future__ import annotations

import pytest

from brixcheck.cluster.capability import Capability
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case

API = Case(
    id="ClusterApiReachable",
    description="The Kubernetes API answers and lists at least one node.",
    checks="seed §3 phase 1 (KUBECONFIG)",
    remedy="export KUBECONFIG=/path/to/k3s.yaml (K3s: /etc/rancher/k3s/k3s.yaml) and check "
           "`kubectl get nodes`",
    capabilities=frozenset({Capability.KUBERNETES_API}),
)
NODES_READY = Case(
    id="NodesReady",
    description="Every node reports Ready=True.",
    checks="seed §3 phase 1",
    remedy="`kubectl describe node NODE` and fix the condition it reports; on K3s "
           "`sudo systemctl status k3s`",
    capabilities=frozenset({Capability.KUBERNETES_API}),
    diagnoses=("NodeNotReady",),
)


@pytest.mark.case(API)
def test_cluster_api_reachable(target: Target):
    assert target.environment["nodes"] >= 1, "the API answered but lists no node"


@pytest.mark.case(NODES_READY)
def test_nodes_ready(target: Target):
    not_ready = [n.metadata.name for n in target.core.list_node().items
                 if {c.type: c.status for c in n.status.conditions or []}.get("Ready") != "True"]
    assert not not_ready, f"nodes not Ready: {', '.join(not_ready)}"
