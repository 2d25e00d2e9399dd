"""Install, inspect and uninstall the AIBrix stack from its release files.

Phases, each timed: dependency CRDs (Established), dependency objects, core CRDs (Established),
core objects, then every Deployment of the release Available. Objects are applied server-side
(field manager `brixcheck`): a client-side apply cannot carry AIBrix's largest CRD, whose
last-applied annotation would exceed 256 KiB.

Ownership: every object gets the label `brixcheck.io/stack=aibrix-<v>` and the install's run id;
an install record (ConfigMap `brixcheck-aibrix-install` in `default`) says which run installed
it and whether it finished. So a second run applies the same bytes and changes nothing; a run
cut short (Ctrl-C) leaves `installing` behind, which the next install completes and uninstall
removes; an AIBrix install that brixcheck did not make is detected by its controller manager
and never touched, and another version is refused, never upgraded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.kube import (
    RUN_LABEL,
    WaitTimeoutError,
    deployment_ready,
    unrunnable_reason,
    wait_for,
)
from brixcheck.cluster.stack import installed_version
from brixcheck.errors import BrixcheckError
from brixcheck.installer.release import Obj, Release, apply_overlay

FIELD_MANAGER = "brixcheck"
STACK_LABEL = "brixcheck.io/stack"
STACK_VALUE = f"aibrix-{aibrix.VERSION}"
RECORD_NAME = "brixcheck-aibrix-install"
RECORD_NAMESPACE = "default"
CRD_TIMEOUT_S = 60.0
AVAILABLE_TIMEOUT_S = 300.0
CLIENT_SIDE_LIMIT = "262144"

Progress = Callable[[str], None]


class NotSupportedInstallError(BrixcheckError):
    """Another AIBrix version is installed: brixcheck neither uses nor upgrades it."""


@dataclass
class InstallReport:
    """What an install did: per-phase seconds, objects created/changed/unchanged."""

    outcome: str  # installed | completed | unchanged | pre-existing
    version: str
    run_id: str
    phases: dict[str, float] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # Unchanged in what a reader sees, yet stored again by the API server (new resourceVersion).
    restored: list[str] = field(default_factory=list)
    unbacked: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human summary, one line each."""
        rows = [f"  {name:<30} {seconds:7.1f} s" for name, seconds in self.phases.items()]
        total = sum(self.phases.values())
        return [f"AIBrix {self.version}: {self.outcome} (run {self.run_id}); created "
                f"{len(self.created)}, changed {len(self.changed)}, unchanged {self.unchanged}"
                + (f" ({len(self.restored)} stored again without change: "
                   f"{', '.join(self.restored)})" if self.restored else ""),
                *rows, f"  {'total':<30} {total:7.1f} s",
                *(f"  not run by this target: {name}: {why}"
                  for name, why in self.unbacked.items())]


def _name(obj: Obj) -> str:
    meta = obj["metadata"]
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj['kind']} {where}{meta['name']}"


def _content(obj: Obj) -> Obj:
    """What a reader sees of an object, without the bookkeeping every write renews."""
    meta = {k: v for k, v in obj["metadata"].items()
            if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": meta}


def _selector(deployment: Obj) -> str:
    return ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())


def _labelled(obj: Obj, run_id: str) -> Obj:
    labels = {**obj["metadata"].get("labels", {}), STACK_LABEL: STACK_VALUE, RUN_LABEL: run_id}
    return {**obj, "metadata": {**obj["metadata"], "labels": labels}}


