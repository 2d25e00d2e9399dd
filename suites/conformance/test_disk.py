"""Disk: no node is under disk pressure (seed section 4A)."""

from __future__ import annotations

import pytest

from brixcheck.cluster.capability import Capability
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case

NO_DISK_PRESSURE = Case(
    id="NodesHaveNoDiskPressure",
    description="No node reports DiskPressure=True or carries the disk-pressure taint.",
    checks="seed §4A (pods Pending or Evicted)",
    remedy="free disk on the node: `sudo k3s crictl rmi --prune` (or `docker system prune -af`), "
           "`rm -rf ~/.local/share/Trash/*`; then `kubectl describe node NODE` shows "
           "DiskPressure False",
    capabilities=frozenset({Capability.KUBERNETES_API}),
    diagnoses=("DiskPressure", "EvictedPods"),
)


@pytest.mark.case(NO_DISK_PRESSURE)
def test_nodes_have_no_disk_pressure(target: Target):
    pressured = []
    for node in target.core.list_node().items:
        conditions = {c.type: c.status for c in node.status.conditions or []}
        taints = {t.key for t in node.spec.taints or []}
        if conditions.get("DiskPressure") == "True" or "node.kubernetes.io/disk-pressure" in taints:
            pressured.append(node.metadata.name)
    assert not pressured, f"DiskPressure on: {', '.join(pressured)}"
