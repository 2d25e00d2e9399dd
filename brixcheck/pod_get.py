"""GET a path on a pod's port, the way the cluster allows.

On a real cluster the test machine often cannot reach pod IPs, so the request goes through the
API server's pod proxy (`/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH`). On the twin pod IPs
are loopback addresses, which the API server refuses to proxy, and reachable directly.
"""

from __future__ import annotations

import httpx
from kubernetes import client

from brixcheck.target import Target

TIMEOUT_S = 10.0


def pod_get(target: Target, pod: client.V1Pod, port: int, path: str) -> str:
    """The body of GET `path` on the pod's `port` (raises on an HTTP or API error)."""
    if target.kind == "twin":
        reply = httpx.get(f"http://{pod.status.pod_ip}:{port}/{path.lstrip('/')}",
                          timeout=TIMEOUT_S)
        reply.raise_for_status()
        return reply.text
    return target.core.connect_get_namespaced_pod_proxy_with_path(
        f"{pod.metadata.name}:{port}", pod.metadata.namespace, path.lstrip("/"),
        _request_timeout=TIMEOUT_S)
