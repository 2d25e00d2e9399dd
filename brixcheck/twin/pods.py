"""The pod backer: every model pod on a twin node gets a live emulated engine at its IP.

It watches pods labelled `model.aibrix.ai/name`. When kwok has given one an IP, the backer
starts an engine bound to that IP with the container's own vLLM arguments (plus the node's
virtual GPU: annotations `brixcheck.io/gpu-profile`, `brixcheck.io/gpu-used-gib`, and the pod's
`brixcheck.io/engine-args`), runs the container with kubelet semantics (`brixcheck.twin.kubelet`)
and writes what a kubelet writes: the pod's container status and conditions, Events, and the
container log that `kubectl logs` shows (through kwok's Logs objects). Deleting the pod stops
its engine. All engines live in this one process (`EngineHost`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from brixcheck.cluster.gpu_memory import GPU_PROFILE_ANNOTATION, GPU_USED_ANNOTATION
from brixcheck.engine.host import EngineHost, HostError
from brixcheck.twin.cluster import MODEL_LABEL
from brixcheck.twin.dataplane import Endpoints
from brixcheck.twin.kubelet import ContainerRunner, ContainerSpec, ContainerState, Probe, Running
from brixcheck.twin.pod_watch import start_pod_watch

if TYPE_CHECKING:
    from brixcheck.twin.vllm_host import VllmHost

log = logging.getLogger(__name__)
ENGINE_ARGS_ANNOTATION = "brixcheck.io/engine-args"
TERMINAL_PHASES = ("Failed", "Succeeded")


def _time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def vllm_argv(container: dict[str, Any]) -> list[str]:
    """The vLLM server arguments of a container (`vllm serve MODEL ...` or module form)."""
    command = list(container.get("command") or [])
    args = list(container.get("args") or [])
    if len(command) >= 2 and command[0].endswith("vllm") and command[1] == "serve":
        return command[2:] + args
    return args


def serving_port(argv: list[str]) -> int:
    """The --port in vLLM arguments (vLLM's default 8000)."""
    for index, arg in enumerate(argv):
        if arg == "--port" and index + 1 < len(argv):
            return int(argv[index + 1])
        if arg.startswith("--port="):
            return int(arg.split("=", 1)[1])
    return 8000


def container_status(name: str, image: str, state: ContainerState) -> dict[str, Any]:
    """A V1ContainerStatus dict for the kubelet-style state."""
    if state.state == "running":
        current: dict[str, Any] = {"running": {"startedAt": _time(state.started_at)}}
    else:
        current = {"waiting": {"reason": state.reason, "message": state.message}}
    last: dict[str, Any] = {}
    if state.last_exit_code is not None:
        last = {"terminated": {"exitCode": state.last_exit_code, "reason": state.last_reason,
                               "startedAt": _time(state.last_started_at),
                               "finishedAt": _time(state.last_finished_at)}}
    return {"name": name, "image": image, "imageID": "", "ready": state.ready,
            "started": state.started, "restartCount": state.restart_count,
            "state": current, "lastState": last}


def _vllm_host() -> VllmHost:
    from brixcheck.twin.vllm_host import VllmHost

    return VllmHost()


class PodBacker:
    """Keeps one engine per model pod and reports like a kubelet."""

    def __init__(self, kubeconfig: Path, logs: Path, time_factor: float,
                 on_endpoints: Callable[[Endpoints], None] = lambda _: None,
                 engine: str = "emulator") -> None:
        api_client = config.new_client_from_config(str(kubeconfig))
        self._on_endpoints = on_endpoints
        self._endpoints: dict[str, dict[str, tuple[str, int]]] = {}
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.logs = logs
        self.time_factor = time_factor
        self.engine = engine
        self.host: EngineHost | VllmHost = EngineHost() if engine == "emulator" \
            else _vllm_host()
        self._pods: dict[str, asyncio.Task[None]] = {}
        # Engines are named namespace/name; a pod recreated under the same name is another pod
        # (another uid), and the old one's late stop must not take the new one's engine down.
        self._engine_uid: dict[str, str] = {}

    async def run(self, ready_file: Path | None = None) -> None:
        """Watch model pods forever; touch `ready_file` once the API answered."""
        self.logs.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.core.list_pod_for_all_namespaces, limit=1)
        if ready_file is not None:
            ready_file.touch()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        start_pod_watch(self.core, queue, "model pod", self.core.list_pod_for_all_namespaces,
                        label_selector=MODEL_LABEL)
        while True:
            event = await queue.get()
            await self._handle(event)

    async def _handle(self, event: dict[str, Any]) -> None:
        pod = event["pod"]
        meta = pod["metadata"]
        status = pod.get("status") or {}
        if event["type"] == "DELETED" or meta.get("deletionTimestamp") \
                or status.get("phase") in TERMINAL_PHASES:
            # A kubelet runs no container of a terminal pod (an evicted one, for instance).
            await self._stop(meta["uid"], meta)
        elif meta["uid"] not in self._pods and status.get("podIP"):
            self._pods[meta["uid"]] = asyncio.ensure_future(self._back(pod))

    async def _stop(self, uid: str, meta: dict[str, Any]) -> None:
        task = self._pods.pop(uid, None)
        if task is None:
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await self._remove_engine(f"{meta['namespace']}/{meta['name']}", uid)

    async def _remove_engine(self, name: str, uid: str | None = None) -> None:
        """Stop the engine `name`; with `uid`, only if that pod started it."""
        if name in self.host.engines and uid in (None, self._engine_uid.get(name)):
            self._engine_uid.pop(name, None)
            await self.host.remove(name)

    async def _back(self, pod: dict[str, Any]) -> None:
        container = pod["spec"]["containers"][0]
        argv = vllm_argv(container)
        port = serving_port(argv)
        spec = ContainerSpec(
            host=pod["status"]["podIP"], time_factor=self.time_factor,
            startup=Probe.from_spec("Startup", container.get("startupProbe"), port),
            readiness=Probe.from_spec("Readiness", container.get("readinessProbe"), port),
            liveness=Probe.from_spec("Liveness", container.get("livenessProbe"), port),
        )
        reporter = _StatusReporter(self.core, pod, container)
        model = pod["metadata"]["labels"][MODEL_LABEL]
        self._endpoints.setdefault(model, {})

        def report(state: ContainerState) -> None:
            reporter.report(state)
            self._set_endpoint(model, pod["metadata"]["uid"], (spec.host, port), state.ready)

        runner = ContainerRunner(spec, lambda: self._start(pod, container, argv, runner),
                                 report, reporter.event)
        try:
            await runner.run()
        finally:
            self._set_endpoint(model, pod["metadata"]["uid"], (spec.host, port), False)

    def _set_endpoint(self, model: str, uid: str, address: tuple[str, int], ready: bool) -> None:
        """Keep the ready endpoints per model; publish when they change."""
        current = self._endpoints.setdefault(model, {})
        if ready == (uid in current):
            return
        if ready:
            current[uid] = address
        else:
            current.pop(uid, None)
        self._on_endpoints({m: list(e.values()) for m, e in self._endpoints.items()})

    async def _emulator_args(self, pod: dict[str, Any]) -> list[str]:
        node = await self._node_annotations(pod["spec"].get("nodeName", ""))
        args = ["--emu-load-time-factor", str(self.time_factor)]
        if GPU_PROFILE_ANNOTATION in node:
            args += ["--emu-profile", node[GPU_PROFILE_ANNOTATION]]
        if GPU_USED_ANNOTATION in node:
            args += ["--emu-gpu-used-gib", node[GPU_USED_ANNOTATION]]
        extra = (pod["metadata"].get("annotations") or {}).get(ENGINE_ARGS_ANNOTATION, "")
        return args + shlex.split(extra)

    async def _node_annotations(self, name: str) -> dict[str, str]:
        """Read at every container start: the virtual GPU's state changes (scenarios)."""
        if not name:
            return {}
        node = await asyncio.to_thread(self.core.read_node, name)
        return dict(node.metadata.annotations or {})

    async def _start(self, pod: dict[str, Any], container: dict[str, Any], argv: list[str],
                     runner: ContainerRunner) -> Running:
        meta = pod["metadata"]
        name = f"{meta['namespace']}/{meta['name']}"
        if self.engine == "emulator":
            argv = argv + await self._emulator_args(pod)
        restart = runner.state.restart_count
        stem = f"{meta['namespace']}_{meta['name']}_{container['name']}"
        log_file = self.logs / f"{stem}-{restart}.log"
        previous = self.logs / f"{stem}-{restart - 1}.log"
        await asyncio.to_thread(self._point_logs, meta, container["name"], log_file,
                                previous if restart else None)
        async def kill() -> None:
            await self._remove_engine(name, meta["uid"])

        await self._remove_engine(name)  # a previous pod of this name whose stop is still queued
        await self._evict_address_holders(name, pod["status"]["podIP"], serving_port(argv))
        try:
            engine = await self.host.add(name, argv, pod["status"]["podIP"], log_file,
                                         cri_log=True)
            self._engine_uid[name] = meta["uid"]
        except HostError as exc:
            # What a container runtime reports when the process cannot start: it exits at once.
            with log_file.open("a") as stream:
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                stream.write(f"{stamp} stderr F brixcheck twin: engine could not start: {exc}\n")
            exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            exited.set_result(128)
            return Running(exited=exited, kill=kill)
        return Running(exited=engine.exited, kill=kill)

    async def _evict_address_holders(self, name: str, ip: str, port: int) -> None:
        """Stop engines of other pods still bound to this pod's address.

        kwok hands a freed pod IP to the next pod at once; the previous pod's engine may not
        have been stopped yet (its deletion event still queued). On a node the old process
        would be gone with its network namespace, so the twin stops it before binding.
        """
        address = f"{ip}:{port}"
        for other, engine in list(self.host.engines.items()):
            if other != name and engine.address == address:
                log.info("stopping %s: pod %s now owns %s", other, name, address)
                await self._remove_engine(other)

    def _point_logs(self, meta: dict[str, Any], container: str, current: Path,
                    previous: Path | None) -> None:
        point_logs(self.custom, meta, container, current, previous)


