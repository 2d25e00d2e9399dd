"""What a scenario changed, kept in the cluster so that `off` undoes exactly that.

Every object a scenario creates carries the ownership labels (`app.kubernetes.io/managed-by=
brixcheck`, `brixcheck.io/run-id=scenario-NAME`) and `brixcheck.io/scenario=NAME`, and is listed
in a ConfigMap `scenario-NAME` in namespace `brixcheck-scenarios`, together with the previous
values of every node label, annotation and status figure it changed. The record is written
after each change, so `off` also undoes a scenario that failed half way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kubernetes import client, utils
from kubernetes.client.rest import ApiException

from brixcheck.cluster.kube import OWNER_LABELS, RUN_LABEL, owned, wait_for

log = logging.getLogger(__name__)

NAMESPACE = "brixcheck-scenarios"
SCENARIO_LABEL = "brixcheck.io/scenario"
GONE_TIMEOUT_S = 120.0
Manifest = dict[str, Any]


@dataclass
class Record:
    """Objects created, in order, and the previous node values to restore."""

    created: list[dict[str, str]] = field(default_factory=list)
    node_metadata: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)
    node_status: dict[str, dict[str, dict[str, str | None]]] = field(default_factory=dict)


def state_name(scenario: str) -> str:
    """The ConfigMap holding a scenario's record."""
    return f"scenario-{scenario}"


def _deleters(api: client.ApiClient) -> dict[str, Callable[[str, str], object]]:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    now = client.V1DeleteOptions(grace_period_seconds=0, propagation_policy="Background")
    return {
        "Namespace": lambda _ns, name: core.delete_namespace(name),
        "Pod": lambda ns, name: core.delete_namespaced_pod(name, ns, body=now),
        "Service": lambda ns, name: core.delete_namespaced_service(name, ns),
        "Event": lambda ns, name: core.delete_namespaced_event(name, ns),
        "Deployment": lambda ns, name: apps.delete_namespaced_deployment(name, ns, body=now),
        "DaemonSet": lambda ns, name: apps.delete_namespaced_daemon_set(name, ns, body=now),
    }


class Recorder:
    """Makes a scenario's changes and records each one before the next."""

    def __init__(self, api: client.ApiClient, scenario: str) -> None:
        self.api = api
        self.core = client.CoreV1Api(api)
        self.scenario = scenario
        self.record = Record()

    @property
    def labels(self) -> dict[str, str]:
        """The labels every created object carries (with the ownership labels)."""
        return {SCENARIO_LABEL: self.scenario}

    @property
    def all_labels(self) -> dict[str, str]:
        """Ownership, run id and scenario labels."""
        return {**OWNER_LABELS, RUN_LABEL: f"scenario-{self.scenario}", **self.labels}

    def create(self, manifest: Manifest) -> Any:
        """Create an object labelled as this scenario's; return the API's object."""
        owned(manifest, f"scenario-{self.scenario}")
        manifest["metadata"]["labels"].update(self.labels)
        template = manifest.get("spec", {}).get("template")
        if template is not None:
            template["metadata"]["labels"].update(self.labels)
        meta = manifest["metadata"]
        created = utils.create_from_dict(self.api, manifest)[0]
        self.record.created.append({"kind": manifest["kind"],
                                    "namespace": meta.get("namespace", ""),
                                    "name": created.metadata.name})
        self.save()
        return created

    def ensure_namespace(self, name: str) -> None:
        """Create the namespace unless it exists (then it is not ours to delete)."""
        try:
            self.core.read_namespace(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def set_node_metadata(self, node: str, kind: str, values: dict[str, str | None]) -> None:
        """Set node labels or annotations (`kind`), remembering the first previous values."""
        current = getattr(self.core.read_node(node).metadata, kind) or {}
        saved = self.record.node_metadata.setdefault(node, {}).setdefault(kind, {})
        for key in values:
            saved.setdefault(key, current.get(key))
        self.save()
        self.core.patch_node(node, {"metadata": {kind: values}})

    def set_node_status(self, node: str, field_name: str, values: dict[str, str]) -> None:
        """Set node status figures (`capacity`, `allocatable`), remembering previous ones."""
        current = getattr(self.core.read_node(node).status, field_name) or {}
        saved = self.record.node_status.setdefault(node, {}).setdefault(field_name, {})
        for key in values:
            saved.setdefault(key, current.get(key))
        self.save()
        self.core.patch_node_status(node, {"status": {field_name: values}})

    def save(self) -> None:
        """Write the record to the scenario's ConfigMap."""
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=state_name(self.scenario), namespace=NAMESPACE,
                                         labels=self.all_labels),
            data={"record": json.dumps(asdict(self.record))})
        try:
            self.core.replace_namespaced_config_map(state_name(self.scenario), NAMESPACE, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespaced_config_map(NAMESPACE, body)


def load(core: client.CoreV1Api, scenario: str) -> Record | None:
    """The scenario's record, or None when it is not on."""
    try:
        config_map = core.read_namespaced_config_map(state_name(scenario), NAMESPACE)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return Record(**json.loads(config_map.data["record"]))


def _restore_nodes(core: client.CoreV1Api, record: Record) -> None:
    for node, kinds in record.node_metadata.items():
        core.patch_node(node, {"metadata": kinds})
    for node, fields in record.node_status.items():
        core.patch_node_status(node, {"status": {k: {n: v for n, v in vals.items() if v}
                                                 for k, vals in fields.items()}})


def _exists(api: client.ApiClient, item: dict[str, str]) -> bool:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    readers: dict[str, Callable[[], object]] = {
        "Namespace": lambda: core.read_namespace(item["name"]),
        "Pod": lambda: core.read_namespaced_pod(item["name"], item["namespace"]),
        "Service": lambda: core.read_namespaced_service(item["name"], item["namespace"]),
        "Event": lambda: core.read_namespaced_event(item["name"], item["namespace"]),
        "Deployment": lambda: apps.read_namespaced_deployment(item["name"], item["namespace"]),
        "DaemonSet": lambda: apps.read_namespaced_daemon_set(item["name"], item["namespace"]),
    }
    try:
        readers[item["kind"]]()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def undo(api: client.ApiClient, scenario: str, record: Record) -> None:
    """Restore node values, delete the created objects (newest first) and wait until they and
    their pods are gone; then drop the record."""
    core = client.CoreV1Api(api)
    _restore_nodes(core, record)
    deleters = _deleters(api)
    for item in reversed(record.created):
        try:
            deleters[item["kind"]](item["namespace"], item["name"])
        except ApiException as exc:
            if exc.status != 404:
                raise
    selector = f"{SCENARIO_LABEL}={scenario}"
    wait_for(lambda: not any(_exists(api, i) for i in record.created)
             and not core.list_pod_for_all_namespaces(label_selector=selector).items,
             GONE_TIMEOUT_S, f"the objects of scenario {scenario} to be deleted")
    core.delete_namespaced_config_map(state_name(scenario), NAMESPACE)
