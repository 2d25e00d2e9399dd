"""`brixcheck twin up | down | status`: start, stop and describe the twin.

`up` checks its arguments and the loopback ports the twin binds before it starts anything, and
names what holds a taken port. It is idempotent: a running twin is left as it is, except that
dead parts are restarted (the pod backer and, with it, the data plane when one of its programs
fails its health check); asking a running twin for other nodes or another time factor is refused.
A half-started twin is cleaned up first. `down` stops the pod backer (by the PID `up` recorded,
after checking it is still ours), any data-plane program left in the twin's run directory and the
control plane, removes the run directory and checks the ports are free before it says so.
`status` checks each part's health. Every step's time is printed at the end.

The running twin is marked in its own cluster (ConfigMap `brixcheck-twin` in `kube-public`), so
a run pointed at the twin's kubeconfig by any route knows it is the twin (brixcheck.cluster.target).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from brixcheck.errors import BrixcheckError
from brixcheck.resources import data_path
from brixcheck.twin import dataplane
from brixcheck.twin.build import TwinBuildError, build_all
from brixcheck.twin.cluster import (
    DEFAULT_TWIN_NODES,
    TwinLayout,
    cluster_exists,
    create_cluster,
    delete_cluster,
)
from brixcheck.twin.ports import taken

NODE_PROFILES = data_path("manifests", "twin", "nodes")
BACKER_READY_TIMEOUT_S = 90.0  # the data plane's programs start first (Envoy, plugin)
STOP_TIMEOUT_S = 10.0
NODES_READY_TIMEOUT_S = 60.0
# Taints the node lifecycle controller keeps until it has seen a node's Ready heartbeat.
NOT_READY_TAINTS = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
# The emulator's load times scale with the factor; the real engine's start-up takes real time,
# so its probes must not be sped up (a 60 x 5 s startup budget x 0.1 is shorter than ~17 s).
DEFAULT_TIME_FACTOR = {"emulator": 0.1, "vllm": 1.0}
DEFAULT_NODES = DEFAULT_TWIN_NODES
MARKER_NAMESPACE, MARKER_NAME = "kube-public", "brixcheck-twin"


@dataclass
class Timings:
    """Seconds per step, printed at the end of a command."""

    steps: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, step: Callable[[], object]) -> object:
        """Run `step`, printing progress and recording its time."""
        print(f"[twin] {name} ...", flush=True)
        start = time.monotonic()
        result = step()
        self.steps[name] = time.monotonic() - start
        return result

    def lines(self) -> list[str]:
        """One line per step, then the total."""
        rows = [f"  {name:<28} {seconds:7.1f} s" for name, seconds in self.steps.items()]
        return [*rows, f"  {'total':<28} {sum(self.steps.values()):7.1f} s"]


def _read_json(path: Path) -> dict[str, object]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _read_state(layout: TwinLayout) -> dict[str, object]:
    return _read_json(layout.state_file)


def _is_our_backer(pid: int) -> bool:
    """True when `pid` is alive and is a twin pod backer (PIDs get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"backer" in cmdline and any(b"brixcheck" in part for part in cmdline)


def _api(layout: TwinLayout) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(layout.kubeconfig)))


def _api_healthy(layout: TwinLayout) -> bool:
    if not layout.kubeconfig.exists():
        return False
    try:
        _api(layout).list_namespace(limit=1, _request_timeout=3)
    except Exception:  # noqa: BLE001 - any failure means "not up"
        return False
    return True


def profile_path(profile: str) -> Path:
    """The node profile's file; BrixcheckError naming the known ones when there is none."""
    path = NODE_PROFILES / f"{profile}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in NODE_PROFILES.glob("*.yaml")))
        raise BrixcheckError(f"unknown node profile {profile!r}", f"choose one of: {known}")
    return path


def check_time_factor(value: float | None) -> None:
    """A time factor must be a positive number (it multiplies every wait and probe period)."""
    if value is not None and not 0 < value < float("inf"):
        raise BrixcheckError(f"--time-factor must be a positive number, got {value:g}",
                             "pass e.g. --time-factor 0.1 (ten times faster) or 1 (real time)")


