"""Entry points of `brixcheck twin ...`."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import uvloop
from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.errors import BrixcheckError
from brixcheck.twin import lifecycle
from brixcheck.twin.build import main as build_main
from brixcheck.twin.cluster import TwinLayout
from brixcheck.twin.dataplane import DataPlane

PLUGIN_CHECK_S = 1.0


async def _keep_plugin_running(dataplane: DataPlane) -> None:
    """Restart the gateway plugin when it exits (its Deployment's kubelet would)."""
    while True:
        await asyncio.sleep(PLUGIN_CHECK_S)
        try:
            await asyncio.to_thread(dataplane.plugin.restart_if_dead)
        except BrixcheckError as exc:
            logging.getLogger(__name__).error("gateway plugin restart failed: %s", exc)


async def _backer(time_factor: float, engine: str, gateway_plugin: str = "") -> int:
    from brixcheck.twin.loadgen_pods import LoadgenPodBacker
    from brixcheck.twin.pods import PodBacker
    from brixcheck.twin.system_pods import StackPodBacker

    layout = TwinLayout.default()
    dataplane = DataPlane(layout.run_dir / "dataplane", layout.kubeconfig,
                          Path(gateway_plugin) if gateway_plugin else None)
    # In this (the main) thread, not a worker thread: the data plane's programs get SIGTERM when
    # the thread that started them ends (parent-death signal), which must be the backer's end.
    dataplane.start()
    dataplane.write_addresses(layout.run_dir / "dataplane.json")
    backer = PodBacker(layout.kubeconfig, layout.logs, time_factor, dataplane.update, engine)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack = StackPodBacker(layout.kubeconfig, layout.run_dir / "stack", time_factor)
    watching = asyncio.ensure_future(backer.run(layout.run_dir / "backer.ready"))
    stack_watching = asyncio.ensure_future(stack.run())
    loadgen = LoadgenPodBacker(layout.kubeconfig, layout.run_dir / "loadgen")
    loadgen_watching = asyncio.ensure_future(loadgen.run())
    keeping = asyncio.ensure_future(_keep_plugin_running(dataplane))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([watching, stack_watching, stopping],
                       return_when=asyncio.FIRST_COMPLETED)
    watching.cancel()
    stack_watching.cancel()
    loadgen_watching.cancel()
    await asyncio.gather(stack_watching, loadgen_watching, return_exceptions=True)
    keeping.cancel()
    await backer.host.stop_all()
    await asyncio.to_thread(dataplane.stop)
    if watching.done() and not watching.cancelled() and watching.exception():
        raise BrixcheckError(f"pod backer failed: {watching.exception()}",
                             "see the backer log in the twin's run directory")
    return 0


def main_twin(command: str, nodes: str, time_factor: float | None, scenario: str = "",
              state: str | None = None, engine: str = "emulator",
              gateway_plugin: str = "") -> int:
    """Dispatch `brixcheck twin COMMAND`."""
    if command == "scenario":
        return main_scenario(scenario, state)
    if command == "build":
        return build_main([])
    if command == "up":
        lifecycle.up(nodes or None, time_factor, engine, gateway_plugin)
        return 0
    if command == "down":
        lifecycle.down()
        return 0
    if command == "status":
        return lifecycle.status()
    if command == "backer":
        return uvloop.run(_backer(time_factor or lifecycle.DEFAULT_TIME_FACTOR[engine], engine,
                                  gateway_plugin))
    raise BrixcheckError(f"unknown twin command {command!r}", "see `brixcheck twin --help`")


def main_scenario(name: str, state: str | None) -> int:
    """`brixcheck twin scenario list | NAME on | NAME off`."""
    from brixcheck.cluster.target import connect
    from brixcheck.twin import scenarios

    layout = TwinLayout.default()
    if not layout.kubeconfig.exists():
        raise BrixcheckError("the twin is not up", "start it with `brixcheck twin up`")
    api = connect(layout.kubeconfig).api_client
    if name == "list":
        on = set(scenarios.active(client.CoreV1Api(api)))
        for scenario in scenarios.SCENARIOS.values():
            mark = "on " if scenario.name in on else "off"
            print(f"{mark}  {scenario.name:<17} {scenario.summary} (doctor: {scenario.finding})")
        return 0
    if state is None:
        raise BrixcheckError(f"say `on` or `off` after {name}",
                             f"e.g. `brixcheck twin scenario {name} on`")
    try:
        if state == "on":
            changed = scenarios.turn_on(api, name)
            print(f"scenario {name}: {'on' if changed else 'already on'}; "
                  f"`brixcheck doctor` reports {scenarios.get(name).finding}")
        else:
            changed = scenarios.turn_off(api, name)
            print(f"scenario {name}: {'off' if changed else 'was not on'}")
    except ApiException as exc:
        raise BrixcheckError(f"the twin's API refused a change of scenario {name} "
                             f"({exc.status} {exc.reason})",
                             f"run `brixcheck twin scenario {name} off`, then try again") from None
    return 0
