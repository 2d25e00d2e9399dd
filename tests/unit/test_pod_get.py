"""pod_get reads a loopback pod directly even in cluster mode (the API server's pod proxy refuses
loopback addresses with 400 "address not allowed")."""

from __future__ import annotations

import http.server
import threading
from types import SimpleNamespace

from brixcheck.cluster.pod_access import pod_get


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"vllm:num_requests_running 0\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _RefusingCore:
    def connect_get_namespaced_pod_proxy_with_path(self, *args: object, **kwargs: object):
        raise AssertionError("a loopback pod must not go through the pod proxy")


def test_loopback_pod_is_read_directly_in_cluster_mode():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = SimpleNamespace(kind="cluster", pod_network_reachable=False,
                                 core=_RefusingCore())
        pod = SimpleNamespace(status=SimpleNamespace(pod_ip="127.0.0.1"),
                              metadata=SimpleNamespace(name="p", namespace="n"))
        text = pod_get(target, pod, server.server_address[1], "metrics")  # type: ignore[arg-type]
    finally:
        server.shutdown()
    assert text.startswith("vllm:num_requests_running")