def apply_nodes(layout: TwinLayout, profile: str) -> list[str]:
    """Create the nodes of a profile in manifests/twin/nodes (kept if they exist)."""
    path = profile_path(profile)
    api = _api(layout)
    names = []
    for node in yaml.safe_load_all(path.read_text()):
        names.append(node["metadata"]["name"])
        try:
            api.create_node(node)
        except ApiException as exc:
            if exc.status != 409:
                raise
    return names


def _schedulable(node: client.V1Node) -> bool:
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    return ready and not {t.key for t in node.spec.taints or []} & NOT_READY_TAINTS


def wait_nodes_ready(layout: TwinLayout, names: list[str]) -> None:
    """Wait until every node is Ready without a not-ready taint, so the first pod schedules.

    A new node carries `node.kubernetes.io/not-ready` until the controller manager has seen
    kwok's first heartbeat; a pod created before then is refused by the scheduler.
    """
    api = _api(layout)
    deadline = time.monotonic() + NODES_READY_TIMEOUT_S
    while True:
        nodes = {n.metadata.name: n for n in api.list_node().items}
        waiting = [name for name in names if name not in nodes or not _schedulable(nodes[name])]
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise BrixcheckError(f"twin nodes {', '.join(waiting)} did not become Ready without "
                                 f"a not-ready taint in {NODES_READY_TIMEOUT_S:g} s",
                                 "see `brixcheck twin status`, then `brixcheck twin down` and "
                                 "`brixcheck twin up`")
        time.sleep(0.2)  # polling the API server for a condition, not a fixed wait


def start_backer(layout: TwinLayout, time_factor: float, engine: str = "emulator",
                 gateway_plugin: str = "") -> int:
    """Start the pod backer in its own session; return its PID once it is watching."""
    ready = layout.run_dir / "backer.ready"
    ready.unlink(missing_ok=True)
    out = (layout.run_dir / "backer.log").open("a")
    cmd = [sys.executable, "-m", "brixcheck.cli", "twin", "backer", "--time-factor",
           str(time_factor), "--engine", engine]
    if gateway_plugin:
        cmd += ["--gateway-plugin", str(Path(gateway_plugin).resolve())]
    # Its own session and no parent-death signal: the backer outlives `brixcheck twin up`.
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + BACKER_READY_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise BrixcheckError("the twin's pod backer did not start",
                                 f"see {layout.run_dir / 'backer.log'}")
        time.sleep(0.05)
    return proc.pid


