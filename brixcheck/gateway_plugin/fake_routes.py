"""A minimal stand-in for the API server's Gateway API endpoint: answers GET of one HTTPRoute
(`aibrix-system/<model>-router`) and 404 for anything else, on loopback. Used where the plugin's
HTTPRoute check must succeed without a cluster (header-less path tests and the ceiling
benchmark); it counts the GETs it served.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

ROUTE_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/aibrix-system/httproutes/"


class FakeRouteServer:
    """Serve `<model>-router` for the given models; write a kubeconfig pointing at it."""

    def __init__(self, models: list[str]) -> None:
        self.routes = {f"{m}-router" for m in models}
        self.gets = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.gets += 1
                name = self.path.split("?")[0].removeprefix(ROUTE_PATH)
                found = self.path.startswith(ROUTE_PATH) and name in owner.routes
                body = json.dumps({"apiVersion": "gateway.networking.k8s.io/v1",
                                   "kind": "HTTPRoute", "metadata": {"name": name}} if found
                                  else {"kind": "Status", "reason": "NotFound", "code": 404})
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig for this server and return its path."""
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
            f"clusters: [{{name: fake, cluster: {{server: 'http://127.0.0.1:"
            f"{self.server.server_address[1]}'}}}}]\n"
            "users: [{name: fake, user: {token: fake}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake}}]\n")
        return path

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
