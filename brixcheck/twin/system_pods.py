"""The stack pod backer: AIBrix's own pods run their real programs at their pod IPs.

kwok gives pods in aibrix-system and envoy-gateway-system an IP and a started, not-ready
container (`brixcheck.twin.cluster`); this backer then runs, per image, what that pod runs:

| image | program on the twin |
|---|---|
| `redis` | Debian's redis-server bound to the pod IP |
| `aibrix/metadata-service` (`aibrix_metadata`) | PyPI `aibrix==0.5.0`'s metadata service |
| `aibrix/controller-manager` | the model-route controller emulator (`twin.model_router`) |
| `aibrix/gateway-plugins` | `python -m brixcheck.gateway_plugin` when that emulator is installed |
| `envoyproxy/gateway` | Envoy Gateway's controller (`server`, `certgen`) in its own netns |

with kubelet semantics (`brixcheck.twin.kubelet`: probes, restarts, back-off). A pod whose
image has no program here (GPU optimizer, KubeRay operator, Envoy Gateway's controller and
certgen until it is built) is never made Ready: its container shows waiting
`NoProgramOnTwin`, as honest as a kubelet that cannot pull the image. The twin has no cluster
DNS or kube-proxy, so a container env value naming a Service (`aibrix-redis-master`, or
`aibrix-redis-master.aibrix-system.svc...`) is replaced by the pod IP of a ready pod behind it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kubernetes import client, config

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.kube import UNRUNNABLE_REASON
from brixcheck.twin.cluster import LOADGEN_LABEL, STACK_NAMESPACES
from brixcheck.twin.kubelet import (
    ContainerRunner,
    ContainerSpec,
    ContainerState,
    Probe,
    Running,
)
from brixcheck.twin.pod_watch import dispatch, start_pod_watch
from brixcheck.twin.pods import TERMINAL_PHASES, _StatusReporter
from brixcheck.twin.proc import child_env
from brixcheck.twin.relay import tcp_to_unix, unix_to_tcp
from brixcheck.twin.services import find_metadata_entry, find_redis_server

log = logging.getLogger(__name__)
GATEWAY_PLUGIN_MODULE = "brixcheck.gateway_plugin"
EG_REPOSITORY = "envoyproxy/gateway"
EG_CONFIG = "envoy-gateway.yaml"
EG_OPT_IN = "BRIXCHECK_TWIN_ENVOY_GATEWAY"
API_SOCKET = "api.sock"


@dataclass(frozen=True)
class Program:
    """What a pod's container runs on the twin."""

    argv: list[str]
    env: dict[str, str]


def repository(image: str) -> str:
    """`docker.io/aibrix/metadata-service:v0.5.0` -> `aibrix/metadata-service`."""
    name = image.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: -(len(last) - last.index(":"))]
    for registry in ("docker.io/", "registry-1.docker.io/"):
        name = name.removeprefix(registry)
    return name.removeprefix("library/")


def _gateway_plugin_installed() -> bool:
    return importlib.util.find_spec(f"{GATEWAY_PLUGIN_MODULE}.__main__") is not None \
        if importlib.util.find_spec(GATEWAY_PLUGIN_MODULE) else False


def program_for(container: dict[str, Any], ip: str, env: dict[str, str], kubeconfig: Path,
                work_dir: Path) -> Program | str:
    """The program for a container at pod IP `ip`, or why there is none."""
    repo = repository(container.get("image", ""))
    command = container.get("command") or []
    if repo == "redis":
        return Program([str(find_redis_server()), "--bind", ip, "--port", str(aibrix.REDIS_PORT),
                        "--protected-mode", "no", "--save", "", "--appendonly", "no",
                        "--dir", str(work_dir), "--daemonize", "no"], env)
    if repo == "aibrix/metadata-service" and command[:1] == ["aibrix_metadata"]:
        return Program([str(find_metadata_entry()), "--host", ip, "--port",
                        str(aibrix.METADATA_SERVICE_PORT)],
                       {**env, "KUBECONFIG": str(kubeconfig),
                        "LOCAL_STORAGE_PATH": str(work_dir / "storage")})
    if repo == "aibrix/controller-manager":
        return Program([sys.executable, "-m", "brixcheck.twin.model_router", "--kubeconfig",
                        str(kubeconfig), "--probe-address", f"{ip}:8081"], env)
    if repo == EG_REPOSITORY:
        return _envoy_gateway(container, env, kubeconfig, work_dir)
    if repo == "aibrix/gateway-plugins":
        if not _gateway_plugin_installed():
            return "the gateway-plugin emulator (brixcheck.gateway_plugin) is not installed"
        return Program([sys.executable, "-m", GATEWAY_PLUGIN_MODULE, "--grpc-bind-address",
                        f"{ip}:{aibrix.GATEWAY_PLUGINS_GRPC_PORT}", "--metrics-bind-address",
                        f"{ip}:8080", "--kubeconfig", str(kubeconfig)], env)
    return f"the twin has no program for image {container.get('image')} (docs/twin.md)"


