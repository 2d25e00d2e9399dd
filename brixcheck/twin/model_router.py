"""Emulated AIBrix v0.5.0 model-route controller: the controller-manager behaviour the twin runs.

AIBrix's controller manager cannot be built here (its Go module is not served). What the suite
depends on of it is the model-route controller (`pkg/controller/modelrouter`): when a Deployment
labelled `model.aibrix.ai/name` is added, it creates HTTPRoute `<model>-router` in aibrix-system
(five path prefixes, each ANDed with the exact header `model: <model>`, backend the Service named
after the model on port `model.aibrix.ai/port` or 8000, request timeout
AIBRIX_GATEWAY_TIMEOUT_SECONDS), plus a ReferenceGrant in the model's namespace when that is not
aibrix-system; when such a Deployment is deleted it deletes the route, and the grant once no
model Deployment is left in that namespace. Like v0.5.0 it reacts to add and delete only, never
to updates (a label added later gives no route, aibrix-v0.5.0 §8).

Run as the controller-manager pod's program: it serves /healthz and /readyz on the probe address
and watches Deployments until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from brixcheck.aibrix import v0_5 as aibrix

log = logging.getLogger(__name__)
GATEWAY_API = ("gateway.networking.k8s.io", "v1")
GRANT_API = ("gateway.networking.k8s.io", "v1beta1")
TIMEOUT_ENV = "AIBRIX_GATEWAY_TIMEOUT_SECONDS"


def http_route(model: str, namespace: str, port: int, timeout_s: int) -> dict[str, Any]:
    """HTTPRoute `<model>-router` as v0.5.0 creates it."""
    header = {"type": "Exact", "name": aibrix.HEADER_MODEL, "value": model}
    matches = [{"path": {"type": "PathPrefix", "value": prefix}, "headers": [header]}
               for prefix in aibrix.MODEL_ROUTE_PREFIXES]
    return {
        "apiVersion": "/".join(GATEWAY_API), "kind": "HTTPRoute",
        "metadata": {"name": model + aibrix.MODEL_ROUTE_SUFFIX,
                     "namespace": aibrix.SYSTEM_NAMESPACE},
        "spec": {"parentRefs": [{"name": aibrix.GATEWAY_NAME,
                                 "namespace": aibrix.SYSTEM_NAMESPACE}],
                 "rules": [{"matches": matches,
                            "backendRefs": [{"name": model, "namespace": namespace,
                                             "port": port}],
                            "timeouts": {"request": f"{timeout_s}s"}}]},
    }


def grant_name(namespace: str) -> str:
    return f"{aibrix.SYSTEM_NAMESPACE}-reserved-referencegrant-in-{namespace}"


def reference_grant(namespace: str) -> dict[str, Any]:
    """ReferenceGrant letting aibrix-system's HTTPRoutes reach Services in `namespace`."""
    return {
        "apiVersion": "/".join(GRANT_API), "kind": "ReferenceGrant",
        "metadata": {"name": grant_name(namespace), "namespace": namespace},
        "spec": {"from": [{"group": GATEWAY_API[0], "kind": "HTTPRoute",
                           "namespace": aibrix.SYSTEM_NAMESPACE}],
                 "to": [{"group": "", "kind": "Service"}]},
    }


def model_port(labels: dict[str, str]) -> int:
    """`model.aibrix.ai/port`, or 8000 when it is missing or not a number (as v0.5.0)."""
    value = labels.get(aibrix.LABEL_PORT, "")
    return int(value) if value.isdigit() else aibrix.DEFAULT_MODEL_PORT


class ModelRouter:
    """Creates and deletes `<model>-router` on Deployment add and delete events."""

    def __init__(self, api_client: client.ApiClient, timeout_s: int) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.timeout_s = timeout_s

    def added(self, deployment: client.V1Deployment) -> None:
        labels = deployment.metadata.labels or {}
        model = labels.get(aibrix.LABEL_MODEL_NAME)
        if model is None:
            return
        namespace = deployment.metadata.namespace
        route = http_route(model, namespace, model_port(labels), self.timeout_s)
        self._create(GATEWAY_API, aibrix.SYSTEM_NAMESPACE, "httproutes", route)
        if namespace != aibrix.SYSTEM_NAMESPACE:
            self._create(GRANT_API, namespace, "referencegrants", reference_grant(namespace))

    def deleted(self, deployment: client.V1Deployment) -> None:
        labels = deployment.metadata.labels or {}
        model = labels.get(aibrix.LABEL_MODEL_NAME)
        if model is None:
            return
        namespace = deployment.metadata.namespace
        self._delete(GATEWAY_API, aibrix.SYSTEM_NAMESPACE, "httproutes",
                     model + aibrix.MODEL_ROUTE_SUFFIX)
        if namespace == aibrix.SYSTEM_NAMESPACE:
            return
        left = self.apps.list_namespaced_deployment(namespace,
                                                    label_selector=aibrix.LABEL_MODEL_NAME)
        if not left.items:
            self._delete(GRANT_API, namespace, "referencegrants", grant_name(namespace))

    def _create(self, api: tuple[str, str], namespace: str, plural: str,
                body: dict[str, Any]) -> None:
        try:
            self.custom.create_namespaced_custom_object(*api, namespace, plural, body)
            log.info("%s %s/%s created", plural, namespace, body["metadata"]["name"])
        except ApiException as exc:
            if exc.status != 409:
                log.error("creating %s %s failed: %s", plural, body["metadata"]["name"],
                          exc.reason)

    def _delete(self, api: tuple[str, str], namespace: str, plural: str, name: str) -> None:
        try:
            self.custom.delete_namespaced_custom_object(*api, namespace, plural, name)
            log.info("%s %s/%s deleted", plural, namespace, name)
        except ApiException as exc:
            if exc.status != 404:
                log.error("deleting %s %s failed: %s", plural, name, exc.reason)

    def watch_forever(self) -> None:
        """Informer-style: the initial list arrives as ADDED events, then changes."""
        while True:
            try:
                for event in watch.Watch().stream(self.apps.list_deployment_for_all_namespaces):
                    if event["type"] == "ADDED":
                        self.added(event["object"])
                    elif event["type"] == "DELETED":
                        self.deleted(event["object"])
            except Exception:  # a dropped watch is re-listed, as informers do
                log.warning("deployment watch dropped; re-listing", exc_info=True)


async def _serve_probes(host: str, port: int) -> None:
    """/healthz and /readyz answer 200 while the controller runs."""
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, host, port)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m brixcheck.twin.model_router --kubeconfig K --probe-address IP:PORT`."""
    parser = argparse.ArgumentParser(prog="python -m brixcheck.twin.model_router")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--probe-address", required=True, help="host:port of /healthz, /readyz")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    router = ModelRouter(config.new_client_from_config(args.kubeconfig),
                         int(os.environ.get(TIMEOUT_ENV, aibrix.GATEWAY_TIMEOUT_S)))
    threading.Thread(target=router.watch_forever, daemon=True).start()
    host, port = args.probe_address.rsplit(":", 1)
    asyncio.run(_serve_probes(host, int(port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
