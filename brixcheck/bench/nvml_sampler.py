"""GPU utilization, memory used and power per device, read through NVML while a run goes on.

NVML sees the GPUs of the machine the sampler runs on, i.e. the pytest host: on the usual
single-node K3s box that is the serving GPU; elsewhere (a laptop driving a remote cluster, the
twin) there is no NVML and no GPU sample is written. Only read calls are made, as in
`brixcheck.gpu`; a figure the driver does not offer is left out rather than failing the run.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

import pynvml

from brixcheck.analysis.samples import GPU, Sample

log = logging.getLogger(__name__)

UTILIZATION = "gpu:utilization_perc"  # percent of the last sample period a kernel ran
MEMORY_USED = "gpu:memory_used_bytes"  # NVML v1 "used" (driver-reserved memory counted)
POWER = "gpu:power_watts"  # board power draw


def _offered(call: Any, *args: Any) -> Any | None:
    """The call's result, or None where this driver or GPU does not offer it."""
    try:
        return call(*args)
    except pynvml.NVMLError as err:
        log.debug("NVML %s not offered: %s", getattr(call, "__name__", call), err)
        return None


class NvmlSampler:
    """Opens NVML once and reads every device on each `sample()`; a no-op without NVML."""

    def __init__(self) -> None:
        self._handles: list[Any] = []
        self._open = False

    def __enter__(self) -> NvmlSampler:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as err:  # no driver, no library, no GPU: nothing to sample
            log.info("no GPU telemetry: NVML unavailable (%s)", err)
            return self
        self._open = True
        try:
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError as err:
            log.info("no GPU telemetry: NVML lists no devices (%s)", err)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._open:
            pynvml.nvmlShutdown()
            self._open = False
        self._handles = []

    @property
    def present(self) -> bool:
        """Whether there is at least one device to sample."""
        return bool(self._handles)

    def sample(self) -> list[Sample]:
        """One sample per offered figure per device."""
        out = []
        for index, handle in enumerate(self._handles):
            gpu = str(index)
            rates = _offered(pynvml.nvmlDeviceGetUtilizationRates, handle)
            if rates is not None:
                out.append(Sample(GPU, gpu, UTILIZATION, {}, float(rates.gpu)))
            memory = _offered(pynvml.nvmlDeviceGetMemoryInfo, handle)
            if memory is not None:
                out.append(Sample(GPU, gpu, MEMORY_USED, {}, float(memory.used)))
            milliwatts = _offered(pynvml.nvmlDeviceGetPowerUsage, handle)
            if milliwatts is not None:
                out.append(Sample(GPU, gpu, POWER, {}, milliwatts / 1000.0))
        return out