def envoy_gateway_binary() -> Path | None:
    """The Envoy Gateway controller built for the twin, if it was built and asked for.

    Opt-in ($BRIXCHECK_TWIN_ENVOY_GATEWAY=1): its xDS server cannot start on the twin yet (its
    certificates path is fixed, docs/twin.md), so by default its pods stay NoProgramOnTwin.
    """
    from brixcheck.twin.build import bin_dir, cache_root, envoy_gateway_component, is_fresh

    if os.environ.get(EG_OPT_IN) != "1":
        return None
    component = envoy_gateway_component()
    if not is_fresh(cache_root(), component):
        return None
    return bin_dir(cache_root(), component) / "envoy-gateway"


def exposed_ports(container: dict[str, Any]) -> list[int]:
    """Container ports and HTTP probe ports: what the host must reach inside the namespace."""
    ports = {p["containerPort"] for p in container.get("ports") or []}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        port = ((container.get(probe) or {}).get("httpGet") or {}).get("port")
        if isinstance(port, int):
            ports.add(port)
    return sorted(ports)


def _envoy_gateway(container: dict[str, Any], env: dict[str, str], kubeconfig: Path,
                   work_dir: Path) -> Program | str:
    binary = envoy_gateway_binary()
    if binary is None:
        return ("Envoy Gateway's controller is not run on the twin unless built "
                f"(python -m brixcheck.twin.build --only envoy-gateway) and {EG_OPT_IN}=1")
    words = [*(container.get("command") or []), *(container.get("args") or [])]
    mode = "certgen" if "certgen" in words else "server"
    program = [str(binary), mode]
    if mode == "server":
        program += ["--config-path", str(work_dir / EG_CONFIG)]
    api_port = api_server_port(kubeconfig)
    launcher = ["unshare", "-n", sys.executable, "-m", "brixcheck.twin.netns",
                "--reach", f"{api_port}={work_dir / API_SOCKET}"]
    for port in exposed_ports(container):
        launcher += ["--expose", f"{port}={work_dir / f'expose-{port}.sock'}"]
    return Program([*launcher, "--", *program],
                   {**env, "KUBECONFIG": str(kubeconfig),
                    "ENVOY_GATEWAY_NAMESPACE": env.get("POD_NAMESPACE", "")})


def api_server_port(kubeconfig: Path) -> int:
    """The port of the API server the kubeconfig points at (on loopback)."""
    import yaml

    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    return int(server.rsplit(":", 1)[1])


