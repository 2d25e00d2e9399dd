"""Kubernetes helpers: ownership labels, apply, bounded waits. Knows nothing of AIBrix.

Everything the suite creates carries `OWNER_LABELS` plus the run id, so cleanup removes exactly
that and never touches what it did not create.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.utils import parse_quantity

OWNER_LABELS = {"app.kubernetes.io/managed-by": "brixcheck"}
RUN_LABEL = "brixcheck.io/run-id"
# Container waiting reason a target writes for a pod it cannot run at all (the twin, for images
# it has no program for); such a pod is never Ready, and reports name it as not backed.
UNRUNNABLE_REASON = "NoProgramOnTwin"
T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str,
             last_seen: Callable[[], str] = lambda: "", interval_s: float = 0.2) -> T:
    """Poll `check` until it returns a truthy value; raise WaitTimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            seen = last_seen()
            raise WaitTimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}"
                              + (f"; last seen: {seen}" if seen else ""))
        time.sleep(interval_s)


def label_selector(labels: dict[str, str]) -> str:
    """A label selector matching every one of `labels`."""
    return ",".join(f"{k}={v}" for k, v in labels.items())


def owned(obj: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Add the ownership labels to a manifest (and to a Deployment's pod template)."""
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    labels.update({**OWNER_LABELS, RUN_LABEL: run_id})
    template = obj.get("spec", {}).get("template")
    if template is not None:
        template.setdefault("metadata", {}).setdefault("labels", {}).update(
            {**OWNER_LABELS, RUN_LABEL: run_id})
    return obj


def create_namespace(core: client.CoreV1Api, name: str, run_id: str) -> None:
    """Create an owned namespace."""
    body = owned({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, run_id)
    core.create_namespace(body)


def delete_namespace(core: client.CoreV1Api, name: str, run_id: str, timeout_s: float) -> None:
    """Delete a namespace only if it carries this run's label; wait until it is gone."""
    try:
        namespace = core.read_namespace(name)
    except ApiException as exc:
        if exc.status == 404:
            return
        raise
    if (namespace.metadata.labels or {}).get(RUN_LABEL) != run_id:
        return
    core.delete_namespace(name)
    wait_gone(core, name, timeout_s)


def wait_gone(core: client.CoreV1Api, name: str, timeout_s: float) -> None:
    """Wait until namespace `name` no longer exists."""

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, timeout_s, f"namespace {name} to be deleted")


def pod_events(core: client.CoreV1Api, namespace: str, pod: str) -> list[str]:
    """The pod's events, oldest first, as 'Reason: message'."""
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}")
    ordered = sorted(events.items, key=lambda e: e.last_timestamp or e.event_time or 0)
    return [f"{e.reason}: {e.message}" for e in ordered]


def deployment_ready(deployment: client.V1Deployment) -> bool:
    """Available and every desired replica ready.

    Available alone is not enough: with `maxUnavailable: 1` (AIBrix's gateway plugins) a
    one-replica Deployment is Available with no pod ready at all.
    """
    conditions = {c.type: c.status for c in deployment.status.conditions or []}
    wanted = deployment.spec.replicas if deployment.spec.replicas is not None else 1
    ready = deployment.status.ready_replicas or 0
    return conditions.get("Available") == "True" and ready >= wanted


def unrunnable_reason(core: client.CoreV1Api, namespace: str, selector: str) -> str | None:
    """The target's message when the pods of `selector` cannot be run there at all, else None."""
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        for status in pod.status.container_statuses or []:
            waiting = status.state.waiting if status.state else None
            if waiting and waiting.reason == UNRUNNABLE_REASON:
                return waiting.message or UNRUNNABLE_REASON
    return None


def quantity(value: object) -> Decimal:
    """A Kubernetes quantity ('500m', '8Gi', 2) as a number of base units."""
    return Decimal(parse_quantity(value))


def container_requests(container: client.V1Container) -> dict[str, Decimal]:
    """Requests of one container; limits stand in where a request is not given (as the API)."""
    resources = container.resources or client.V1ResourceRequirements()
    merged = {**(resources.limits or {}), **(resources.requests or {})}
    return {name: quantity(value) for name, value in merged.items()}


def pod_requests(pod: client.V1Pod) -> dict[str, Decimal]:
    """What the scheduler counts for a pod: sum of containers, or the largest init container."""
    total: dict[str, Decimal] = {}
    for container in pod.spec.containers:
        for name, value in container_requests(container).items():
            total[name] = total.get(name, Decimal(0)) + value
    for container in pod.spec.init_containers or []:
        for name, value in container_requests(container).items():
            total[name] = max(total.get(name, Decimal(0)), value)
    return total
