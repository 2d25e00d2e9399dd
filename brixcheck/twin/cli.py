"""Entry points of `brixcheck twin ...`."""

from __future__ import annotations

import asyncio
import signal

import uvloop

from brixcheck.errors import BrixcheckError
from brixcheck.twin import lifecycle
from brixcheck.twin.build import main as build_main
from brixcheck.twin.cluster import TwinLayout


async def _backer(time_factor: float) -> int:
    from brixcheck.twin.dataplane import DataPlane
    from brixcheck.twin.pods import PodBacker

    layout = TwinLayout.default()
    dataplane = DataPlane(layout.run_dir / "dataplane", layout.kubeconfig)
    await asyncio.to_thread(dataplane.start)
    dataplane.write_addresses(layout.run_dir / "dataplane.json")
    backer = PodBacker(layout.kubeconfig, layout.logs, time_factor, dataplane.update)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watching = asyncio.ensure_future(backer.run(layout.run_dir / "backer.ready"))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([watching, stopping], return_when=asyncio.FIRST_COMPLETED)
    watching.cancel()
    await backer.host.stop_all()
    await asyncio.to_thread(dataplane.stop)
    if watching.done() and not watching.cancelled() and watching.exception():
        raise BrixcheckError(f"pod backer failed: {watching.exception()}",
                             "see the backer log in the twin's run directory")
    return 0


def main_twin(command: str, nodes: str, time_factor: float) -> int:
    """Dispatch `brixcheck twin COMMAND`."""
    if command == "build":
        return build_main([])
    if command == "up":
        lifecycle.up(nodes, time_factor)
        return 0
    if command == "down":
        lifecycle.down()
        return 0
    if command == "status":
        return lifecycle.status()
    if command == "backer":
        return uvloop.run(_backer(time_factor))
    raise BrixcheckError(f"unknown twin command {command!r}", "see `brixcheck twin --help`")