class ServiceResolver:
    """The twin's stand-in for cluster DNS + kube-proxy: a Service name -> one of its pods' IP.

    A ready pod behind the Service's selector, or any pod with an IP when the Service publishes
    not-ready addresses (a headless Service for a StatefulSet or a Locust master). No balancing:
    the first such pod answers, as one DNS answer would.
    """

    def __init__(self, core: client.CoreV1Api) -> None:
        self.core = core

    def resolve(self, value: str, namespace: str) -> str | None:
        """The IP for `value` if it names a Service; `value` itself if it names none."""
        found = self._backend(value, namespace)
        if found is None:
            return value
        return found[1].status.pod_ip if found[1] is not None else None

    def resolve_url(self, url: str, namespace: str) -> str | None:
        """`url` with a Service host replaced by a pod IP and the Service port by its target
        port (kube-proxy's mapping); `url` itself when its host names no Service."""
        parts = urlsplit(url)
        found = self._backend(parts.hostname or "", namespace) if parts.hostname else None
        if found is None:
            return url
        service, pod = found
        if pod is None:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = next((p.target_port for p in service.spec.ports or [] if p.port == port), port)
        if isinstance(target, str):  # a named container port
            target = next((p.container_port for c in pod.spec.containers for p in c.ports or []
                           if p.name == target), port)
        return urlunsplit(parts._replace(netloc=f"{pod.status.pod_ip}:{target}"))

    def _backend(self, value: str, namespace: str) -> tuple[Any, Any] | None:
        """(Service, pod to reach or None) when `value` names a Service; None when it does not."""
        parts = value.split(".")
        name = parts[0]
        ns = parts[1] if len(parts) > 1 and parts[1:2] != [""] else namespace
        if len(parts) > 2 and parts[2] != "svc":
            return None
        try:
            service = self.core.read_namespaced_service(name, ns)
        except client.ApiException:
            return None
        selector = ",".join(f"{k}={v}" for k, v in (service.spec.selector or {}).items())
        not_ready_too = bool(service.spec.publish_not_ready_addresses)
        for pod in self.core.list_namespaced_pod(ns, label_selector=selector).items:
            conditions = {c.type: c.status for c in pod.status.conditions or []}
            live = pod.status.phase not in TERMINAL_PHASES and not pod.metadata.deletion_timestamp
            if pod.status.pod_ip and live and (not_ready_too or conditions.get("Ready") == "True"):
                return service, pod
        return service, None

    def env(self, container: dict[str, Any], pod: dict[str, Any]) -> tuple[dict[str, str], str]:
        """The container's env with Services resolved; ('', reason) when one has no pod."""
        meta = pod["metadata"]
        values = {"POD_NAME": meta["name"], "POD_NAMESPACE": meta["namespace"]}
        for item in container.get("env") or []:
            if "value" not in item:
                continue
            resolved = self.resolve(item["value"], meta["namespace"])
            if resolved is None:
                return {}, f"waiting for service {item['value']}: no ready pod behind it"
            values[item["name"]] = resolved
        return values, ""


