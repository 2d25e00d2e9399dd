"""Remedy commands: exact `kubectl` lines that change a pod's owner the way a finding says.

Every command here is printed for the user to run; doctor itself never runs them. A pod owned
by a Deployment is fixed through the Deployment (a JSON patch on its pod template); a bare pod
through an edited copy of its manifest. A Deployment that asks for a GPU and rolls updates
would start the fixed pod beside the broken one and wait for a second GPU that a one-GPU node
does not have, so such patches also switch the Deployment to the Recreate strategy.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from brixcheck.cluster.kube import container_requests
from brixcheck.doctor.facts import GPU_RESOURCE

JsonOp = dict[str, Any]


@dataclass(frozen=True)
class PatchTarget:
    """What to change: a Deployment's pod template, or a bare pod."""

    namespace: str
    name: str
    spec: client.V1PodSpec
    deployment: client.V1Deployment | None

    @property
    def prefix(self) -> str:
        """JSON-pointer prefix of the pod spec in the object."""
        return "/spec/template/spec" if self.deployment else "/spec"


def target_of(pod: client.V1Pod, deployment: client.V1Deployment | None) -> PatchTarget:
    """The object to change for a pod: its Deployment when it has one."""
    if deployment is not None:
        return PatchTarget(deployment.metadata.namespace, deployment.metadata.name,
                      deployment.spec.template.spec, deployment)
    return PatchTarget(pod.metadata.namespace, pod.metadata.name, pod.spec, None)


def container_index(spec: client.V1PodSpec, name: str) -> int:
    """Index of the named container (0 when absent)."""
    return next((i for i, c in enumerate(spec.containers) if c.name == name), 0)


def flag_ops(target: PatchTarget, container: int, flag: str, value: str) -> list[JsonOp]:
    """JSON-patch operations that set a command-line flag of a container to `value`."""
    spec = target.spec.containers[container]
    base = f"{target.prefix}/containers/{container}"
    for field, items in (("args", spec.args or []), ("command", spec.command or [])):
        for index, item in enumerate(items):
            if item == flag and index + 1 < len(items):
                return [{"op": "replace", "path": f"{base}/{field}/{index + 1}", "value": value}]
            if item.startswith(f"{flag}="):
                return [{"op": "replace", "path": f"{base}/{field}/{index}",
                         "value": f"{flag}={value}"}]
    if spec.args is None:
        return [{"op": "add", "path": f"{base}/args", "value": [flag, value]}]
    return [{"op": "add", "path": f"{base}/args/-", "value": flag},
            {"op": "add", "path": f"{base}/args/-", "value": value}]


def flag_value(container: client.V1Container, flag: str) -> str | None:
    """The value of `--flag value` or `--flag=value` in a container's command or args."""
    items: list[str] = [*(container.command or []), *(container.args or [])]
    for index, item in enumerate(items):
        if item == flag and index + 1 < len(items):
            return items[index + 1]
        if item.startswith(f"{flag}="):
            return item.split("=", 1)[1]
    return None


def _asks_for_gpu(spec: client.V1PodSpec) -> bool:
    return any(container_requests(c).get(GPU_RESOURCE, 0) > 0 for c in spec.containers)


def recreate_op(target: PatchTarget) -> list[JsonOp]:
    """Switch a GPU Deployment that rolls updates to Recreate (see the module docstring)."""
    deployment = target.deployment
    if deployment is None or not _asks_for_gpu(target.spec):
        return []
    strategy = deployment.spec.strategy
    if strategy is not None and strategy.type == "Recreate":
        return []
    return [{"op": "replace", "path": "/spec/strategy", "value": {"type": "Recreate"}}]


def patch_commands(target: PatchTarget, ops: list[JsonOp], what: str) -> list[str]:
    """The command(s) that apply JSON-patch `ops` to the target.

    Args:
        target: the Deployment or bare pod.
        ops: JSON-patch operations on it.
        what: what the edit does, for the bare-pod instructions.

    Returns:
        One `kubectl patch` line for a Deployment; for a bare pod (whose spec cannot be
        patched) the lines that save, edit and replace it.
    """
    ns = target.namespace
    if target.deployment is not None:
        body = json.dumps(recreate_op(target) + ops, separators=(",", ":"))
        return [f"kubectl -n {ns} patch deployment {target.name} --type=json -p "
                f"{shlex.quote(body)}"]
    saved = f"{target.name}.yaml"
    return [f"kubectl -n {ns} get pod {target.name} -o yaml > {saved}",
            f"# in {saved}: {what}",
            f"kubectl replace --force -f {saved}"]