class Installer:
    """One cluster's AIBrix install: apply, wait, record, remove."""

    def __init__(self, api_client: client.ApiClient, progress: Progress = print) -> None:
        self.api_client = api_client
        self.dynamic = DynamicClient(api_client)
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.progress = progress

    # --- the install record ----------------------------------------------------------------

    def record(self) -> dict[str, str]:
        """The install record's data ({} when brixcheck never installed here)."""
        try:
            return self.core.read_namespaced_config_map(RECORD_NAME, RECORD_NAMESPACE).data or {}
        except ApiException as exc:
            if exc.status == 404:
                return {}
            raise

    def _write_record(self, data: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": RECORD_NAME, "namespace": RECORD_NAMESPACE,
                             "labels": {STACK_LABEL: STACK_VALUE}}, "data": data}
        self._apply(body)

    # --- install ---------------------------------------------------------------------------

    def install(self, release: Release, run_id: str, small_overlay: Any = None,
                available_timeout_s: float = AVAILABLE_TIMEOUT_S) -> InstallReport:
        """Install the release (idempotent); leave a foreign install untouched."""
        record = self.record()
        version = installed_version(self.apps)
        if version is not None and not record:
            if version != aibrix.VERSION:
                raise NotSupportedInstallError(
                    f"AIBrix {version} is installed and brixcheck checks {aibrix.VERSION} only",
                    "run against a cluster with AIBrix v0.5.0, or uninstall the other version "
                    "yourself (brixcheck never upgrades an install it did not make)")
            self.progress(f"[stack] AIBrix {version} is already installed (not by brixcheck); "
                          "left untouched")
            return InstallReport("pre-existing", version, "")
        run_id = record.get("run_id", run_id)
        outcome = {"installing": "completed", "installed": "unchanged"}.get(
            record.get("state", ""), "installed")
        report = InstallReport(outcome, aibrix.VERSION, run_id)
        self._write_record({"run_id": run_id, "version": aibrix.VERSION, "state": "installing"})
        core = apply_overlay(release.core, small_overlay) if small_overlay else release.core
        for half, objects in (("dependency", release.dependency), ("core", core)):
            crds = [o for o in objects if o["kind"] in ("CustomResourceDefinition", "Namespace")]
            rest = [o for o in objects if o not in crds]
            self._phase(report, f"{half} CRDs", lambda c=crds: self._apply_all(c, report))
            self._phase(report, f"{half} CRDs Established",
                        lambda c=crds: self._wait_established(c))
            self._phase(report, f"{half} objects", lambda r=rest: self._apply_all(r, report))
        deployments = [o for o in [*release.dependency, *core] if o["kind"] == "Deployment"]
        self._phase(report, "Deployments Available",
                    lambda: self._wait_available(deployments, available_timeout_s, report))
        if report.outcome == "unchanged" and (report.created or report.changed):
            report.outcome = "repaired"
        self._write_record({"run_id": run_id, "version": aibrix.VERSION, "state": "installed"})
        return report

    def _phase(self, report: InstallReport, name: str, step: Callable[[], object]) -> None:
        self.progress(f"[stack] {name} ...")
        start = time.monotonic()
        step()
        report.phases[name] = time.monotonic() - start

    def _apply_all(self, objects: list[Obj], report: InstallReport) -> None:
        for obj in objects:
            labelled = _labelled(obj, report.run_id)
            before = self._read(labelled)
            after = self._apply(labelled)
            if before is None:
                report.created.append(_name(obj))
            elif _content(before) != _content(after):
                report.changed.append(_name(obj))
            else:
                report.unchanged += 1
                if before["metadata"]["resourceVersion"] != after["metadata"]["resourceVersion"]:
                    report.restored.append(_name(obj))

    def _resource(self, obj: Obj) -> Any:
        try:
            return self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError:
            raise BrixcheckError(f"{_name(obj)}: the cluster does not serve "
                                 f"{obj['apiVersion']} {obj['kind']}",
                                 "its CRD is missing: install the AIBrix dependency file "
                                 "first (brixcheck stack install does)") from None

    def _read(self, obj: Obj) -> Obj | None:
        meta = obj["metadata"]
        try:
            found = self._resource(obj).get(name=meta["name"], namespace=meta.get("namespace"))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found.to_dict()

    def _apply(self, obj: Obj) -> Obj:
        meta = obj["metadata"]
        try:
            applied = self.dynamic.server_side_apply(
                self._resource(obj), body=obj, name=meta["name"],
                namespace=meta.get("namespace"), field_manager=FIELD_MANAGER)
        except ApiException as exc:
            raise apply_error(obj, exc) from None
        return applied.to_dict()

    # --- waits -----------------------------------------------------------------------------

    def _wait_established(self, objects: list[Obj]) -> None:
        api = client.ApiextensionsV1Api(self.api_client)
        names = [o["metadata"]["name"] for o in objects if o["kind"] == "CustomResourceDefinition"]

        def pending() -> list[str]:
            left = []
            for name in names:
                crd = api.read_custom_resource_definition(name)
                conditions = {c.type: c.status for c in crd.status.conditions or []}
                if conditions.get("Established") != "True":
                    left.append(name)
            return left

        try:
            wait_for(lambda: not pending(), CRD_TIMEOUT_S, "the CRDs to be Established",
                     lambda: ", ".join(pending()))
        except WaitTimeoutError as exc:
            raise BrixcheckError(str(exc), "check `kubectl get crd NAME -o yaml` "
                                 "(status.conditions) and the API server's log") from None
        # New kinds become servable only after discovery is read again.
        self.dynamic = DynamicClient(self.api_client)

    def _wait_available(self, deployments: list[Obj], timeout_s: float,
                        report: InstallReport) -> None:
        """Wait for each Deployment to be ready, except those the target says it cannot run."""
        def unavailable() -> list[Obj]:
            left = []
            for deployment in deployments:
                if _name(deployment) in report.unbacked or self._available(deployment):
                    continue
                why = self._unrunnable(deployment)
                if why:
                    report.unbacked[_name(deployment)] = why
                else:
                    left.append(deployment)
            return left

        try:
            wait_for(lambda: not unavailable(), timeout_s, "every Deployment to be Available",
                     lambda: ", ".join(_name(d) for d in unavailable()), interval_s=0.5)
        except WaitTimeoutError:
            why = "; ".join(f"{_name(d)}: {self.why_unavailable(d)}" for d in unavailable())
            raise BrixcheckError(f"not Available after {timeout_s:.0f} s: {why}",
                                 "fix the cause named for each Deployment (on a small node "
                                 "install with --aibrix-small), then run the install again; "
                                 "it completes what is missing") from None

    def _available(self, deployment: Obj) -> bool:
        meta = deployment["metadata"]
        try:
            found = self.apps.read_namespaced_deployment(meta["name"], meta["namespace"])
        except ApiException:
            return False
        return deployment_ready(found)

    def _unrunnable(self, deployment: Obj) -> str | None:
        meta = deployment["metadata"]
        return unrunnable_reason(self.core, meta["namespace"], _selector(deployment))

    def why_unavailable(self, deployment: Obj) -> str:
        """The first reason a pod of this Deployment is not Ready, as a kubelet would say it."""
        meta = deployment["metadata"]
        pods = self.core.list_namespaced_pod(meta["namespace"],
                                             label_selector=_selector(deployment)).items
        if not pods:
            return "no pod was created (check the ReplicaSet's events and admission webhooks)"
        return pod_reason(self.core, pods[0])

    # --- uninstall and status --------------------------------------------------------------

    def uninstall(self, release: Release) -> list[str]:
        """Delete what brixcheck installed (labelled objects only), newest phase first."""
        removed = []
        for obj in reversed([*release.dependency, *release.core]):
            if obj["kind"] in ("CustomResourceDefinition", "Namespace"):
                continue
            removed += self._delete_if_ours(obj)
        for obj in reversed([*release.dependency, *release.core]):
            if obj["kind"] in ("CustomResourceDefinition", "Namespace"):
                removed += self._delete_if_ours(obj)
        try:
            self.core.delete_namespaced_config_map(RECORD_NAME, RECORD_NAMESPACE)
        except ApiException as exc:
            if exc.status != 404:
                raise
        return removed

    def _delete_if_ours(self, obj: Obj) -> list[str]:
        meta = obj["metadata"]
        try:
            resource = self._resource(obj)
            found = resource.get(name=meta["name"], namespace=meta.get("namespace"))
        except (ApiException, BrixcheckError):
            return []
        if (found.metadata.labels or {}).get(STACK_LABEL) != STACK_VALUE:
            return []
        try:
            resource.delete(name=meta["name"], namespace=meta.get("namespace"),
                            body={"propagationPolicy": "Background"})
        except ApiException as exc:
            if exc.status != 404:
                raise
        return [_name(obj)]

    def status_lines(self, release: Release) -> list[str]:
        """Who installed AIBrix here, its version, and each Deployment's availability."""
        record = self.record()
        version = installed_version(self.apps)
        owner = ("brixcheck, run " + record.get("run_id", "?") + f" ({record.get('state')})"
                 if record else "not brixcheck")
        lines = [f"AIBrix: {version or 'not installed'}"
                 + (f"; installed by {owner}" if version or record else "")]
        for deployment in [o for o in [*release.dependency, *release.core]
                           if o["kind"] == "Deployment"]:
            state = "Available" if self._available(deployment) else \
                f"not Available: {self.why_unavailable(deployment)}"
            lines.append(f"  {_name(deployment)}: {state}")
        return lines


