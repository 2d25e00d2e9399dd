"""The engine core: runs the scheduler's steps against the real clock.

Model time is CLOCK_MONOTONIC seconds. A step planned at model time `t` ends at `t + duration`;
the core sleeps until then and hands the step's tokens to their responses, stamping each with its
intended emit time (the step end). Steps run back to back while work remains; after an idle
spell the next step starts at the arrival of the request that woke the engine. A step only admits
requests that arrived before it started, so a late wake-up never reorders cause and effect, and
any lateness shows as emit error, not as drift in the ground truth.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from brixcheck.engine.scheduler import Scheduler, Sequence, StepPlan

TokenCallback = Callable[[Sequence, float], None]
TIMER_LEAD_S = 0.0005


class EngineCore:
    """Drives a `Scheduler` in real time and reports every emitted token."""

    def __init__(self, scheduler: Scheduler, on_token: TokenCallback,
                 on_step: Callable[[StepPlan], None]) -> None:
        self.scheduler = scheduler
        self._on_token = on_token
        self._on_step = on_step
        self._work = asyncio.Event()
        self._resume = asyncio.Event()
        self._resume.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the step loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Cancel the step loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def submit(self, seq: Sequence) -> None:
        """Queue a sequence and wake the loop."""
        self.scheduler.add(seq)
        self._work.set()

    def pause(self, paused: bool) -> None:
        """Freeze or resume stepping (the `hang` fault)."""
        if paused:
            self._resume.clear()
        else:
            self._resume.set()

    async def _run(self) -> None:
        start_s: float | None = None
        while True:
            await self._resume.wait()
            if not self.scheduler.has_work():
                self._work.clear()
                await self._work.wait()
                continue
            start_s = self._next_start(start_s)
            plan = self.scheduler.plan(admit_until_s=start_s)
            if plan is None:
                start_s = None
                await asyncio.sleep(0.001)
                continue
            end_s = start_s + plan.duration_s
            await _sleep_until(end_s)
            await self._resume.wait()
            self._on_step(plan)
            for seq in self.scheduler.complete(plan, end_s):
                self._on_token(seq, end_s)
            start_s = end_s

    def _next_start(self, previous_end_s: float | None) -> float:
        """Back to back while running; after idle, at the earliest waiting arrival."""
        if self.scheduler.running and previous_end_s is not None:
            return previous_end_s
        if not self.scheduler.waiting:
            return time.monotonic()
        earliest = min(seq.arrival_s for seq in self.scheduler.waiting)
        if previous_end_s is None:
            return earliest
        return max(previous_end_s, earliest)


async def _sleep_until(target_s: float) -> None:
    """Sleep until `target_s`; never wake early, rarely late.

    The event loop's timers have millisecond granularity: they fire up to a millisecond early
    or late. So the timer is aimed half a millisecond short and the rest is spent yielding to
    the loop (other connections keep being served) until the clock reaches the target.
    """
    delay = target_s - time.monotonic() - TIMER_LEAD_S
    if delay > 0:
        await asyncio.sleep(delay)
    while time.monotonic() < target_s:
        await asyncio.sleep(0)
