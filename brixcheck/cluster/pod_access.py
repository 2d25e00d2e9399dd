"""GET a path on a pod's port, the way the cluster allows.

On a real cluster the test machine often cannot reach pod IPs, so the request goes through the
API server's pod proxy (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH`). A loopback pod IP
(the twin's, also when it is reached with --kubeconfig as a cluster) is refused by that proxy
(400 "address not allowed") and is reachable directly, so it is read directly.
"""

from __future__ import annotations

import ipaddress

import httpx
from kubernetes import client

from brixcheck.cluster.target import Target

TIMEOUT_S = 10.0


def _is_loopback(ip: str | None) -> bool:
    try:
        return ipaddress.ip_address(ip or "").is_loopback
    except ValueError:
        return False


def pod_get(target: Target, pod: client.V1Pod, port: int, path: str) -> str:
    """The body of GET `path` on the pod's `port` (raises on an HTTP or API error)."""
    if target.pod_network_reachable or _is_loopback(pod.status.pod_ip):
        reply = httpx.get(f"http://{pod.status.pod_ip}:{port}/{path.lstrip('/')}",
                          timeout=TIMEOUT_S)
        reply.raise_for_status()
        return reply.text
    return target.core.connect_get_namespaced_pod_proxy_with_path(
        f"{pod.metadata.name}:{port}", pod.metadata.namespace, path.lstrip("/"),
        _request_timeout=TIMEOUT_S)
