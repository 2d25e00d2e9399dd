"""Doctor's GPU facts: NVML processes looked up in a fake /proc, and the twin's annotations."""

from __future__ import annotations

import json
from pathlib import Path

from brixcheck import gpu
from brixcheck.doctor.gpu_facts import (
    facts_from_report,
    from_twin,
    inspect_process,
    pod_uid_from_cgroup,
)
from brixcheck.engine.profiles import GIB
from tests.unit.doctor import fakes

UID = "0f3c4b6e-1d2a-4e5f-8a9b-0c1d2e3f4a5b"


def test_pod_uid_from_cgroupfs_and_systemd_paths():
    cgroupfs = f"0::/kubepods/besteffort/pod{UID}/3f2c1a\n"
    systemd = (f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
               f"pod{UID.replace('-', '_')}.slice/cri-containerd-3f2c.scope\n")
    assert pod_uid_from_cgroup(cgroupfs) == UID
    assert pod_uid_from_cgroup(systemd) == UID
    assert pod_uid_from_cgroup("0::/user.slice/user-1000.slice/session-2.scope\n") is None


def _proc(root: Path, pid: int, cmdline: str, cgroup: str) -> Path:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "cmdline").write_bytes(cmdline.replace(" ", "\0").encode())
    (root / str(pid) / "comm").write_text(cmdline[:15])
    (root / str(pid) / "cgroup").write_text(cgroup)
    return root


def test_inspect_process_reads_the_engine_title_not_the_truncated_comm(tmp_path: Path):
    proc = _proc(tmp_path, 4242, "VLLM::EngineCore", f"0::/kubepods/pod{UID}/abc\n")
    assert inspect_process(4242, proc) == ("VLLM::EngineCore", UID, True)


def test_inspect_process_missing_pid_is_not_visible(tmp_path: Path):
    assert inspect_process(7, tmp_path) == ("", None, False)


def _report(pids: list[int]) -> gpu.GpuReport:
    memory = gpu.MemoryInfo(gpu.MemorySource.V1, 8 * GIB, 6 * GIB, 2 * GIB, None)
    device = gpu.GpuDevice(0, "NVIDIA GeForce RTX 4060", "GPU-1", "NVIDIA-GeForce-RTX-4060",
                           memory, None, tuple(gpu.ComputeProcess(p, GIB) for p in pids),
                           None, None, None)
    return gpu.GpuReport("2026-01-01T00:00:00+00:00", "580.1", "13.0", (device,))


def test_facts_from_report_names_each_process_and_its_pod(tmp_path: Path):
    proc = _proc(tmp_path, 4242, "VLLM::EngineCore", f"0::/kubepods/pod{UID}/abc\n")
    facts = facts_from_report(_report([4242, 99]), "k3s-gpu-0", proc)
    engine, hidden = facts.processes
    assert (engine.name, engine.pod_uid, engine.node) == ("VLLM::EngineCore", UID, "k3s-gpu-0")
    assert engine.gpu == "GPU 0 (NVIDIA GeForce RTX 4060)"
    assert not hidden.visible
    assert facts.devices[0].total_bytes == 8 * GIB


def test_from_twin_reads_the_virtual_gpus_process_table():
    node = fakes.node()
    node.metadata.annotations = {
        "brixcheck.io/gpu-profile": "rtx4060-8gb", "brixcheck.io/gpu-used-gib": "6.6",
        "brixcheck.io/gpu-processes": json.dumps([{"pid": 4198546, "name": "VLLM::EngineCore",
                                                   "usedGiB": 5.6, "podUID": UID}])}
    facts = from_twin([node, fakes.node("cpu-only", gpus=0)])
    [device] = facts.devices
    assert device.used_bytes == int(6.6 * GIB)
    [process] = facts.processes
    assert (process.pid, process.pod_uid, process.used_bytes) == (4198546, UID, int(5.6 * GIB))
