"""Kubelet semantics for one model-pod container whose process is an emulated engine.

What a kubelet does and the twin must too: start the container; run the startup probe until it
passes (liveness and readiness wait for it); mark the container ready only while the readiness
probe passes (immediately once started when there is none); kill and restart the container when
the startup or liveness probe fails `failureThreshold` times or the process exits; wait an
exponential back-off (10 s doubling to 5 min, reset after 10 min of running) between restarts and
report `CrashLoopBackOff` meanwhile. Probes are HTTP GETs; 200-399 passes.

This module knows neither Kubernetes objects nor engines: the caller gives a `start` function and
receives `ContainerState` reports and events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx

BACKOFF_INITIAL_S = 10.0
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0


@dataclass(frozen=True)
class Probe:
    """An HTTP probe as the pod spec declares it, with Kubernetes' defaults."""

    kind: str
    path: str
    port: int
    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def from_spec(cls, kind: str, spec: dict[str, Any] | None, default_port: int) -> Probe | None:
        """Build from a V1Probe dict (camelCase); None when absent or not an httpGet probe."""
        if not spec or not spec.get("httpGet"):
            return None
        http = spec["httpGet"]
        port = http.get("port", default_port)
        return cls(kind=kind, path=http.get("path", "/"),
                   port=int(port) if str(port).isdigit() else default_port,
                   initial_delay_s=float(spec.get("initialDelaySeconds") or 0),
                   period_s=float(spec.get("periodSeconds") or 10),
                   timeout_s=float(spec.get("timeoutSeconds") or 1),
                   success_threshold=int(spec.get("successThreshold") or 1),
                   failure_threshold=int(spec.get("failureThreshold") or 3))


@dataclass(frozen=True)
class ContainerState:
    """What the pod's containerStatus says."""

    ready: bool = False
    started: bool = False
    restart_count: int = 0
    state: str = "waiting"
    reason: str = "ContainerCreating"
    message: str = ""
    started_at: float | None = None
    last_exit_code: int | None = None
    last_reason: str = ""
    last_started_at: float | None = None
    last_finished_at: float | None = None


@dataclass
class Running:
    """A started container: its exit future and how to kill it."""

    exited: asyncio.Future[int]
    kill: Callable[[], Awaitable[None]]


@dataclass
class ContainerSpec:
    """The container's probes and the twin's time scale for back-offs and probe periods."""

    host: str
    startup: Probe | None = None
    readiness: Probe | None = None
    liveness: Probe | None = None
    time_factor: float = 1.0


Report = Callable[[ContainerState], None]
Event = Callable[[str, str, str], None]


async def probe_once(host: str, probe: Probe) -> tuple[bool, str]:
    """One HTTP probe; returns (passed, failure message)."""
    url = f"http://{host}:{probe.port}{probe.path}"
    try:
        async with httpx.AsyncClient(timeout=probe.timeout_s) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return False, f'Get "{url}": {type(exc).__name__}: {exc}'
    if 200 <= response.status_code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {response.status_code}"


class ContainerRunner:
    """Runs, probes and restarts one container until cancelled."""

    def __init__(self, spec: ContainerSpec, start: Callable[[], Awaitable[Running]],
                 report: Report, event: Event) -> None:
        self.spec = spec
        self._start = start
        self._report = report
        self._event = event
        self.state = ContainerState()

    def _set(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)
        self._report(self.state)

    async def run(self) -> None:
        """Start the container and keep it running, kubelet-style."""
        streak = 0
        while True:
            running = await self._start()
            started_at = time.time()
            self._set(state="running", reason="", message="", started_at=started_at,
                      started=self.spec.startup is None, ready=False)
            self._event("Normal", "Started", "Started container")
            code, reason = await self._supervise(running)
            finished = time.time()
            streak = 1 if finished - started_at > BACKOFF_RESET_S * self.spec.time_factor \
                else streak + 1
            delay = min(BACKOFF_INITIAL_S * 2 ** (streak - 1), BACKOFF_MAX_S)
            delay *= self.spec.time_factor
            self._set(ready=False, started=False, restart_count=self.state.restart_count + 1,
                      state="waiting", reason="CrashLoopBackOff",
                      message=f"back-off {delay:.0f}s restarting failed container",
                      last_exit_code=code, last_reason=reason, last_started_at=started_at,
                      last_finished_at=finished)
            self._event("Warning", "BackOff", "Back-off restarting failed container")
            await asyncio.sleep(delay)

    async def _supervise(self, running: Running) -> tuple[int, str]:
        """Return (exit code, reason) once the container has died or been killed."""
        probes = asyncio.ensure_future(self._probe_lifecycle())
        try:
            await asyncio.wait([running.exited, probes], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The pod is gone: its probes must stop too, or they go on probing the pod IP,
            # which kwok soon gives to another pod.
            probes.cancel()
            raise
        if running.exited.done():
            probes.cancel()
            await asyncio.gather(probes, return_exceptions=True)
            code = running.exited.result()
            return code, "Error" if code else "Completed"
        await running.kill()
        return 137, "Error"

    async def _probe_lifecycle(self) -> None:
        """Returns only when a startup or liveness probe says the container must be killed."""
        spec = self.spec
        if spec.startup is not None:
            if not await self._until_threshold(spec.startup, want=True):
                return
            self._set(started=True)
        tasks = [asyncio.ensure_future(self._readiness())]
        if spec.liveness is not None:
            tasks.append(asyncio.ensure_future(self._until_threshold(spec.liveness, want=False)))
        try:
            await asyncio.wait(tasks[1:] or tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()

    async def _readiness(self) -> None:
        probe = self.spec.readiness
        if probe is None:
            self._set(ready=True)
            await asyncio.Event().wait()
        await asyncio.sleep(probe.initial_delay_s * self.spec.time_factor)
        passes = fails = 0
        while True:
            ok, message = await probe_once(self.spec.host, probe)
            passes, fails = (passes + 1, 0) if ok else (0, fails + 1)
            if ok and passes >= probe.success_threshold and not self.state.ready:
                self._set(ready=True)
            if not ok:
                self._event("Warning", "Unhealthy", f"Readiness probe failed: {message}")
                if fails >= probe.failure_threshold and self.state.ready:
                    self._set(ready=False)
            await asyncio.sleep(probe.period_s * self.spec.time_factor)

    async def _until_threshold(self, probe: Probe, want: bool) -> bool:
        """Startup (`want=True`): True once passed, False after too many failures.

        Liveness (`want=False`): returns False after `failureThreshold` failures in a row.
        """
        await asyncio.sleep(probe.initial_delay_s * self.spec.time_factor)
        fails = 0
        while True:
            ok, message = await probe_once(self.spec.host, probe)
            if ok and want:
                return True
            fails = 0 if ok else fails + 1
            if not ok:
                self._event("Warning", "Unhealthy", f"{probe.kind} probe failed: {message}")
            if fails >= probe.failure_threshold:
                self._event("Normal", "Killing", f"Container failed {probe.kind.lower()} probe, "
                            "will be restarted")
                return False
            await asyncio.sleep(probe.period_s * self.spec.time_factor)