def apply_error(obj: Obj, exc: ApiException) -> BrixcheckError:
    """An apply refusal, naming the object and what to do."""
    body = str(exc.body or exc.reason)
    if CLIENT_SIDE_LIMIT in body or "Too long" in body:
        return BrixcheckError(f"{_name(obj)} was refused: it is too large for a client-side "
                              "apply's last-applied annotation (256 KiB)",
                              "apply AIBrix's files server-side (`kubectl apply --server-side`"
                              " or `kubectl create`), as brixcheck stack install does")
    if exc.status == 409:
        return BrixcheckError(f"{_name(obj)} is managed by another field manager ({body[:200]})",
                              "another tool installed it (K3s bundles Gateway API CRDs): "
                              "check `kubectl get OBJECT -o yaml --show-managed-fields` and "
                              "remove or reconcile the other copy first")
    if exc.status == 403:
        return BrixcheckError(f"{_name(obj)}: the kubeconfig's user may not apply it",
                              "install with a cluster-admin kubeconfig")
    return BrixcheckError(f"{_name(obj)} was refused ({exc.status} {exc.reason}: {body[:300]})",
                          "check the object against the cluster's version, then rerun the "
                          "install")


def pod_reason(core: client.CoreV1Api, pod: client.V1Pod) -> str:
    """Why a pod is not Ready: Pending and why, image pull, crash, no program, failing probe."""
    status = pod.status
    name = pod.metadata.name
    if status.phase == "Pending" and not pod.spec.node_name:
        events = core.list_namespaced_event(
            pod.metadata.namespace, field_selector=f"involvedObject.name={name}").items
        scheduling = [e.message for e in events if e.reason == "FailedScheduling"]
        detail = scheduling[-1] if scheduling else "not scheduled yet"
        return f"pod {name} Pending: {detail} (lower the requests, e.g. --aibrix-small)"
    for container in status.container_statuses or []:
        waiting = container.state.waiting if container.state else None
        if waiting and waiting.reason in ("ImagePullBackOff", "ErrImagePull"):
            return (f"pod {name} cannot pull {container.image}: {waiting.message or ''} "
                    "(check the registry is reachable or pre-import the image)")
        if waiting and waiting.reason == "CrashLoopBackOff":
            return (f"pod {name} crashes (restarts {container.restart_count}): see "
                    f"`kubectl -n {pod.metadata.namespace} logs {name} --previous`")
        if waiting and waiting.reason:
            return f"pod {name} waiting: {waiting.reason} {waiting.message or ''}".strip()
        if not container.ready:
            return (f"pod {name} container {container.name} not ready (readiness probe): see "
                    f"`kubectl -n {pod.metadata.namespace} describe pod {name}`")
    return f"pod {name} is {status.phase}"
