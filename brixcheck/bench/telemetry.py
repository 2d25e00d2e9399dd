"""Samples engine metrics (and GPU figures where NVML is present) while a benchmark run goes on.

A daemon thread on the pytest side (Locust runs as a separate process and must not be slowed by
it) scrapes every model pod's vLLM `/metrics` each `interval_s` and appends the kept series
(`engine_metrics.KEPT`) to a JSON-lines file, flushed after every round so a run that dies
keeps what was sampled. A pod that does not answer is written as a gap and scraped again next
round: telemetry never fails a run. The file format is in docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TextIO

import httpx

from brixcheck.analysis.engine_metrics import kept_samples
from brixcheck.analysis.samples import ENGINE, Sample
from brixcheck.bench.nvml_sampler import NvmlSampler

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 1.0
# Pods are listed again this often, so a pod recreated mid-run is followed to its new address.
DEFAULT_REFRESH_S = 10.0

PodLister = Callable[[], Mapping[str, str]]  # pod name -> base URL ("http://10.0.0.5:8000")


def telemetry_path(records: Path) -> Path:
    """Where a run's telemetry goes: beside its records directory, not in it (readers of the
    records glob `*.jsonl` there)."""
    return records.with_name(f"{records.name}-telemetry.jsonl")


class TelemetrySampler:
    """Context manager: sampling runs from `__enter__` to `__exit__`."""

    def __init__(self, out: Path, pods: PodLister, interval_s: float = DEFAULT_INTERVAL_S,
                 refresh_s: float = DEFAULT_REFRESH_S, gpu: bool = True) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s}")
        self.out = out
        self.interval_s = interval_s
        self.samples = 0  # lines written, gaps included
        self.gaps = 0
        self._list_pods = pods
        self._refresh_s = refresh_s
        self._gpu = NvmlSampler() if gpu else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="brixcheck-telemetry",
                                        daemon=True)
        self._pods: dict[str, str] = {}
        self._listed_at = float("-inf")

    def __enter__(self) -> TelemetrySampler:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.out.open("w")  # one file, one run
        if self._gpu is not None:
            self._gpu.__enter__()
        # A scrape slower than the interval must not pile rounds up: the timeout stays below it
        # where it can, and the next round starts one interval after this one started.
        self._client = httpx.Client(timeout=httpx.Timeout(max(0.5, min(2.0, self.interval_s))))
        # The first round is taken before the run may start, so the counters' values before
        # any request (the baseline of every increase) are known.
        self.sample_round(self._client)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 60)  # scrapes are bounded by their timeout
        if self._gpu is not None:
            self._gpu.__exit__(None, None, None)
        self._file.close()
        log.info("telemetry: %d samples (%d gaps) in %s", self.samples, self.gaps, self.out)

    def _run(self) -> None:
        try:
            began = time.monotonic()
            while not self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began))):
                began = time.monotonic()
                self.sample_round(self._client)
            # The counters as the run ended: the far edge of its measured window.
            self.sample_round(self._client)
        finally:
            self._client.close()

    def _current_pods(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._listed_at >= self._refresh_s:
            try:
                self._pods = dict(self._list_pods())
                self._listed_at = now
            except Exception as err:  # noqa: BLE001 - an API hiccup keeps the last list
                log.warning("telemetry: listing pods failed, keeping the last list: %s", err)
        return self._pods

    def sample_round(self, client: httpx.Client) -> None:
        """Scrape every pod once (and read the GPUs), then write and flush the lines."""
        lines = []
        for pod, url in sorted(self._current_pods().items()):
            try:
                response = client.get(f"{url}/metrics")
                response.raise_for_status()
                samples = kept_samples(response.text, pod)
            except (httpx.HTTPError, ValueError) as err:
                samples = [Sample(ENGINE, pod, gap=f"{type(err).__name__}: {err}"[:300])]
                self.gaps += 1
            taken, wall = time.monotonic(), time.time()  # one time for the pod's whole scrape
            lines += [s.line(taken, wall) for s in samples]
        if self._gpu is not None and self._gpu.present:
            now, wall = time.monotonic(), time.time()
            lines += [s.line(now, wall) for s in self._gpu.sample()]
        self._file.writelines(lines)
        self._file.flush()
        self.samples += len(lines)
