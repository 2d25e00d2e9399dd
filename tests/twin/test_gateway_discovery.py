"""Gateway discovery against the twin's real API server, as on a user's K3s box.

The twin has no Envoy Gateway, so the test creates what Envoy Gateway would (a LoadBalancer
Service carrying its owner labels, in envoy-gateway-system) in front of the twin's own Envoy,
sets the LoadBalancer address K3s's ServiceLB would, and checks that discovery finds the
Service by its labels (not its hashed name) and that the address it returns answers. For the
port-forward path, a stand-in Envoy pod behind the Service gets a kwok PortForward to the twin's
Envoy, so the port-forward goes through the real API server and kwok's kubelet endpoint.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.gateway import find_envoy_service, gateway_address
from brixcheck.cluster.kube import create_namespace, delete_namespace, owned
from brixcheck.errors import BrixcheckError
from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(120)]
RUN_ID = f"gw-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def envoy_namespace(core: client.CoreV1Api) -> Iterator[str]:
    """envoy-gateway-system, created (and later removed) only when the twin lacks it."""
    name = aibrix.ENVOY_GATEWAY_NAMESPACE
    try:
        core.read_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
        create_namespace(core, name, RUN_ID)
    yield name
    delete_namespace(core, name, RUN_ID, timeout_s=60)


def _envoy_service(namespace: str, port: int) -> dict:
    return owned({"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": f"envoy-aibrix-system-aibrix-eg-{uuid.uuid4().hex[:8]}", "namespace": namespace,
        "labels": dict(aibrix.ENVOY_SERVICE_LABELS)},
        "spec": {"type": "LoadBalancer", "selector": {"app": "envoy-probe"},
                 "ports": [{"name": "http-80", "port": port, "targetPort": port}]}}, RUN_ID)


def _envoy_pod(namespace: str, port: int) -> dict:
    return owned({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "envoy-probe", "namespace": namespace, "labels": {"app": "envoy-probe"}},
        "spec": {"tolerations": [{"operator": "Exists"}],
                 "containers": [{"name": "envoy", "image": "envoyproxy/envoy:v1.33.2",
                                 "ports": [{"containerPort": port}]}]}}, RUN_ID)


def _forward_to(custom: client.CustomObjectsApi, namespace: str, host: str, port: int) -> None:
    """kwok's PortForward: a port-forward to the pod reaches host:port (the twin's Envoy)."""
    custom.create_namespaced_custom_object("kwok.x-k8s.io", "v1alpha1", namespace, "portforwards", {
        "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
        "metadata": {"name": "envoy-probe", "namespace": namespace},
        "spec": {"forwards": [{"ports": [port], "target": {"port": port, "address": host}}]}})


def _ready(core: client.CoreV1Api, namespace: str) -> bool:
    pod = core.read_namespaced_pod("envoy-probe", namespace)
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def test_no_gateway_service_is_one_sentence(core: client.CoreV1Api, twin: TwinLayout):
    with pytest.raises(BrixcheckError, match=r"found 0 Services labelled .*owning-gateway-name"):
        find_envoy_service(core)


def test_gateway_is_found_by_owner_labels_and_answers(core: client.CoreV1Api, twin: TwinLayout,
                                                     envoy_namespace: str):
    gateway = urlsplit(json.loads((twin.run_dir / "dataplane.json").read_text())["gateway"])
    service = _envoy_service(envoy_namespace, gateway.port)
    name = service["metadata"]["name"]
    core.create_namespaced_service(envoy_namespace, service)
    try:
        core.patch_namespaced_service_status(name, envoy_namespace, {"status": {
            "loadBalancer": {"ingress": [{"ip": gateway.hostname}]}}})
        assert find_envoy_service(core).metadata.name == name
        with gateway_address(core) as address:
            assert address.how == f"LoadBalancer {gateway.hostname}:{gateway.port}"
            # Envoy's route to AIBrix's metadata service (/v1/models/ works at v0.5.0).
            response = httpx.get(f"{address.url}/v1/models/", timeout=5)
        assert response.status_code == 200
        assert response.json()["object"] == "list"
    finally:
        core.delete_namespaced_service(name, envoy_namespace)


def test_port_forward_reaches_a_ready_envoy_pod(core: client.CoreV1Api, twin: TwinLayout,
                                               envoy_namespace: str):
    gateway = urlsplit(json.loads((twin.run_dir / "dataplane.json").read_text())["gateway"])
    service = _envoy_service(envoy_namespace, gateway.port)
    core.create_namespaced_service(envoy_namespace, service)
    core.create_namespaced_pod(envoy_namespace, _envoy_pod(envoy_namespace, gateway.port))
    try:
        _forward_to(client.CustomObjectsApi(core.api_client), envoy_namespace, gateway.hostname,
                    gateway.port)
        wait_until(lambda: _ready(core, envoy_namespace), 30, "the Envoy pod to be Ready")
        with gateway_address(core, port_forward=True) as address:
            assert address.how == f"port-forward to pod envoy-probe:{gateway.port}"
            response = httpx.get(f"{address.url}/v1/models/", timeout=10)
        assert response.status_code == 200
        assert response.json()["object"] == "list"
    finally:
        core.delete_namespaced_service(service["metadata"]["name"], envoy_namespace)
        core.delete_namespaced_pod("envoy-probe", envoy_namespace, grace_period_seconds=0)
        client.CustomObjectsApi(core.api_client).delete_namespaced_custom_object(
            "kwok.x-k8s.io", "v1alpha1", envoy_namespace, "portforwards", "envoy-probe")
