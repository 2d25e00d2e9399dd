"""The loadgen pod backer: the in-cluster Locust Jobs' pods run as local processes.

kwok gives pods labelled `brixcheck.io/loadgen-role` (manifests/loadgen) an IP and a started,
not-ready container (`brixcheck.twin.cluster`); this backer then does for each what a kubelet
with the pod's image would, once (the Jobs' pods are `restartPolicy: Never`):

- image: a `python` image is played by this checkout's Python environment: its interpreter and
  pip first on PATH, pip offline (`PIP_NO_INDEX`), so the image's `pip install` of the pinned
  requirements can only confirm what is installed, never change it;
- volumes: each ConfigMap volume's items are written under the pod's directory, emptyDirs are
  empty directories there; mount paths in the command, args and env are rewritten onto them;
- filesystem: /tmp is the pod's own (an overlay over the machine's /tmp in a private mount
  namespace), so files a container writes there stay with its pod and go with it;
- network: the Service names Locust connects to (`--master-host`, the URL of `-H`/`--host`, and
  their LOCUST_* env forms) are resolved to pod IPs (`ServiceResolver`), and the master binds
  its pod IP, where its own network namespace would keep it;
- logs: stdout and stderr in containerd's CRI format, registered with kwok, so the pod's log is
  read through the API server; the container's exit code ends the pod Succeeded or Failed, and
  the Job controller completes or fails the Job from there.

Deleting a pod stops its process group and removes its directory and Logs object.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from brixcheck.children import die_with_parent
from brixcheck.cluster.kube import UNRUNNABLE_REASON
from brixcheck.twin.cluster import LOADGEN_LABEL
from brixcheck.twin.kubelet import ContainerState
from brixcheck.twin.pod_watch import dispatch, start_pod_watch
from brixcheck.twin.pods import TERMINAL_PHASES, container_status, point_logs
from brixcheck.twin.system_pods import ServiceResolver, repository
from brixcheck.twin.vllm_host import cri_line, stop_group

log = logging.getLogger(__name__)
PYTHON_IMAGES = ("python",)  # repositories this checkout's Python environment stands in for
HOST_OPTIONS = ("--master-host",)  # Locust options naming a host to connect to
URL_OPTIONS = ("-H", "--host")
HOST_ENV = ("LOCUST_MASTER_NODE_HOST",)
URL_ENV = ("LOCUST_HOST",)
SERVICE_WAIT_S = 0.5  # how often a container waiting for a Service looks again
# Runs the container in a mount namespace whose /tmp is an overlay: reads see the machine's
# /tmp, writes land in the pod's upper directory ($1, work directory $2).
PRIVATE_TMP_ARGV = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                    'mount -t overlay overlay -o "lowerdir=/tmp,upperdir=$1,workdir=$2" /tmp '
                    '&& shift 2 && exec "$@"', "sh")
LINE_LIMIT = 2**24  # a framed record line can be long (every token's arrival time)


@dataclass(frozen=True)
class Launch:
    """What one container runs on the twin, or why it cannot run yet (`waiting`)."""

    argv: list[str]
    env: dict[str, str]
    waiting: str = ""


def mount_rewriter(mounts: dict[str, Path]) -> Callable[[str], str]:
    """A function mapping container paths under `mounts` onto the pod's directories."""
    if not mounts:
        return lambda text: text
    paths = sorted(mounts, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(p.rstrip("/")) for p in paths)
                         + r")(?=/|$|[^\w.-])")
    return lambda text: pattern.sub(lambda m: str(mounts[m.group(1)]), text)


def host_words(argv: list[str]) -> list[tuple[int, bool]]:
    """Indexes of words in Locust arguments naming a host to reach, and whether each is a URL."""
    found = []
    for index, word in enumerate(argv):
        name, eq, _ = word.partition("=")
        if eq and name in HOST_OPTIONS + URL_OPTIONS:
            found.append((index, name in URL_OPTIONS))
        elif index and argv[index - 1] in HOST_OPTIONS + URL_OPTIONS:
            found.append((index, argv[index - 1] in URL_OPTIONS))
    return found