class StackPodBacker:
    """Runs one program per stack pod, reports like a kubelet; marks the rest NoProgramOnTwin."""

    def __init__(self, kubeconfig: Path, work_dir: Path, time_factor: float) -> None:
        self.kubeconfig = kubeconfig
        self.core = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
        self.resolver = ServiceResolver(self.core)
        self.work_dir = work_dir
        self.time_factor = time_factor
        self._pods: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Watch the stack namespaces until cancelled."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for namespace in STACK_NAMESPACES:
            start_pod_watch(self.core, queue, f"stack pod ({namespace})",
                            self.core.list_namespaced_pod, namespace)
        await dispatch(queue, self._handle, self._pods)

    async def _handle(self, event: dict[str, Any]) -> None:
        pod = event["pod"]
        meta, status = pod["metadata"], pod.get("status") or {}
        labels = meta.get("labels") or {}
        if aibrix.LABEL_MODEL_NAME in labels or LOADGEN_LABEL in labels \
                or not meta.get("ownerReferences"):
            return  # model and Locust pods have their own backers; bare pods belong to kwok
        if event["type"] == "DELETED" or meta.get("deletionTimestamp") \
                or status.get("phase") in TERMINAL_PHASES:
            task = self._pods.pop(meta["uid"], None)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        elif meta["uid"] not in self._pods and status.get("podIP"):
            self._pods[meta["uid"]] = asyncio.ensure_future(self._back(pod))

    async def _back(self, pod: dict[str, Any]) -> None:
        container = pod["spec"]["containers"][0]
        ip = pod["status"]["podIP"]
        work = self.work_dir / f"{pod['metadata']['namespace']}_{pod['metadata']['name']}"
        work.mkdir(parents=True, exist_ok=True)
        program = program_for(container, ip, {}, self.kubeconfig, work)
        reporter = _StatusReporter(self.core, pod, container)
        if isinstance(program, str):
            reporter.report(ContainerState(reason=UNRUNNABLE_REASON, message=program))
            await asyncio.Event().wait()  # nothing runs; keep the pod's task until deleted
        if pod["spec"].get("restartPolicy") == "Never":
            await self._run_to_completion(pod, container, work)
            return
        spec = ContainerSpec(
            host=ip, time_factor=self.time_factor,
            startup=Probe.from_spec("Startup", container.get("startupProbe"), 0),
            readiness=Probe.from_spec("Readiness", container.get("readinessProbe"), 0),
            liveness=Probe.from_spec("Liveness", container.get("livenessProbe"), 0))
        current: list[Running] = []

        async def start() -> Running:
            current[:] = [await self._start(pod, container, work)]
            return current[0]

        runner = ContainerRunner(spec, start, reporter.report, reporter.event)
        try:
            await runner.run()
        finally:  # the pod is gone: so is its process, as with its network namespace
            if current:
                await current[0].kill()

    async def _start(self, pod: dict[str, Any], container: dict[str, Any],
                     work: Path) -> Running:
        log_file = (work / "container.log").open("ab")
        env, waiting = await asyncio.to_thread(self.resolver.env, container, pod)
        program = program_for(container, pod["status"]["podIP"], env, self.kubeconfig, work)
        relays = []
        if not waiting and not isinstance(program, str) \
                and repository(container.get("image", "")) == EG_REPOSITORY:
            relays = await self._envoy_gateway_host_side(pod, container, work)
        if waiting or isinstance(program, str):
            log_file.write(f"{waiting or program}\n".encode())
            log_file.close()
            exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            exited.set_result(1)
            return Running(exited=exited, kill=_nothing)
        proc = await asyncio.create_subprocess_exec(
            *program.argv, env=child_env(program.env), cwd=work, stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file, stderr=asyncio.subprocess.STDOUT)
        log_file.close()
        log.info("%s/%s runs %s (PID %d)", pod["metadata"]["namespace"],
                 pod["metadata"]["name"], program.argv[0], proc.pid)

        async def kill() -> None:
            for relay in relays:
                relay.close()
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

        return Running(exited=asyncio.ensure_future(proc.wait()), kill=kill)

    async def _run_to_completion(self, pod: dict[str, Any], container: dict[str, Any],
                                 work: Path) -> None:
        """A Job's pod (restartPolicy Never): run once, then Succeeded or Failed by exit code."""
        running = await self._start(pod, container, work)
        started = _now()
        try:
            code = await running.exited
        finally:
            await running.kill()
        state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                "startedAt": started, "finishedAt": _now()}}
        status = {"name": container["name"], "image": container.get("image", ""), "ready": False,
                  "started": False, "restartCount": 0, "imageID": "", "state": state}
        body = {"status": {"phase": "Succeeded" if code == 0 else "Failed",
                           "containerStatuses": [status]}}
        meta = pod["metadata"]
        await asyncio.to_thread(self.core.patch_namespaced_pod_status, meta["name"],
                                meta["namespace"], body)

    async def _envoy_gateway_host_side(self, pod: dict[str, Any], container: dict[str, Any],
                                       work: Path) -> list[asyncio.Server]:
        """Write its config file from the pod's ConfigMap volume; relay API and its ports."""
        namespace = pod["metadata"]["namespace"]
        for volume in pod["spec"].get("volumes") or []:
            name = (volume.get("configMap") or {}).get("name")
            if name:
                config_map = await asyncio.to_thread(self.core.read_namespaced_config_map,
                                                     name, namespace)
                for key, value in (config_map.data or {}).items():
                    (work / key).write_text(value)
        api = work / API_SOCKET
        api.unlink(missing_ok=True)
        port = api_server_port(self.kubeconfig)
        servers = [await unix_to_tcp(str(api), f"127.0.0.1:{port}")]
        for exposed in exposed_ports(container):
            servers.append(await tcp_to_unix(f"{pod['status']['podIP']}:{exposed}",
                                             str(work / f"expose-{exposed}.sock")))
        return servers


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _nothing() -> None:
    return None
