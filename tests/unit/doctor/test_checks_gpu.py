"""Doctor's GPU checks: Pending for GPUs (three causes), no GPU advertised, orphaned engines."""

from __future__ import annotations

import json
import shlex

from brixcheck.doctor import FindingId
from brixcheck.doctor.checks.gpu import gpu_not_advertised, gpu_unschedulable, orphaned_engine
from brixcheck.doctor.gpu_facts import GpuFacts, GpuProcess
from brixcheck.engine.profiles import GIB
from tests.unit.doctor import fakes

NO_GPU = ("0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are "
          "available: 1 No preemption victims found for incoming pod.")


def test_over_request_lowers_the_limit_to_what_a_node_has():
    dep, rs, _ = fakes.model(spec_container=fakes.container(gpus=2))
    waiting = fakes.pod("m-1", phase="Pending", owner=rs, unschedulable=NO_GPU,
                        spec_container=dep.spec.template.spec.containers[0])
    [finding] = gpu_unschedulable(fakes.observed([fakes.node()], [waiting], deployments=[dep],
                                                 replica_sets=[rs]))
    assert finding.id == FindingId.GPU_UNSCHEDULABLE
    assert "asks for 2 nvidia.com/gpu but no node has more than 1" in finding.cause
    assert json.loads(shlex.split(finding.remedy[0])[-1])[-1] == {
        "op": "add", "path": "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu",
        "value": "1"}


def test_rolling_update_waiting_for_its_own_old_pods_gpu_suggests_recreate():
    dep, old_rs, _ = fakes.model()
    new_rs = fakes.replica_set(dep, "m-new")
    old = fakes.pod("m-old-1", owner=old_rs)
    new = fakes.pod("m-new-1", phase="Pending", owner=new_rs, unschedulable=NO_GPU)
    [finding] = gpu_unschedulable(fakes.observed([fakes.node()], [old, new], deployments=[dep],
                                                 replica_sets=[old_rs, new_rs]))
    assert "rolls updates" in finding.cause
    assert "m-old-1" in finding.cause
    assert '"Recreate"' in finding.remedy[0]


def test_all_gpus_held_by_others_suggests_scaling_the_waiting_deployment():
    holder = fakes.pod("other")
    dep, rs, _ = fakes.model()
    dep.spec.replicas = 2
    waiting = fakes.pod("m-2", phase="Pending", owner=rs, unschedulable=NO_GPU)
    [finding] = gpu_unschedulable(fakes.observed([fakes.node()], [holder, waiting],
                                                 deployments=[dep], replica_sets=[rs]))
    assert "held by default/other" in finding.cause
    assert finding.remedy[0] == "kubectl -n default scale deployment m --replicas=1"


def test_gpu_not_advertised_when_no_node_has_gpus():
    waiting = fakes.pod("m-1", phase="Pending", unschedulable=NO_GPU)
    [finding] = gpu_not_advertised(fakes.observed([fakes.node(gpus=0)], [waiting]))
    assert finding.id == FindingId.GPU_NOT_ADVERTISED
    assert any("nvidia-device-plugin.yml" in c for c in finding.remedy)
    assert gpu_unschedulable(fakes.observed([fakes.node(gpus=0)], [waiting])) == []


def _facts(*processes: GpuProcess) -> GpuFacts:
    return GpuFacts("test", processes=processes)


def test_engine_of_a_gone_pod_is_orphaned_with_kill_commands():
    gone = GpuProcess("k3s-gpu-0", "GPU 0", 4242, "VLLM::EngineCore", int(5.6 * GIB),
                      fakes.uid())
    [finding] = orphaned_engine(fakes.observed([fakes.node()], gpu=_facts(gone)))
    assert finding.id == FindingId.ORPHANED_ENGINE
    assert "Process 4242 (VLLM::EngineCore) still holds 5.6 GiB" in finding.cause
    assert "sudo kill 4242" in finding.remedy


def test_engine_of_a_running_pod_is_not_orphaned():
    serving = fakes.pod("m-1")
    engine = GpuProcess("k3s-gpu-0", "GPU 0", 7, "VLLM::EngineCore", GIB, serving.metadata.uid)
    assert orphaned_engine(fakes.observed([fakes.node()], [serving], gpu=_facts(engine))) == []


def test_vllm_outside_any_pod_is_orphaned_but_the_desktop_is_not():
    stray = GpuProcess("k3s-gpu-0", "GPU 0", 9, "python3 -m vllm.entrypoints.openai.api_server",
                       GIB, None)
    desktop = GpuProcess("k3s-gpu-0", "GPU 0", 10, "/usr/lib/xorg/Xorg", GIB, None)
    found = orphaned_engine(fakes.observed([fakes.node()], gpu=_facts(stray, desktop)))
    assert [f.cause.split()[1] for f in found] == ["9"]


def test_a_process_doctor_cannot_see_is_never_called_orphaned():
    hidden = GpuProcess("k3s-gpu-0", "GPU 0", 11, "", GIB, None, visible=False)
    assert orphaned_engine(fakes.observed([fakes.node()], gpu=_facts(hidden))) == []


def test_no_gpu_facts_no_orphan_check():
    assert orphaned_engine(fakes.observed([fakes.node()])) == []