def python_env(pod_dir: Path) -> dict[str, str]:
    """A python image's environment, played by this checkout's interpreter, offline."""
    return {"PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(pod_dir / "home"), "LANG": "C.UTF-8", "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


class LoadgenPodBacker:
    """Runs each Locust pod's container once and reports like a kubelet."""

    def __init__(self, kubeconfig: Path, work_dir: Path) -> None:
        api = config.new_client_from_config(str(kubeconfig))
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.resolver = ServiceResolver(self.core)
        self.work_dir = work_dir
        self._pods: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        """Watch Locust pods in every namespace until cancelled."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        start_pod_watch(self.core, queue, "loadgen pod", self.core.list_pod_for_all_namespaces,
                        label_selector=LOADGEN_LABEL)
        await dispatch(queue, self._handle, self._pods)

    async def _handle(self, event: dict[str, Any]) -> None:
        pod = event["pod"]
        meta, status = pod["metadata"], pod.get("status") or {}
        if event["type"] == "DELETED" or meta.get("deletionTimestamp"):
            task = self._pods.pop(meta["uid"], None)
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if task is not None or event["type"] == "DELETED":  # also pods of a past backer
                await asyncio.to_thread(self._forget, meta)
        elif meta["uid"] not in self._pods and status.get("podIP") \
                and status.get("phase") not in TERMINAL_PHASES:
            self._pods[meta["uid"]] = asyncio.ensure_future(self._back(pod))

    def _pod_dir(self, meta: dict[str, Any]) -> Path:
        return self.work_dir / f"{meta['namespace']}_{meta['name']}"

    def _forget(self, meta: dict[str, Any]) -> None:
        """The pod is gone: so are its files and the Logs object pointing at them."""
        shutil.rmtree(self._pod_dir(meta), ignore_errors=True)
        try:
            self.custom.delete_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1",
                                                        meta["namespace"], "logs", meta["name"])
        except ApiException as exc:
            if exc.status != 404:
                log.warning("Logs object of %s not deleted: %s", meta["name"], exc.reason)

    async def _back(self, pod: dict[str, Any]) -> None:
        meta, container = pod["metadata"], pod["spec"]["containers"][0]
        pod_dir = self._pod_dir(meta)
        for sub in ("home", "tmp-upper", "tmp-work"):
            (pod_dir / sub).mkdir(parents=True, exist_ok=True)
        log_path = pod_dir / "container.log"
        await asyncio.to_thread(point_logs, self.custom, meta, container["name"], log_path)
        launch = await self._until_launchable(pod, container, pod_dir)
        if launch is None:
            return  # no stand-in for this pod; it stays waiting until deleted
        started = time.time()
        with log_path.open("a", buffering=1) as log_file:
            proc = await asyncio.create_subprocess_exec(
                *launch.argv, cwd=pod_dir, env=launch.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT, start_new_session=True, preexec_fn=die_with_parent())
            log.info("%s/%s runs its container (PID %d)", meta["namespace"], meta["name"],
                     proc.pid)
            exited = asyncio.ensure_future(proc.wait())
            pumps = [asyncio.ensure_future(_pump(stream, name, log_file))
                     for stream, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
            try:
                await self._status(pod, container, ContainerState(
                    state="running", started=True, ready=True, started_at=started))
                code = await asyncio.shield(exited)
            finally:  # the pod is gone or done: so is its process group
                if not exited.done():
                    await stop_group(proc.pid, exited)
                await asyncio.gather(*pumps, return_exceptions=True)
        await self._terminated(pod, container, code if code >= 0 else 128 - code, started)

    async def _until_launchable(self, pod: dict[str, Any], container: dict[str, Any],
                                pod_dir: Path) -> Launch | None:
        """The launch once every Service it names has a pod; reports why it waits meanwhile."""
        said = ""
        while True:
            launch = await asyncio.to_thread(self._launch, pod, container, pod_dir)
            if isinstance(launch, str):
                await self._status(pod, container, ContainerState(
                    reason=UNRUNNABLE_REASON, message=launch))
                return None
            if not launch.waiting:
                return launch
            if launch.waiting != said:
                said = launch.waiting
                await self._status(pod, container, ContainerState(
                    reason="ContainerCreating", message=said))
            await asyncio.sleep(SERVICE_WAIT_S)

    def _launch(self, pod: dict[str, Any], container: dict[str, Any],
                pod_dir: Path) -> Launch | str:
        """The container's command on this machine, or why it has none here."""
        image = container.get("image", "")
        if repository(image).split("/")[-1] not in PYTHON_IMAGES:
            return (f"the twin runs Locust pods from a python image only (this checkout's "
                    f"Python stands in for it); {image} has no stand-in (docs/twin.md)")
        if not container.get("command"):
            return "the twin needs the container's command (the image's entrypoint is unknown)"
        mounts = self._volumes(pod, container, pod_dir)
        if isinstance(mounts, str):
            return mounts
        rewrite = mount_rewriter(mounts)
        namespace = pod["metadata"]["namespace"]
        argv = [rewrite(word) for word in [*container["command"], *(container.get("args") or [])]]
        env = {**python_env(pod_dir), "HOSTNAME": pod["metadata"]["name"],
               "LOCUST_MASTER_BIND_HOST": pod["status"]["podIP"]}
        given = {item["name"]: rewrite(item["value"]) for item in container.get("env") or []
                 if "value" in item}
        waiting = self._resolve_hosts(argv, given, namespace)
        if waiting:
            return Launch([], {}, waiting)
        env.update(given)
        tmp = [str(pod_dir / "tmp-upper"), str(pod_dir / "tmp-work")]
        return Launch([*PRIVATE_TMP_ARGV, *tmp, *argv], env)

    def _resolve_hosts(self, argv: list[str], env: dict[str, str], namespace: str) -> str:
        """Resolve, in place, the hosts Locust will connect to; why not yet, or ''."""
        words = [(argv, index, is_url) for index, is_url in host_words(argv)]
        words += [(env, name, name in URL_ENV) for name in HOST_ENV + URL_ENV if name in env]
        for where, key, is_url in words:
            resolved = self._resolve(where[key], is_url, namespace)
            if resolved is None:
                return f"waiting for service {where[key]}: no pod behind it"
            where[key] = resolved
        return ""

    def _resolve(self, word: str, is_url: bool, namespace: str) -> str | None:
        """A host word (a bare value or `--option=value`) with its Service resolved."""
        def resolve(value: str) -> str | None:
            if is_url:
                return self.resolver.resolve_url(value, namespace)
            return self.resolver.resolve(value, namespace)

        name, eq, value = word.partition("=")
        if eq and word.startswith("-"):
            resolved = resolve(value)
            return None if resolved is None else f"{name}={resolved}"
        return resolve(word)

    def _volumes(self, pod: dict[str, Any], container: dict[str, Any],
                 pod_dir: Path) -> dict[str, Path] | str:
        """Materialise the pod's volumes; mount path -> directory, or why one cannot be."""
        namespace = pod["metadata"]["namespace"]
        dirs: dict[str, Path] = {}
        for volume in pod["spec"].get("volumes") or []:
            target = pod_dir / "volumes" / volume["name"]
            target.mkdir(parents=True, exist_ok=True)
            if "emptyDir" in volume:
                dirs[volume["name"]] = target
            elif "configMap" in volume:
                source = volume["configMap"]
                try:
                    data = self.core.read_namespaced_config_map(source["name"],
                                                                namespace).data or {}
                except ApiException as exc:
                    return f"configmap {source['name']} cannot be read ({exc.status} {exc.reason})"
                items = source.get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    path = target / item["path"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(data[item["key"]])
                dirs[volume["name"]] = target
        mounts = {}
        for mount in container.get("volumeMounts") or []:
            if mount["name"] not in dirs:
                return f"volume {mount['name']} is of a kind the twin does not provide"
            mounts[mount["mountPath"]] = dirs[mount["name"]] / mount.get("subPath", "")
        return mounts

    async def _status(self, pod: dict[str, Any], container: dict[str, Any],
                      state: ContainerState) -> None:
        ready = "True" if state.ready else "False"
        await self._patch(pod, {"status": {
            "phase": "Running", "containerStatuses": [
                container_status(container["name"], container.get("image", ""), state)],
            "conditions": [{"type": "Ready", "status": ready},
                           {"type": "ContainersReady", "status": ready}]}})

    async def _terminated(self, pod: dict[str, Any], container: dict[str, Any], code: int,
                          started: float) -> None:
        """The container ended: the pod is Succeeded or Failed by its exit code."""
        terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                      "startedAt": _stamp(started), "finishedAt": _stamp(time.time())}
        status = {"name": container["name"], "image": container.get("image", ""),
                  "imageID": "", "ready": False, "started": False, "restartCount": 0,
                  "state": {"terminated": terminated}}
        not_ready = {"status": "False", "reason": "PodCompleted"}
        await self._patch(pod, {"status": {
            "phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [status],
            "conditions": [{"type": "Ready", **not_ready},
                           {"type": "ContainersReady", **not_ready}]}})

    async def _patch(self, pod: dict[str, Any], body: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            await asyncio.to_thread(self.core.patch_namespaced_pod_status, meta["name"],
                                    meta["namespace"], body)
        except ApiException as exc:
            if exc.status != 404:
                log.warning("status patch of %s failed: %s", meta["name"], exc.reason)


async def _pump(stream: asyncio.StreamReader | None, name: str, out: Any) -> None:
    """Copy one output stream into the CRI log, line by line."""
    if stream is None:
        return
    while line := await stream.readline():
        out.write(cri_line(name, line.decode(errors="replace").rstrip("\n")))


def _stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
