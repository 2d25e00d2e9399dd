"""Finding and reaching AIBrix's gateway: the Envoy data-plane Service of Gateway aibrix-eg.

Envoy Gateway names that Service with a hash (`envoy-aibrix-system-aibrix-eg-903790dc`), so it is
found by its owner labels. It is reached the way a user on the node would: the LoadBalancer's
address (K3s's ServiceLB gives the node's IP), else the ClusterIP (routable from a K3s node),
else a port-forward to one of its ready Envoy pods through the API server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from kubernetes import client
from kubernetes.stream import portforward

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.kube import label_selector
from brixcheck.errors import BrixcheckError

CONNECT_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class GatewayAddress:
    """Where the gateway answers, and how that address was found."""

    url: str
    how: str


def find_envoy_service(core: client.CoreV1Api) -> client.V1Service:
    """The one Service carrying Envoy Gateway's owner labels for Gateway aibrix-eg."""
    selector = label_selector(aibrix.ENVOY_SERVICE_LABELS)
    services = core.list_service_for_all_namespaces(label_selector=selector).items
    if len(services) != 1:
        raise BrixcheckError(
            f"found {len(services)} Services labelled {selector} (the Envoy data plane of "
            f"Gateway {aibrix.GATEWAY_NAME})",
            f"check `kubectl -n {aibrix.ENVOY_GATEWAY_NAMESPACE} get svc,deploy` and that the "
            f"Gateway {aibrix.GATEWAY_NAME} is Programmed")
    return services[0]


def _http_port(service: client.V1Service) -> client.V1ServicePort:
    ports = service.spec.ports or []
    named = [p for p in ports if p.name in ("http", "http-80")] or ports
    if not named:
        raise BrixcheckError(f"Service {service.metadata.name} has no port",
                             "check the Gateway's listeners")
    return named[0]


def _reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), CONNECT_TIMEOUT_S):
        return True
    return False


def direct_hosts(service: client.V1Service) -> list[tuple[str, str]]:
    """The Service's own hosts, best first, as (host, kind): LoadBalancer ingress, ClusterIP."""
    balancer = service.status.load_balancer if service.status else None
    hosts = [(entry.ip or entry.hostname, "LoadBalancer")
             for entry in (balancer.ingress or [] if balancer else [])
             if entry.ip or entry.hostname]
    cluster_ip = service.spec.cluster_ip
    if cluster_ip and cluster_ip != "None":
        hosts.append((cluster_ip, "ClusterIP"))
    return hosts


def _ready_pod(core: client.CoreV1Api, service: client.V1Service) -> client.V1Pod:
    selector = label_selector(service.spec.selector or {})
    pods = core.list_namespaced_pod(service.metadata.namespace, label_selector=selector).items
    for pod in pods:
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        if conditions.get("Ready") == "True":
            return pod
    raise BrixcheckError(f"no ready Envoy pod behind Service {service.metadata.name}",
                         f"check `kubectl -n {service.metadata.namespace} get pods -l {selector}`")


def _container_port(pod: client.V1Pod, port: client.V1ServicePort) -> int:
    """The pod port a Service port targets (a number, a name, or the same number)."""
    target = port.target_port or port.port
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in pod.spec.containers:
        for declared in container.ports or []:
            if declared.name == target:
                return declared.container_port
    raise BrixcheckError(f"pod {pod.metadata.name} declares no port named {target}",
                         "check the Envoy deployment's container ports")


class PortForward:
    """A local loopback port relayed to one pod's port through the API server."""

    def __init__(self, core: client.CoreV1Api, namespace: str, pod: str, port: int) -> None:
        self._core, self._namespace, self._pod, self._port = core, namespace, pod, port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.local_port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                local, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(local,), daemon=True).start()

    def _relay(self, local: socket.socket) -> None:
        forward = portforward(self._core.connect_get_namespaced_pod_portforward, self._pod,
                              self._namespace, ports=str(self._port))
        remote = forward.socket(self._port)
        remote.setblocking(True)
        pump = threading.Thread(target=_pipe, args=(remote, local), daemon=True)
        pump.start()
        _pipe(local, remote)  # until the client closes its side
        # The API server's stream does not end when the pod's side does: close it ourselves.
        forward.close()
        pump.join(timeout=5)
        local.close()

    def close(self) -> None:
        """Stop accepting; open relays end with their connections."""
        self._closed.set()
        self._listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def gateway_address(core: client.CoreV1Api, port_forward: bool = False) -> Iterator[GatewayAddress]:
    """The first of the Service's addresses that accepts a connection, else a port-forward.

    `port_forward` skips the direct addresses (a laptop outside the cluster's network).
    """
    service = find_envoy_service(core)
    http = _http_port(service)
    for host, kind in [] if port_forward else direct_hosts(service):
        if _reachable(host, http.port):
            yield GatewayAddress(f"http://{host}:{http.port}", f"{kind} {host}:{http.port}")
            return
    pod = _ready_pod(core, service)
    target_port = _container_port(pod, http)
    relay = PortForward(core, service.metadata.namespace, pod.metadata.name, target_port)
    try:
        yield GatewayAddress(f"http://127.0.0.1:{relay.local_port}",
                             f"port-forward to pod {pod.metadata.name}:{target_port}")
    finally:
        relay.close()


def has_model_route(api_client: client.ApiClient | object, model: str) -> bool:
    """True when the HTTPRoute ``aibrix-system/<model>-router`` exists (AIBrix's model-router
    controller creates it; the plugin checks it for every request without a strategy).

    Args:
        api_client: an ApiClient, or a Target (its api_client is used).
        model: the model name.
    """
    api = getattr(api_client, "api_client", api_client)
    try:
        client.CustomObjectsApi(api).get_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", aibrix.SYSTEM_NAMESPACE, "httproutes",
            f"{model}{aibrix.MODEL_ROUTE_SUFFIX}", _request_timeout=10)
    except client.exceptions.ApiException:
        return False
    return True


PROBE_BODY = ('{"model": "%s", "messages": [{"role": "user", "content": "probe"}], '
              '"max_tokens": 1}')


def probe_gateway(url: str, model: str, timeout_s: float = 30.0) -> tuple[bool, str]:
    """Does the gateway route by strategy? A `routing-strategy: random` request must come back
    with a `target-pod` header. Returns (capable, why not).

    Args:
        url: the gateway's base URL.
        model: a deployed model's name.
        timeout_s: bound on the request.
    """
    try:
        reply = httpx.post(f"{url}/v1/chat/completions", content=PROBE_BODY % model,
                           headers={"routing-strategy": "random",
                                    "content-type": "application/json"},
                           timeout=timeout_s, trust_env=False)
    except httpx.HTTPError as exc:
        return False, f"the strategy probe request failed: {exc}"
    if reply.headers.get(aibrix.HEADER_TARGET_POD):
        return True, ""
    return False, (f"a routing-strategy request came back {reply.status_code} without a "
                   f"target-pod header: {reply.text[:120]!r}")


def gateway_implementation(core_apps: client.AppsV1Api) -> str:
    """The image of AIBrix's gateway-plugins Deployment, or '' when it is not there."""
    try:
        deployment = core_apps.read_namespaced_deployment(aibrix.GATEWAY_PLUGINS_SERVICE,
                                                          aibrix.SYSTEM_NAMESPACE,
                                                          _request_timeout=10)
    except client.exceptions.ApiException:
        return ""
    return ", ".join(c.image for c in deployment.spec.template.spec.containers)
