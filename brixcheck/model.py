"""Deploying the model under test from a manifest and waiting for it, timed.

The manifest is the seed's model Deployment (corrected, manifests/models/) plus its Service.
Time-to-Ready is measured from creation to the pod's Ready condition; when the pod does not
become Ready, the error carries its last status and events, so the failing case can say why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from brixcheck.kube import WaitTimeoutError, label_selector, owned, pod_events, wait_for
from brixcheck.target import Target

READY_TIMEOUT_S = 600.0
PROGRESS_S = 10.0  # seconds between "still waiting" lines


@dataclass(frozen=True)
class ModelDeployment:
    """A deployed model and what was measured while it came up."""

    name: str
    namespace: str
    deployment: dict[str, Any]
    pod: client.V1Pod
    ready_s: float

    @property
    def container(self) -> dict[str, Any]:
        """The serving container's spec (as in the manifest)."""
        return self.deployment["spec"]["template"]["spec"]["containers"][0]

    @property
    def selector(self) -> str:
        """Label selector of the model's pods."""
        return label_selector(self.deployment["spec"]["selector"]["matchLabels"])


def load_manifest(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Deployment of a model manifest and its other objects."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    deployments = [d for d in docs if d.get("kind") == "Deployment"]
    if len(deployments) != 1:
        raise ValueError(f"{path} must hold exactly one Deployment, found {len(deployments)}")
    return deployments[0], [d for d in docs if d.get("kind") != "Deployment"]


def _ready_pod(target: Target, namespace: str, selector: str) -> client.V1Pod | None:
    for pod in target.core.list_namespaced_pod(namespace, label_selector=selector).items:
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        if conditions.get("Ready") == "True":
            return pod
    return None


def _last_seen(target: Target, namespace: str, selector: str) -> str:
    pods = target.core.list_namespaced_pod(namespace, label_selector=selector).items
    if not pods:
        return "no pod exists"
    pod = pods[0]
    statuses = pod.status.container_statuses or []
    state = statuses[0].state.to_dict() if statuses else {}
    events = pod_events(target.core, namespace, pod.metadata.name)[-3:]
    return f"pod {pod.metadata.name} phase {pod.status.phase}, state {state}, events {events}"


def _reporting(check: Callable[[], client.V1Pod | None], progress: Callable[[str], None] | None,
               what: str, timeout_s: float) -> Callable[[], client.V1Pod | None]:
    """`check`, also telling `progress` every PROGRESS_S how long the wait has lasted."""
    if progress is None:
        return check
    start = time.monotonic()
    next_report = [start + PROGRESS_S]

    def checked() -> client.V1Pod | None:
        now = time.monotonic()
        if now >= next_report[0]:
            progress(f"[model] waiting for {what} to be Ready: {now - start:.0f} s of at most "
                     f"{timeout_s:.0f} s")
            next_report[0] = now + PROGRESS_S
        return check()

    return checked


def deploy_model(target: Target, manifest: Path, namespace: str, run_id: str,
                 timeout_s: float | None = None,
                 progress: Callable[[str], None] | None = None) -> ModelDeployment:
    """Create the manifest's objects in `namespace` and wait until a pod is Ready."""
    if timeout_s is None:
        timeout_s = READY_TIMEOUT_S * target.time_scale + 60
    deployment, others = load_manifest(manifest)
    owned(deployment, run_id)
    start = time.monotonic()
    target.apps.create_namespaced_deployment(namespace, deployment)
    for obj in others:
        if obj["kind"] == "Service":
            target.core.create_namespaced_service(namespace, owned(obj, run_id))
    selector = label_selector(deployment["spec"]["selector"]["matchLabels"])
    try:
        name = deployment["metadata"]["name"]
        if progress is not None:
            progress(f"[model] deploying {name} in {namespace}; waiting up to {timeout_s:.0f} s "
                     "for a Ready pod")
        check = _reporting(lambda: _ready_pod(target, namespace, selector), progress, name,
                           timeout_s)
        pod = wait_for(check, timeout_s, "the model pod to be Ready",
                       lambda: _last_seen(target, namespace, selector), interval_s=0.5)
    except WaitTimeoutError as exc:
        raise AssertionError(str(exc)) from None
    ready = ModelDeployment(deployment["metadata"]["name"], namespace, deployment, pod,
                            time.monotonic() - start)
    if progress is not None:
        progress(f"[model] {ready.name} Ready after {ready.ready_s:.1f} s")
    return ready
