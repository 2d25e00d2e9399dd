"""Free and total VRAM of the target's GPUs: NVML on a real GPU, the virtual GPU on the twin.

On the twin each GPU node names its emulator profile and the VRAM other processes hold
(`brixcheck.io/gpu-profile`, `brixcheck.io/gpu-used-gib`), which is exactly what the emulated
vLLM checks at start-up. On a real cluster the figures come from NVML on this machine, so the
suite must run on the GPU node; elsewhere `gpu_memory` raises `gpu.GpuUnavailableError` and the
caller decides (the conformance case skips with that reason). The annotation names and the
reading of a node's virtual GPU live here once: the twin writes them, doctor and the suite read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from brixcheck import gpu
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.target import GPU_RESOURCE, Target

if TYPE_CHECKING:
    from kubernetes import client
from brixcheck.engine.profiles import DEFAULT_PROFILE, GIB, Profile, get_profile

DEFAULT_UTILIZATION = 0.9  # vLLM's default --gpu-memory-utilization
GPU_PROFILE_ANNOTATION = "brixcheck.io/gpu-profile"  # the node's emulator profile (total VRAM)
GPU_USED_ANNOTATION = "brixcheck.io/gpu-used-gib"  # VRAM other processes hold
# What nvidia-smi would list on the node's virtual GPU (JSON); read by doctor, not by engines.
GPU_PROCESSES_ANNOTATION = "brixcheck.io/gpu-processes"


@dataclass(frozen=True)
class GpuMemory:
    """One GPU's memory as vLLM sees it at start-up."""

    name: str
    total_bytes: int
    free_bytes: int
    source: str

    def fits(self, utilization: float) -> bool:
        """vLLM's check: utilization x total <= free."""
        return utilization * self.total_bytes <= self.free_bytes

    def describe(self, utilization: float) -> str:
        """One line with the figures compared."""
        need = utilization * self.total_bytes / GIB
        return (f"{self.name}: {utilization} x {self.total_bytes / GIB:.2f} GiB = {need:.2f} GiB "
                f"{'<=' if self.fits(utilization) else '>'} {self.free_bytes / GIB:.2f} GiB "
                f"free ({self.source})")


def utilization_of(deployment: dict[str, Any]) -> float:
    """--gpu-memory-utilization of the model container (vLLM's default when absent)."""
    args = deployment["spec"]["template"]["spec"]["containers"][0].get("args") or []
    for index, arg in enumerate(args):
        if arg == "--gpu-memory-utilization" and index + 1 < len(args):
            return float(args[index + 1])
    return DEFAULT_UTILIZATION


def has_gpu(node: client.V1Node) -> bool:
    """True when the node offers at least one GPU."""
    return int((node.status.allocatable or {}).get(GPU_RESOURCE, "0")) >= 1


def virtual_gpu(node: client.V1Node) -> tuple[Profile, float]:
    """A twin node's virtual GPU: its emulator profile and the GiB other processes hold."""
    notes = node.metadata.annotations or {}
    profile = get_profile(notes.get(GPU_PROFILE_ANNOTATION, DEFAULT_PROFILE))
    return profile, float(notes.get(GPU_USED_ANNOTATION, profile.gpu.desktop_used_bytes / GIB))


def _twin_gpus(target: Target) -> list[GpuMemory]:
    found = []
    for node in filter(has_gpu, target.core.list_node().items):
        profile, used = virtual_gpu(node)
        total = profile.gpu.vram_bytes
        found.append(GpuMemory(f"{node.metadata.name} ({profile.gpu.name})", total,
                               int(total - used * GIB), "twin virtual GPU"))
    return found


def gpu_memory(target: Target) -> list[GpuMemory]:
    """The GPUs to check.

    Raises:
        brixcheck.gpu.GpuUnavailableError: a real target, and no NVML or GPU on this machine.
    """
    if Capability.NVML not in target.capabilities:  # the twin's GPUs are virtual
        return _twin_gpus(target)
    report = gpu.probe()
    checks = []
    for device in report.devices:
        fit = gpu.vram_fit(DEFAULT_UTILIZATION, device)
        checks.append(GpuMemory(f"GPU {device.index} ({device.name})", fit.total_bytes,
                                fit.free_bytes, fit.figure))
    return checks
