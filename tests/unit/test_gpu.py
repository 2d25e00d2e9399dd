"""brixcheck.gpu against an in-memory NVML, plus the real no-NVML path on this GPU-less machine.

The fake holds the H100 figures from shared/docs/gpu-nvml.md (driver 580.159.04, CUDA 13000,
v1 used 503,316,480 B of 85,520,809,984 B, 2,619 MHz x 5,120 bit). Expected values are written
out as numbers here, not recomputed with the module's own helpers.
"""

# The fake mirrors pynvml's own names (nvmlInit, nvmlMemory_v2, ...).
# ruff: noqa: N802, N815

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml
import pytest

from brixcheck import gpu

H100_TOTAL = 85_520_809_984
H100_RESERVED = 503_316_480
GIB = 1024**3


@dataclass
class FakeGpu:
    """One device as the fake driver reports it."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-1111-2222-3333-444444444444"
    total: int = H100_TOTAL
    reserved: int = H100_RESERVED
    process_bytes: dict[int, int | None] = field(default_factory=dict)
    mem_clock_mhz: int | None = 2619
    bus_width_bits: int | None = 5120


class FakeNvml:
    """The pynvml functions brixcheck.gpu calls, answering from FakeGpu records."""

    NVMLError = pynvml.NVMLError
    NVML_CLOCK_MEM = pynvml.NVML_CLOCK_MEM
    nvmlMemory_v2 = pynvml.nvmlMemory_v2
    NVML_ERROR_LIBRARY_NOT_FOUND = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_DRIVER_NOT_LOADED = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_FUNCTION_NOT_FOUND = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = pynvml.NVML_ERROR_ARGUMENT_VERSION_MISMATCH

    def __init__(self, gpus: list[FakeGpu], init_error: int | None = None,
                 has_v2: bool = True) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.has_v2 = has_v2
        self.initialised = False

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.159.04"

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        return 13000

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeGpu:
        return self.gpus[index]

    def nvmlDeviceGetName(self, handle: FakeGpu) -> str:
        return handle.name

    def nvmlDeviceGetUUID(self, handle: FakeGpu) -> str:
        return handle.uuid

    def nvmlDeviceGetMemoryInfo(self, handle: FakeGpu, version: int | None = None):
        held = sum(b or 0 for b in handle.process_bytes.values())
        if version is None:
            used = handle.reserved + held
            return SimpleNamespace(total=handle.total, used=used, free=handle.total - used)
        if not self.has_v2:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
        free = handle.total - handle.reserved - held
        return SimpleNamespace(version=version, total=handle.total, reserved=handle.reserved,
                               used=held, free=free)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeGpu):
        held = handle.process_bytes.items()
        return [SimpleNamespace(pid=pid, usedGpuMemory=b) for pid, b in held]

    def nvmlDeviceGetMaxClockInfo(self, handle: FakeGpu, clock_type: int) -> int:
        assert clock_type == pynvml.NVML_CLOCK_MEM
        return self._offered(handle.mem_clock_mhz)

    def nvmlDeviceGetMemoryBusWidth(self, handle: FakeGpu) -> int:
        return self._offered(handle.bus_width_bits)

    @staticmethod
    def _offered(value: int | None) -> int:
        if value is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return value


def _use(monkeypatch: pytest.MonkeyPatch, fake: FakeNvml) -> FakeNvml:
    monkeypatch.setattr(gpu, "pynvml", fake)
    return fake


def _probe_one(monkeypatch: pytest.MonkeyPatch, **kwargs) -> gpu.GpuDevice:
    has_v2 = kwargs.pop("has_v2", True)
    _use(monkeypatch, FakeNvml([FakeGpu(**kwargs)], has_v2=has_v2))
    (device,) = gpu.probe().devices
    return device


def test_probe_reports_driver_and_cuda_version(monkeypatch):
    fake = _use(monkeypatch, FakeNvml([FakeGpu()]))
    report = gpu.probe()
    assert report.driver_version == "580.159.04"
    assert report.cuda_driver_version == "13.0"
    assert not fake.initialised, "probe must shut NVML down"


def test_probe_reports_device_identity(monkeypatch):
    device = _probe_one(monkeypatch)
    assert device.index == 0
    assert device.name == "NVIDIA H100 80GB HBM3"
    assert device.uuid == "GPU-00000000-1111-2222-3333-444444444444"
    assert device.product_label == "NVIDIA-H100-80GB-HBM3"


def test_probe_reports_v1_with_reserved_counted_as_used(monkeypatch):
    memory = _probe_one(monkeypatch).memory_v1
    assert memory.source is gpu.MemorySource.V1
    assert (memory.total_bytes, memory.used_bytes, memory.free_bytes) == (
        85_520_809_984, 503_316_480, 85_017_493_504)
    assert memory.reserved_bytes is None
    assert "v1" in memory.source
    assert "reserved" in memory.source


def test_probe_reports_v2_with_reserved_apart(monkeypatch):
    memory = _probe_one(monkeypatch).memory_v2
    assert memory is not None
    assert memory.source is gpu.MemorySource.V2
    assert (memory.total_bytes, memory.reserved_bytes, memory.used_bytes, memory.free_bytes) == (
        85_520_809_984, 503_316_480, 0, 85_017_493_504)


def test_probe_falls_back_to_v1_when_driver_lacks_v2(monkeypatch):
    device = _probe_one(monkeypatch, has_v2=False)
    assert device.memory_v2 is None
    assert device.memory_v1.free_bytes == 85_017_493_504


def test_probe_lists_compute_processes(monkeypatch):
    device = _probe_one(monkeypatch, process_bytes={4242: 2 * GIB, 4243: None})
    assert device.compute_processes == (
        gpu.ComputeProcess(pid=4242, used_memory_bytes=2 * GIB),
        gpu.ComputeProcess(pid=4243, used_memory_bytes=None),
    )
    assert device.memory_v2 is not None
    assert device.memory_v2.used_bytes == 2 * GIB


def test_probe_derives_h100_bandwidth(monkeypatch):
    device = _probe_one(monkeypatch)
    assert device.max_memory_clock_mhz == 2619
    assert device.memory_bus_width_bits == 5120
    # 2,619e6 Hz x 5,120 bit x 2 / 8 = 3,352,320,000,000 B/s
    assert device.peak_memory_bandwidth_bytes_per_s == 3_352_320_000_000


def test_peak_memory_bandwidth_rtx4060():
    # 128-bit bus, 17 Gbps effective = 8,500 MHz double data rate -> 272 GB/s
    assert gpu.peak_memory_bandwidth(8500, 128) == 272_000_000_000


def test_probe_leaves_bandwidth_empty_when_bus_width_not_offered(monkeypatch):
    device = _probe_one(monkeypatch, bus_width_bits=None)
    assert device.memory_bus_width_bits is None
    assert device.peak_memory_bandwidth_bytes_per_s is None


def test_probe_reports_every_device(monkeypatch):
    _use(monkeypatch, FakeNvml([FakeGpu(), FakeGpu(name="NVIDIA GeForce RTX 4060", uuid="GPU-b")]))
    devices = gpu.probe().devices
    assert [d.index for d in devices] == [0, 1]
    assert devices[1].product_label == "NVIDIA-GeForce-RTX-4060"


def test_format_product_label_time_sliced():
    assert gpu.format_product_label("NVIDIA H100 80GB HBM3", shared=True) == (
        "NVIDIA-H100-80GB-HBM3-SHARED")


@pytest.mark.parametrize(("raw", "text"), [(13000, "13.0"), (12040, "12.4"), (11080, "11.8")])
def test_format_cuda_version(raw, text):
    assert gpu.format_cuda_version(raw) == text


def test_vram_fit_uses_v2_usable_total(monkeypatch):
    device = _probe_one(monkeypatch)
    result = gpu.vram_fit(0.9, device)
    assert result.fits
    # 85,520,809,984 - 503,316,480 reserved: CUDA's total on the H100 seen
    assert result.total_bytes == 85_017_493_504
    assert result.free_bytes == 85_017_493_504
    assert result.requested_bytes == 76_515_744_153
    assert "NVML v2" in result.figure
    assert "NVML v2" in result.message
    assert "fits" in result.message


def test_vram_fit_refuses_when_another_process_holds_memory(monkeypatch):
    device = _probe_one(monkeypatch, process_bytes={77: 10 * GIB})
    result = gpu.vram_fit(0.9, device)
    assert not result.fits
    assert result.free_bytes == 85_017_493_504 - 10 * GIB
    assert "vLLM would refuse to start" in result.message


def test_vram_fit_h100_seen_with_a_torch_context(monkeypatch):
    # docs/gpu-nvml-h100.md: torch held 1 GiB plus its context; v2 used 1,626,144,768 B and
    # CUDA's free was 83,391,348,736 B, so 0.99 x 85,017,493,504 B cannot fit.
    device = _probe_one(monkeypatch, process_bytes={441: 1_626_144_768})
    assert gpu.vram_fit(0.9, device).fits
    result = gpu.vram_fit(0.99, device)
    assert not result.fits
    assert result.free_bytes == 83_391_348_736


def test_vram_fit_falls_back_to_v1_and_says_so(monkeypatch):
    device = _probe_one(monkeypatch, has_v2=False)
    result = gpu.vram_fit(1.0, device)
    # v1 total includes the 480 MiB reserved, so 1.0 x total exceeds free.
    assert not result.fits
    assert result.total_bytes == 85_520_809_984
    assert "NVML v1" in result.message


@pytest.mark.parametrize("utilization", [0.0, -0.1, 1.01])
def test_vram_fit_rejects_utilization_outside_unit_interval(monkeypatch, utilization):
    device = _probe_one(monkeypatch)
    with pytest.raises(ValueError, match="utilization must be in"):
        gpu.vram_fit(utilization, device)


def test_probe_without_nvml_library_gives_skip_reason(monkeypatch):
    _use(monkeypatch, FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    with pytest.raises(gpu.GpuUnavailableError) as info:
        gpu.probe()
    assert info.value.reason == (
        "NVML not available (libnvidia-ml.so not found): no NVIDIA driver on this machine")
    assert info.value.remedy


def test_probe_without_driver_gives_skip_reason(monkeypatch):
    _use(monkeypatch, FakeNvml([], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED))
    with pytest.raises(gpu.GpuUnavailableError, match="driver is not loaded"):
        gpu.probe()


def test_probe_without_gpus_gives_skip_reason(monkeypatch):
    fake = _use(monkeypatch, FakeNvml([]))
    with pytest.raises(gpu.GpuUnavailableError, match="NVML reports no GPUs"):
        gpu.probe()
    assert not fake.initialised


def test_probe_failing_query_is_an_error_not_a_skip(monkeypatch):
    fake = _use(monkeypatch, FakeNvml([FakeGpu()]))

    def lost(handle):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)

    fake.nvmlDeviceGetUUID = lost
    with pytest.raises(gpu.GpuError) as info:
        gpu.probe()
    assert not isinstance(info.value, gpu.GpuUnavailableError)
    assert "NVML error 15" in str(info.value)


def test_main_prints_json_report(monkeypatch, capsys):
    _use(monkeypatch, FakeNvml([FakeGpu()]))
    assert gpu.main() == 0
    out = capsys.readouterr().out
    assert '"schema_version": 1' in out
    assert '"product_label": "NVIDIA-H100-80GB-HBM3"' in out


def test_main_exits_3_with_reason_without_nvml(monkeypatch, capsys):
    _use(monkeypatch, FakeNvml([], init_error=pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    assert gpu.main() == 3
    assert capsys.readouterr().err.strip() == (
        "NVML not available (libnvidia-ml.so not found): no NVIDIA driver on this machine")


def _nvml_loadable() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


@pytest.mark.skipif(_nvml_loadable(), reason="this machine has NVML, so the no-NVML path "
                    "cannot be observed; run on a machine without the NVIDIA driver")
def test_probe_real_nvml_raises_unavailable_without_driver():
    with pytest.raises(gpu.GpuUnavailableError) as info:
        gpu.probe()
    assert info.value.reason.startswith("NVML not available (libnvidia-ml.so not found)")
