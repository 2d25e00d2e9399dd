"""Runs on one cluster: a heartbeat on each run's namespace, and what a dead run left behind.

A run renews the `brixcheck.io/heartbeat` annotation (Unix seconds) on its namespace while it
lives. A later run deletes owned namespaces whose heartbeat stopped (their run was killed) and
names, with the command that removes them, owned namespaces it cannot judge (no heartbeat: an
older brixcheck, or `--keep`). GPU holders are told apart the same way: this run, another live
run, a dead run's leftovers, or pods brixcheck did not create.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.cluster.kube import OWNER_LABELS, RUN_LABEL, label_selector

HEARTBEAT = "brixcheck.io/heartbeat"
OWNER = "brixcheck.io/owner"
KEPT = "brixcheck.io/kept"
INTERVAL_S = 10.0
STALE_AFTER_S = 6 * INTERVAL_S  # six missed beats: the run is gone
GPU_RESOURCE = "nvidia.com/gpu"


def _annotations(beat_at: float) -> dict[str, str]:
    return {HEARTBEAT: str(int(beat_at)), OWNER: f"{socket.gethostname()} pid {os.getpid()}"}


class Heartbeat:
    """Renews a namespace's heartbeat every INTERVAL_S in a daemon thread until `stop`."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self.core, self.namespace = core, namespace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{namespace}",
                                        daemon=True)

    def beat(self) -> None:
        """Write the heartbeat now."""
        body = {"metadata": {"annotations": _annotations(time.time())}}
        with contextlib.suppress(ApiException, OSError):  # a missed beat is retried next time
            self.core.patch_namespace(self.namespace, body, _request_timeout=10)

    def start(self) -> Heartbeat:
        """Beat once, then keep beating."""
        self.beat()
        self._thread.start()
        return self

    def stop(self, kept: bool = False) -> None:
        """Stop beating; a kept namespace is marked so no later run deletes it."""
        self._stop.set()
        self._thread.join(timeout=INTERVAL_S)
        if kept:
            with contextlib.suppress(ApiException, OSError):
                self.core.patch_namespace(self.namespace, {"metadata": {"annotations": {
                    KEPT: "true", HEARTBEAT: None}}}, _request_timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.beat()


@dataclass(frozen=True)
class OwnedNamespace:
    """A namespace some brixcheck run created, and what its heartbeat says."""

    name: str
    run_id: str
    state: str  # "alive", "dead" (heartbeat stopped) or "unknown" (no heartbeat: kept or old)


def owned_namespaces(core: client.CoreV1Api, now: float | None = None) -> list[OwnedNamespace]:
    """Every namespace brixcheck created on this cluster, with its run's state."""
    now = time.time() if now is None else now
    found = []
    runs = f"{label_selector(OWNER_LABELS)},{RUN_LABEL}"  # not the twin scenarios' namespace
    for ns in core.list_namespace(label_selector=runs).items:
        notes = ns.metadata.annotations or {}
        beat = notes.get(HEARTBEAT)
        if beat is None or notes.get(KEPT):
            state = "unknown"
        else:
            state = "alive" if now - float(beat) < STALE_AFTER_S else "dead"
        found.append(OwnedNamespace(ns.metadata.name, (ns.metadata.labels or {}).get(
            RUN_LABEL, ""), state))
    return found


def reap_dead_runs(core: client.CoreV1Api, own_run_id: str) -> tuple[list[str], list[str]]:
    """Delete namespaces of dead runs; return (deleted, left because unknown)."""
    deleted, unknown = [], []
    for ns in owned_namespaces(core):
        if ns.run_id == own_run_id or ns.state == "alive":
            continue
        if ns.state == "dead":
            with contextlib.suppress(ApiException):  # already going: fine
                core.delete_namespace(ns.name)
            deleted.append(ns.name)
        else:
            unknown.append(ns.name)
    return deleted, unknown


def gpu_holders(core: client.CoreV1Api, own_run_id: str) -> list[str]:
    """Who holds GPUs, one phrase each: this run, another live run, a dead run, or others."""
    runs = {ns.name: ns for ns in owned_namespaces(core)}
    phrases = []
    for pod in core.list_pod_for_all_namespaces().items:
        gpus = sum(int((c.resources.limits or {}).get(GPU_RESOURCE, "0"))
                   for c in pod.spec.containers if c.resources)
        if not gpus or pod.status.phase in ("Succeeded", "Failed"):
            continue
        where = f"{pod.metadata.namespace}/{pod.metadata.name}"
        run = runs.get(pod.metadata.namespace)
        if run is None:
            phrases.append(f"{where} (not created by brixcheck)")
        elif run.run_id == own_run_id:
            phrases.append(f"{where} (this run)")
        elif run.state == "alive":
            phrases.append(f"{where} (another brixcheck run, still running)")
        else:
            phrases.append(f"{where} (left by brixcheck run {run.run_id}: "
                           f"`kubectl delete namespace {run.name}`)")
    return phrases
