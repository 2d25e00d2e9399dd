"""Doctor's node checks against small fake clusters: disk pressure, evicted pods, NotReady."""

from __future__ import annotations

from brixcheck.doctor import FindingId, run_checks
from brixcheck.doctor.checks.nodes import DISK_TAINT, disk_pressure, evicted_pods, node_not_ready
from tests.unit.doctor import fakes

EVICTED = "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi."
UNTOLERATED = f"0/1 nodes are available: 1 node(s) had untolerated taint {{{DISK_TAINT}: }}."


def _pressured_cluster():
    dep, rs, _ = fakes.model()
    gone = fakes.pod("m-1", phase="Failed", owner=rs, reason="Evicted", message=EVICTED)
    waiting = fakes.pod("m-2", phase="Pending", owner=rs, unschedulable=UNTOLERATED)
    node = fakes.node(conditions={"DiskPressure": "True"}, taints=[DISK_TAINT])
    return fakes.observed([node], [gone, waiting], deployments=[dep], replica_sets=[rs])


def test_run_checks_healthy_cluster_is_all_clear():
    dep, rs, _ = fakes.model()
    serving = fakes.pod("m-1", owner=rs)
    assert run_checks(fakes.observed([fakes.node()], [serving], deployments=[dep],
                                     replica_sets=[rs])) == []


def test_disk_pressure_names_node_evicted_and_pending_pods():
    [finding] = disk_pressure(_pressured_cluster())
    assert finding.id == FindingId.DISK_PRESSURE
    assert "k3s-gpu-0 reports DiskPressure" in finding.cause
    assert "1 pod was evicted and 1 pod stays Pending" in finding.cause
    assert any("pod/default/m-1 Evicted" in e for e in finding.evidence)
    assert any("pod/default/m-2 Pending" in e for e in finding.evidence)


def test_disk_pressure_remedy_is_the_seed_and_k3s_cleanup():
    [finding] = disk_pressure(_pressured_cluster())
    assert finding.remedy[0] == "sudo k3s crictl rmi --prune"
    assert any(c.startswith("docker system prune -af") for c in finding.remedy)
    assert "rm -rf ~/.local/share/Trash/*" in finding.remedy
    assert "kubectl -n default delete pod m-1" in finding.remedy


def test_disk_pressure_taint_alone_is_reported():
    seen = fakes.observed([fakes.node(taints=[DISK_TAINT])])
    assert [f.id for f in disk_pressure(seen)] == [FindingId.DISK_PRESSURE]


def test_evicted_pods_left_after_pressure_are_listed_for_deletion():
    gone = fakes.pod("m-1", phase="Failed", reason="Evicted", message=EVICTED)
    [finding] = evicted_pods(fakes.observed([fakes.node()], [gone]))
    assert finding.id == FindingId.EVICTED_PODS
    assert finding.remedy == ("kubectl -n default delete pod m-1",)


def test_evicted_pods_not_reported_twice_while_pressure_lasts():
    assert evicted_pods(_pressured_cluster()) == []


def test_node_not_ready_uses_the_k3s_agent_service_on_agents():
    agent = fakes.node("worker", conditions={"Ready": "False"}, server=False)
    [finding] = node_not_ready(fakes.observed([agent]))
    assert "sudo systemctl status k3s-agent" in finding.remedy
    assert "worker is NotReady" in finding.cause
