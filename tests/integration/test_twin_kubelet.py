"""The twin's kubelet stops probing a container once its pod is gone (runner cancelled)."""

from __future__ import annotations

import asyncio

import pytest

from brixcheck.twin.kubelet import ContainerRunner, ContainerSpec, Probe, Running
from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration


def test_container_runner_cancelled_stops_its_probes():
    events: list[str] = []

    async def scenario() -> list[str]:
        async def start() -> Running:
            never: asyncio.Future[int] = asyncio.get_running_loop().create_future()

            async def kill() -> None:
                never.cancel()

            return Running(exited=never, kill=kill)

        # Nothing listens on the port: every startup probe fails at once, with an event.
        probe = Probe("Startup", "/health", free_port(), period_s=0.01, failure_threshold=10**6)
        runner = ContainerRunner(ContainerSpec("127.0.0.1", startup=probe), start,
                                 lambda _state: None, lambda *e: events.append(e[1]))
        task = asyncio.ensure_future(runner.run())
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        seen = len(events)
        await asyncio.sleep(0.2)
        return events[seen:]

    after = asyncio.run(scenario())
    assert events.count("Unhealthy") > 0
    assert after == []