def point_logs(custom: client.CustomObjectsApi, meta: dict[str, Any], container: str,
               current: Path, previous: Path | None = None) -> None:
    """Create or update kwok's Logs object so `kubectl logs` reads the container's CRI log."""
    current.touch()
    entry: dict[str, Any] = {"containers": [container], "logsFile": str(current),
                             "follow": True}
    if previous is not None:
        entry["previousLogsFile"] = str(previous)
    body = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"logs": [entry]}}
    args = ("kwok.x-k8s.io", "v1alpha1", meta["namespace"], "logs")
    try:
        custom.create_namespaced_custom_object(*args, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        custom.patch_namespaced_custom_object(*args, meta["name"], body)


class _StatusReporter:
    """Writes a container's state to its pod (latest state wins) and records Events."""

    def __init__(self, core: client.CoreV1Api, pod: dict[str, Any],
                 container: dict[str, Any]) -> None:
        self.core = core
        self.meta = pod["metadata"]
        self.node = pod["spec"].get("nodeName")
        self.container = container
        self._latest: ContainerState | None = None
        self._writer: asyncio.Task[None] | None = None
        self._events: set[asyncio.Future[None]] = set()

    def report(self, state: ContainerState) -> None:
        self._latest = state
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self._latest is not None:
            state, self._latest = self._latest, None
            await asyncio.to_thread(self._patch, state)

    def _patch(self, state: ContainerState) -> None:
        ready = "True" if state.ready else "False"
        status = container_status(self.container["name"], self.container.get("image", ""),
                                  state)
        body = {"status": {"phase": "Running", "containerStatuses": [status], "conditions": [
            {"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}]}}
        try:
            self.core.patch_namespaced_pod_status(self.meta["name"], self.meta["namespace"],
                                                  body)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("status patch of %s failed: %s", self.meta["name"], exc.reason)

    def event(self, kind: str, reason: str, message: str) -> None:
        task = asyncio.ensure_future(asyncio.to_thread(self._create_event, kind, reason, message))
        self._events.add(task)
        task.add_done_callback(self._events.discard)

    def _create_event(self, kind: str, reason: str, message: str) -> None:
        now = dt.datetime.now(dt.UTC)
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{self.meta['name']}."),
            involved_object=client.V1ObjectReference(
                kind="Pod", name=self.meta["name"], namespace=self.meta["namespace"],
                uid=self.meta["uid"], field_path=f"spec.containers{{{self.container['name']}}}"),
            reason=reason, message=message, type=kind, first_timestamp=now, last_timestamp=now,
            count=1, source=client.V1EventSource(component="kubelet", host=self.node))
        try:
            self.core.create_namespaced_event(self.meta["namespace"], body)
        except ApiException as exc:
            log.warning("event for %s failed: %s", self.meta["name"], exc.reason)
