"""GPU facts for doctor: which processes hold GPU memory, and whether they belong to a pod.

Two sources, one shape (`GpuFacts`):

- A real host (`from_host`): NVML's compute processes of every GPU (`brixcheck.gpu.probe`), each
  looked up in this host's /proc: its name (`VLLM::EngineCore` is what vLLM's engine core
  process calls itself) and the pod it runs in, read from its cgroup path (the kubelet puts
  every container under `.../kubepods.../pod<UID>/...`). A process that still holds GPU memory
  while its pod UID belongs to no running pod is a dead pod's leftover. Doctor must run on the
  GPU node, as root or the same user, in the host's PID namespace; a PID it cannot see in /proc
  is reported as not visible and never called orphaned.
- The twin (`from_twin`): its GPUs are virtual and have no processes. A node's annotations
  describe the virtual GPU: `brixcheck.io/gpu-profile` (total VRAM), `brixcheck.io/gpu-used-gib`
  (VRAM held by processes other than the pod's engine, which the emulated vLLM checks at start)
  and `brixcheck.io/gpu-processes`, a JSON list of what nvidia-smi would list there
  (`[{"pid": 4242, "name": "VLLM::EngineCore", "usedGiB": 5.6, "podUID": "..."}]`). The twin's
  running engines are not listed (they are not real processes), so on the twin doctor sees
  exactly the processes a scenario declares, no more.

What it does not do: kill, signal or change anything; load CUDA.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client

from brixcheck import gpu
from brixcheck.cluster.gpu_memory import GPU_PROCESSES_ANNOTATION, has_gpu, virtual_gpu
from brixcheck.engine.profiles import GIB

log = logging.getLogger(__name__)

PROC = Path("/proc")
# The kubelet's cgroup path carries the pod UID: cgroupfs `pod1234-...`, systemd `pod1234_...`.
_UID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
_POD_UID = re.compile(rf"pod({_UID})")


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU.

    Attributes:
        node: the node the GPU is in (None when unknown).
        gpu: which GPU, e.g. "GPU 0 (NVIDIA GeForce RTX 4060)".
        pid: the process id on that host.
        name: the process title ("VLLM::EngineCore", "python3 ..."); "" when not visible.
        used_bytes: GPU memory it holds, None when the driver does not say.
        pod_uid: UID of the pod whose cgroup it is in; None when not in a pod.
        visible: whether the process could be inspected at all.
    """

    node: str | None
    gpu: str
    pid: int
    name: str
    used_bytes: int | None
    pod_uid: str | None
    visible: bool = True

    @property
    def is_vllm(self) -> bool:
        """True for a vLLM server or engine-core process."""
        return "VLLM::" in self.name or "vllm" in self.name.lower()


@dataclass(frozen=True)
class GpuDeviceFacts:
    """One GPU's memory, in bytes."""

    node: str | None
    gpu: str
    total_bytes: int
    used_bytes: int


@dataclass(frozen=True)
class GpuFacts:
    """What holds GPU memory, and where the figures come from."""

    source: str
    devices: tuple[GpuDeviceFacts, ...] = ()
    processes: tuple[GpuProcess, ...] = ()


def pod_uid_from_cgroup(text: str) -> str | None:
    """The pod UID in a /proc/PID/cgroup text, or None when the process is in no pod.

    Args:
        text: the content of /proc/PID/cgroup.

    Returns:
        The UID with dashes, e.g. "0f3c...-...", or None.
    """
    match = _POD_UID.search(text)
    return match.group(1).replace("_", "-") if match else None


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return None


def inspect_process(pid: int, proc: Path = PROC) -> tuple[str, str | None, bool]:
    """Name, pod UID and visibility of a host process.

    The title comes from the command line first: vLLM renames its engine core process with
    setproctitle to `VLLM::EngineCore`, which `comm` truncates to 15 characters.

    Args:
        pid: the process id.
        proc: the proc filesystem to read.

    Returns:
        (name, pod UID or None, visible).
    """
    cmdline = _read(proc / str(pid) / "cmdline")
    if cmdline is None:
        return "", None, False
    name = cmdline.replace("\0", " ").strip() or (_read(proc / str(pid) / "comm") or "").strip()
    return name, pod_uid_from_cgroup(_read(proc / str(pid) / "cgroup") or ""), True


def _device_label(device: gpu.GpuDevice) -> str:
    return f"GPU {device.index} ({device.name})"


def facts_from_report(report: gpu.GpuReport, node: str | None,
                      proc: Path = PROC) -> GpuFacts:
    """Turn an NVML report into doctor's facts, looking each process up in /proc.

    Args:
        report: from `brixcheck.gpu.probe()`.
        node: the node this host is (K3s names nodes after the hostname).
        proc: the proc filesystem to read.

    Returns:
        The facts, source naming NVML and the driver.
    """
    devices, processes = [], []
    for device in report.devices:
        memory = device.memory_v2 or device.memory_v1
        devices.append(GpuDeviceFacts(node, _device_label(device), memory.total_bytes,
                                      memory.used_bytes))
        for found in device.compute_processes or ():
            name, pod_uid, visible = inspect_process(found.pid, proc)
            processes.append(GpuProcess(node, _device_label(device), found.pid, name,
                                        found.used_memory_bytes, pod_uid, visible))
    return GpuFacts(f"NVML on {node or 'this host'} (driver {report.driver_version})",
                    tuple(devices), tuple(processes))


def from_host(node: str | None = None) -> GpuFacts:
    """Read this host's GPUs through NVML and its /proc.

    Args:
        node: the node this host is; defaults to the hostname, as K3s names its node.

    Returns:
        The facts.

    Raises:
        brixcheck.gpu.GpuUnavailableError: no NVML, driver or GPU here; `reason` says which.
        brixcheck.gpu.GpuError: an NVML call failed.
    """
    return facts_from_report(gpu.probe(), node or socket.gethostname())


def _twin_processes(node: str, label: str, raw: str) -> list[GpuProcess]:
    try:
        entries = json.loads(raw)
    except ValueError:
        log.warning("node %s: annotation brixcheck.io/gpu-processes is not JSON; ignored", node)
        return []
    return [GpuProcess(node, label, int(e["pid"]), str(e.get("name", "")),
                       int(float(e.get("usedGiB", 0)) * GIB), e.get("podUID"))
            for e in entries]


def from_twin(nodes: Iterable[client.V1Node]) -> GpuFacts:
    """Read the twin's virtual GPUs from node annotations (see the module docstring).

    Args:
        nodes: the twin's nodes.

    Returns:
        The facts of every node that has a GPU.
    """
    devices, processes = [], []
    for node in filter(has_gpu, nodes):
        notes = node.metadata.annotations or {}
        profile, used = virtual_gpu(node)
        name = node.metadata.name
        label = f"GPU 0 ({profile.gpu.name}, virtual)"
        devices.append(GpuDeviceFacts(name, label, profile.gpu.vram_bytes, int(used * GIB)))
        processes += _twin_processes(name, label, notes.get(GPU_PROCESSES_ANNOTATION, "[]"))
    return GpuFacts("the twin's virtual GPUs (node annotations)", tuple(devices),
                    tuple(processes))
