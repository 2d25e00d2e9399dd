"""GPU facts read through NVML (the official `nvidia-ml-py` bindings, imported as `pynvml`).

What it is for: the environment stamp of a report (GPU model, driver, CUDA driver version), the
`nvidia.com/gpu.product` label a node should carry, the physical limit on decode speed (peak
memory bandwidth) and vLLM's start-up memory check ("utilization x total <= free") on a real GPU.

Memory figures: NVML's v1 memory info counts driver-reserved memory as used, while v2 reports it
apart (`reserved`) and matches what nvidia-smi shows as used. Both are read where the driver
offers v2, and every figure names its source. Free is the same in both. On an H100 (driver
580.159.04) v2 total less reserved equalled CUDA's total (cudaMemGetInfo, the figure vLLM
multiplies by its utilization) to the byte, and v2 free equalled CUDA's free
(docs/gpu-nvml-h100.md).

What it deliberately does not do: load CUDA, allocate GPU memory, change clocks or any other
setting, or decide pass/fail for a case. Without NVML, a driver or a GPU it raises
`GpuUnavailableError`, whose `reason` is a one-sentence pytest SKIP reason.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pynvml

from brixcheck.errors import BrixcheckError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
EXIT_NO_GPU = 3
GIB = 1024**3
# DDR/HBM move data on both clock edges: bytes/s = clock_hz x bus_bits x 2 / 8.
TRANSFERS_PER_CLOCK = 2
BITS_PER_BYTE = 8

_NO_GPU_REASONS = {
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND: (
        "NVML not available (libnvidia-ml.so not found): no NVIDIA driver on this machine"
    ),
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED: (
        "NVML found but the NVIDIA kernel driver is not loaded (NVML error 9): "
        "no usable NVIDIA GPU on this machine"
    ),
}
_NO_GPU_REMEDY = "run on a node with an NVIDIA GPU and driver, or leave the GPU checks skipped"
# Errors that mean "this driver or GPU does not offer the call", not "the GPU is broken".
_NOT_OFFERED = (
    pynvml.NVML_ERROR_NOT_SUPPORTED,
    pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
    pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
)


class GpuError(BrixcheckError):
    """An NVML call failed on a machine that has NVML; the GPU or driver needs attention."""


class GpuUnavailableError(GpuError):
    """No NVML library, no loaded driver or no GPU: GPU checks cannot run here (a SKIP)."""

    def __init__(self, reason: str, remedy: str = _NO_GPU_REMEDY) -> None:
        """Keep the one-sentence reason apart from the remedy.

        Args:
            reason: one sentence saying what is missing, used as the pytest SKIP reason.
            remedy: what the user can do about it.
        """
        super().__init__(reason, remedy)
        self.reason = reason


class MemorySource(StrEnum):
    """Which NVML call a memory figure comes from."""

    V1 = "nvmlDeviceGetMemoryInfo (v1): used includes driver-reserved memory"
    V2 = "nvmlDeviceGetMemoryInfo_v2: reserved reported apart from used"


@dataclass(frozen=True)
class MemoryInfo:
    """One reading of a device's memory, in bytes, with its source.

    v1: total = used + free, and used counts the driver-reserved memory.
    v2: total = reserved + used + free; used is what processes hold (nvidia-smi's figure).
    """

    source: MemorySource
    total_bytes: int
    used_bytes: int
    free_bytes: int
    reserved_bytes: int | None


@dataclass(frozen=True)
class ComputeProcess:
    """A process holding a compute context on the device."""

    pid: int
    used_memory_bytes: int | None


@dataclass(frozen=True)
class GpuDevice:
    """Facts about one GPU; `None` where the driver does not offer the figure."""

    index: int
    name: str
    uuid: str
    product_label: str
    memory_v1: MemoryInfo
    memory_v2: MemoryInfo | None
    compute_processes: tuple[ComputeProcess, ...] | None
    max_memory_clock_mhz: int | None
    memory_bus_width_bits: int | None
    peak_memory_bandwidth_bytes_per_s: int | None


@dataclass(frozen=True)
class GpuReport:
    """What NVML says about the machine's driver and GPUs at one moment."""

    taken_at: str
    driver_version: str
    cuda_driver_version: str
    devices: tuple[GpuDevice, ...]


@dataclass(frozen=True)
class FitResult:
    """vLLM's start-up check: requested = utilization x total must not exceed free."""

    fits: bool
    utilization: float
    requested_bytes: int
    total_bytes: int
    free_bytes: int
    figure: str
    message: str


def format_cuda_version(version: int) -> str:
    """Format NVML's CUDA driver version integer as "major.minor".

    Args:
        version: the integer from nvmlSystemGetCudaDriverVersion_v2, e.g. 13000 or 12040.

    Returns:
        The version as CUDA writes it, e.g. "13.0" or "12.4".
    """
    return f"{version // 1000}.{version % 1000 // 10}"


def format_product_label(name: str, shared: bool = False) -> str:
    """Format a GPU name as NVIDIA GPU feature discovery's `nvidia.com/gpu.product` label.

    Args:
        name: the NVML device name, e.g. "NVIDIA H100 80GB HBM3".
        shared: whether the device plugin time-slices the GPU (replicas > 1, not renamed);
            feature discovery then appends "-SHARED".

    Returns:
        The label value, e.g. "NVIDIA-H100-80GB-HBM3".
    """
    label = name.replace(" ", "-")
    return f"{label}-SHARED" if shared else label


def peak_memory_bandwidth(max_memory_clock_mhz: int, memory_bus_width_bits: int) -> int:
    """Derive the peak memory bandwidth from the memory clock and the bus width.

    Args:
        max_memory_clock_mhz: NVML's maximum memory clock in MHz.
        memory_bus_width_bits: NVML's memory bus width in bits.

    Returns:
        Bytes per second: clock x bus width x 2 (double data rate) / 8.
    """
    hz = max_memory_clock_mhz * 1_000_000
    return hz * memory_bus_width_bits * TRANSFERS_PER_CLOCK // BITS_PER_BYTE


def _as_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _is_not_offered(err: pynvml.NVMLError) -> bool:
    return err.value in _NOT_OFFERED


def _read_memory_v1(handle: Any) -> MemoryInfo:
    info = pynvml.nvmlDeviceGetMemoryInfo(handle)
    return MemoryInfo(MemorySource.V1, info.total, info.used, info.free, None)


def _read_memory_v2(handle: Any) -> MemoryInfo | None:
    try:
        info = pynvml.nvmlDeviceGetMemoryInfo(handle, version=pynvml.nvmlMemory_v2)
    except pynvml.NVMLError as err:
        if not _is_not_offered(err):
            raise
        log.info("memory info v2 not offered by this driver (%s); using v1 only", err)
        return None
    return MemoryInfo(MemorySource.V2, info.total, info.used, info.free, info.reserved)


def _read_processes(handle: Any) -> tuple[ComputeProcess, ...] | None:
    try:
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except pynvml.NVMLError as err:
        if not _is_not_offered(err):
            raise
        log.info("compute process list not offered (%s)", err)
        return None
    return tuple(ComputeProcess(p.pid, p.usedGpuMemory) for p in procs)


def _read_optional_int(what: str, call: Callable[..., int], *args: Any) -> int | None:
    try:
        return int(call(*args))
    except pynvml.NVMLError as err:
        if not _is_not_offered(err):
            raise
        log.info("%s not offered (%s)", what, err)
        return None


def _read_device(index: int) -> GpuDevice:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    name = _as_text(pynvml.nvmlDeviceGetName(handle))
    clock = _read_optional_int("max memory clock", pynvml.nvmlDeviceGetMaxClockInfo,
                               handle, pynvml.NVML_CLOCK_MEM)
    bus = _read_optional_int("memory bus width", pynvml.nvmlDeviceGetMemoryBusWidth, handle)
    bandwidth = peak_memory_bandwidth(clock, bus) if clock and bus else None
    return GpuDevice(
        index=index,
        name=name,
        uuid=_as_text(pynvml.nvmlDeviceGetUUID(handle)),
        product_label=format_product_label(name),
        memory_v1=_read_memory_v1(handle),
        memory_v2=_read_memory_v2(handle),
        compute_processes=_read_processes(handle),
        max_memory_clock_mhz=clock,
        memory_bus_width_bits=bus,
        peak_memory_bandwidth_bytes_per_s=bandwidth,
    )


def _init_nvml() -> None:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as err:
        reason = _NO_GPU_REASONS.get(err.value)
        if reason is not None:
            raise GpuUnavailableError(reason) from err
        raise GpuError(
            f"NVML failed to initialise (NVML error {err.value}: {err})",
            "check the driver with `nvidia-smi` on this machine",
        ) from err


def _read_report() -> GpuReport:
    driver = _as_text(pynvml.nvmlSystemGetDriverVersion())
    count = pynvml.nvmlDeviceGetCount()
    if count == 0:
        raise GpuUnavailableError(
            f"NVML reports no GPUs (driver {driver}): no NVIDIA GPU visible on this machine"
        )
    return GpuReport(
        taken_at=datetime.now(UTC).isoformat(timespec="seconds"),
        driver_version=driver,
        cuda_driver_version=format_cuda_version(pynvml.nvmlSystemGetCudaDriverVersion_v2()),
        devices=tuple(_read_device(index) for index in range(count)),
    )


def probe() -> GpuReport:
    """Read the driver and every GPU through NVML; change nothing.

    Returns:
        The report, with each memory figure labelled by its source.

    Raises:
        GpuUnavailableError: NVML, the driver or a GPU is missing; `reason` is a SKIP reason.
        GpuError: an NVML call failed on a machine that has NVML.
    """
    _init_nvml()
    try:
        report = _read_report()
    except pynvml.NVMLError as err:
        raise GpuError(
            f"an NVML query failed (NVML error {err.value}: {err})",
            "check the GPU with `nvidia-smi`; a lost GPU or a driver mismatch needs a reboot",
        ) from err
    finally:
        pynvml.nvmlShutdown()
    log.info("NVML: driver %s, CUDA %s, %d GPU(s): %s", report.driver_version,
             report.cuda_driver_version, len(report.devices),
             ", ".join(d.name for d in report.devices))
    return report


def _fit_figures(device: GpuDevice) -> tuple[int, int, str]:
    v2 = device.memory_v2
    if v2 is not None and v2.reserved_bytes is not None:
        total = v2.total_bytes - v2.reserved_bytes
        return total, v2.free_bytes, "NVML v2 total less reserved, as CUDA counts it; v2 free"
    v1 = device.memory_v1
    return v1.total_bytes, v1.free_bytes, (
        "NVML v1 total, which includes driver-reserved memory, so stricter than vLLM; v1 free"
    )


def vram_fit(utilization: float, device: GpuDevice) -> FitResult:
    """Answer vLLM's start-up check "utilization x total <= free" for one device.

    vLLM compares utilization x CUDA's total with CUDA's free. Where the driver offers v2,
    total is v2 total less driver-reserved memory (which equals CUDA's total) and free is v2
    free. Otherwise v1 total and free; v1 total counts the reserved memory, so the answer is
    stricter than vLLM's by utilization x reserved.

    Args:
        utilization: vLLM's --gpu-memory-utilization, in (0, 1].
        device: a device from `probe()`.

    Returns:
        Whether it fits, the bytes compared and a message that names the figure used.

    Raises:
        ValueError: utilization is outside (0, 1].
    """
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization must be in (0, 1], got {utilization}")
    total, free, figure = _fit_figures(device)
    requested = int(total * utilization)
    fits = requested <= free
    message = (
        f"GPU {device.index} ({device.name}): {utilization} x {total / GIB:.2f} GiB total = "
        f"{requested / GIB:.2f} GiB requested {'<=' if fits else '>'} {free / GIB:.2f} GiB free "
        f"({figure}): {'fits' if fits else 'vLLM would refuse to start'}"
    )
    return FitResult(fits, utilization, requested, total, free, figure, message)


def report_to_dict(report: GpuReport) -> dict[str, Any]:
    """Turn a report into plain JSON-ready data with a schema version.

    Args:
        report: the report from `probe()`.

    Returns:
        A dict with `schema_version` and every field of the report.
    """
    return {"schema_version": SCHEMA_VERSION, **asdict(report)}


def main() -> int:
    """Print the GPU report as JSON; exit 3 with the reason when there is no GPU.

    Returns:
        0 with a report, 3 without NVML, driver or GPU, 1 when an NVML query failed.
    """
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        report = probe()
    except GpuUnavailableError as err:
        print(err.reason, file=sys.stderr)  # noqa: T201 - CLI entry
        return EXIT_NO_GPU
    except GpuError as err:
        print(err, file=sys.stderr)  # noqa: T201 - CLI entry
        return 1
    print(json.dumps(report_to_dict(report), indent=2))  # noqa: T201 - CLI entry
    return 0


if __name__ == "__main__":
    sys.exit(main())