def stop_pid(pid: int) -> None:
    """SIGTERM our process, wait, SIGKILL if it does not stop."""
    if not _is_our_backer(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_our_backer(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _is_our_backer(pid):
        os.kill(pid, signal.SIGKILL)


def up(nodes: str | None = None, time_factor: float | None = None,
       engine: str = "emulator", gateway_plugin: str = "") -> TwinLayout:
    """Build if needed, then start the twin (idempotent); return its layout.

    `nodes` and `time_factor` default to the running twin's, else to DEFAULT_NODES and the
    engine's default factor; asking a running twin for different ones is refused.
    `gateway_plugin` names an AIBrix gateway-plugins executable to run instead of the emulator.
    """
    profile_path(nodes or DEFAULT_NODES)
    check_time_factor(time_factor)
    if gateway_plugin and not Path(gateway_plugin).is_file():
        raise BrixcheckError(f"--gateway-plugin {gateway_plugin} is not a file",
                             "pass the path of an AIBrix gateway-plugins executable")
    timings = Timings()
    if engine == "vllm":
        _require_real_engine()
    layout = TwinLayout.default()
    try:
        timings.run("build (cached by version)", build_all)
    except TwinBuildError as exc:
        raise BrixcheckError(str(exc).rstrip("."), "fix that, then run again") from None
    state = _read_state(layout)
    if _api_healthy(layout) and state:
        _refuse_changes(state, nodes, time_factor, engine)
        _repair(layout, state, timings)
        _write_marker(layout, state)
        _print_up(layout, timings, "already up")
        return layout
    if cluster_exists(layout) or layout.run_dir.exists():
        timings.run("clean half-started twin", lambda: down(quiet=True))
    _refuse_taken_ports()
    factor = time_factor or DEFAULT_TIME_FACTOR[engine]
    nodes = nodes or DEFAULT_NODES
    timings.run("control plane (kwokctl)", lambda: create_cluster(layout))
    names = timings.run(f"nodes ({nodes})", lambda: apply_nodes(layout, nodes))
    timings.run("nodes Ready", lambda: wait_nodes_ready(layout, names))
    pid = timings.run("pod backer", lambda: start_backer(layout, factor, engine,
                                                         gateway_plugin))
    state = {"backer_pid": pid, "nodes": nodes, "time_factor": factor, "engine": engine,
             "gateway_plugin": gateway_plugin, "started": time.time()}
    layout.state_file.write_text(json.dumps(state))
    _write_marker(layout, state)
    _print_up(layout, timings, "up")
    return layout


def _refuse_changes(state: dict[str, object], nodes: str | None, time_factor: float | None,
                    engine: str) -> None:
    """A running twin keeps its nodes and time factor: say so instead of ignoring the ask."""
    running_nodes, running_factor = state.get("nodes"), float(state.get("time_factor", 1.0))
    if nodes is not None and nodes != running_nodes:
        raise BrixcheckError(f"the twin is already up with node profile {running_nodes!r}, "
                             f"not {nodes!r}", "run `brixcheck twin down` first to change it")
    if time_factor is not None and time_factor != running_factor:
        raise BrixcheckError(f"the twin is already up with time factor {running_factor:g}, "
                             f"not {time_factor:g}", "run `brixcheck twin down` first to change it")
    running = str(state.get("engine", "emulator"))
    if running != engine:
        print(f"[twin] note: the running twin serves pods with the {running} engine; "
              f"`brixcheck twin down` first to switch to {engine}")


def _refuse_taken_ports() -> None:
    held = taken(dataplane.ports_needed())
    if held:
        raise BrixcheckError(f"the twin cannot start: {'; '.join(held)}",
                             "stop that process (or free the port), then run "
                             "`brixcheck twin up` again")


def _repair(layout: TwinLayout, state: dict[str, object], timings: Timings) -> None:
    """Restart the pod backer (and so the data plane) when it or a data-plane part is dead."""
    pid = int(state.get("backer_pid", 0))
    addresses = _read_json(layout.run_dir / "dataplane.json")
    failed = [part.name for part in dataplane.parts(addresses) if not part.healthy()]
    if _is_our_backer(pid) and not failed:
        return
    if failed:
        print(f"[twin] not healthy: {', '.join(failed)}; restarting the pod backer and its "
              "data plane")
    stop_pid(pid)
    _stop_orphans(layout)
    _refuse_taken_ports()
    state["backer_pid"] = timings.run(
        "restart pod backer",
        lambda: start_backer(layout, float(state.get("time_factor", 0.1)),
                             str(state.get("engine", "emulator")),
                             str(state.get("gateway_plugin", ""))))
    layout.state_file.write_text(json.dumps(state))


def _write_marker(layout: TwinLayout, state: dict[str, object]) -> None:
    """Mark the cluster as the twin, with what a run needs to know about it."""
    addresses = _read_json(layout.run_dir / "dataplane.json")
    data = {"timeFactor": str(state.get("time_factor", 1.0)),
            "engine": str(state.get("engine", "emulator")), "nodes": str(state.get("nodes")),
            "gateway": str(addresses.get("gateway", "")),
            "gatewayPlugin": str(addresses.get("gateway_plugin", "")),
            "gatewayPluginControl": str(addresses.get("gateway_plugin_control", "")),
            "metadata": str(addresses.get("metadata", ""))}
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(
        name=MARKER_NAME, labels={"app.kubernetes.io/managed-by": "brixcheck-twin"}), data=data)
    api = _api(layout)
    try:
        api.create_namespaced_config_map(MARKER_NAMESPACE, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        api.replace_namespaced_config_map(MARKER_NAME, MARKER_NAMESPACE, body)


def _require_real_engine() -> None:
    from brixcheck.twin import vllm_install

    if not vllm_install.is_installed():
        raise BrixcheckError("the real vLLM engine is not installed",
                             "run `make twin-vllm` (python -m brixcheck.twin.vllm_install), "
                             "then `brixcheck twin up --engine vllm` again")


def engine() -> str:
    """The engine the running twin serves model pods with (emulator when unknown)."""
    return str(_read_state(TwinLayout.default()).get("engine", "emulator"))


def _print_up(layout: TwinLayout, timings: Timings, word: str) -> None:
    print(f"[twin] {word}; timings:")
    print("\n".join(timings.lines()))
    print(f"export KUBECONFIG={layout.kubeconfig}")
    addresses = _read_json(layout.run_dir / "dataplane.json")
    print(f"gateway: {addresses.get('gateway', '?')} (Envoy with the AIBrix gateway plugin: "
          f"{addresses.get('gateway_plugin', '?')}; docs/gateway-plugin.md)")
    print(f"metadata service: {addresses.get('metadata', '?')}")


def _component_pids(layout: TwinLayout) -> list[int]:
    pid_dir = layout.kwok_workdir / "clusters" / layout.name / "pids"
    pids = []
    for path in pid_dir.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pids.append(int(path.read_text()))
    return pids


def _wait_gone(pids: list[int]) -> None:
    """kwokctl signals its processes and returns; wait until they have really exited."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
            raise BrixcheckError(f"twin processes {left} did not exit",
                                 "run `brixcheck twin down` again")
        time.sleep(0.05)


def _orphans(layout: TwinLayout) -> list[int]:
    """Data-plane programs still running from this twin's run directory (a killed backer's)."""
    root = (layout.run_dir / "dataplane").resolve()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            cwd = (proc / "cwd").resolve()
            if cwd == root or root in cwd.parents:
                found.append(int(proc.name))
    return found


def _stop_orphans(layout: TwinLayout) -> None:
    pids = _orphans(layout)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while (left := [p for p in pids if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie holds no port and waits for its parent)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def down(quiet: bool = False) -> None:
    """Stop everything `up` started, remove the twin's run directory, check the ports."""
    layout = TwinLayout.default()
    state = _read_state(layout)
    if state.get("backer_pid"):
        stop_pid(int(state["backer_pid"]))
    _stop_orphans(layout)
    components = _component_pids(layout)
    delete_cluster(layout)
    _wait_gone(components)
    shutil.rmtree(layout.run_dir, ignore_errors=True)
    if quiet:
        return
    held = taken(dataplane.ports_needed())
    if held:
        print(f"[twin] down: no twin process or file is left, but {'; '.join(held)} "
              "(not the twin's: `brixcheck twin up` needs it free)")
    else:
        print("[twin] down: no twin process, port or file is left")


def time_factor() -> float:
    """The time factor the running twin was started with (1.0 when unknown)."""
    return float(_read_state(TwinLayout.default()).get("time_factor", 1.0))


def status() -> int:
    """Print the twin's state, part by part; return 0 when every part is healthy."""
    layout = TwinLayout.default()
    state = _read_state(layout)
    healthy = _api_healthy(layout)
    backer = bool(state) and _is_our_backer(int(state.get("backer_pid", 0)))
    print(f"control plane: {'up' if healthy else 'down'}   pod backer: "
          f"{'running' if backer else 'not running'}   engine: "
          f"{state.get('engine', 'emulator') if state else '-'}")
    parts_ok = True
    if state:
        addresses = _read_json(layout.run_dir / "dataplane.json")
        checks = {part.name: part.healthy() for part in dataplane.parts(addresses)}
        parts_ok = all(checks.values())
        print("   ".join(f"{name}: {'healthy' if ok else 'NOT answering'}"
                         for name, ok in checks.items()))
        if not (backer and parts_ok):
            print("repair: `brixcheck twin up` restarts the dead parts")
    if healthy:
        print(f"kubeconfig: {layout.kubeconfig}")
        for node in _api(layout).list_node().items:
            gpus = (node.status.allocatable or {}).get("nvidia.com/gpu", "0")
            print(f"node {node.metadata.name}: nvidia.com/gpu={gpus}")
        for what, where in _read_json(layout.run_dir / "dataplane.json").items():
            print(f"{what}: {where}")
    return 0 if healthy and backer and parts_ok else 1
