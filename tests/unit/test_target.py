"""The probe decides what a target is from the cluster itself: the twin's marker makes it the
twin (its lacks as NOT-SUPPORTED reasons, pods read directly, static routes, the addresses it
announces); any other cluster is assumed to have everything a real K3s node has.

The API server is a stand-in on loopback that answers the four reads the probe makes.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from brixcheck.cluster.capability import Capability
from brixcheck.cluster.target import TWIN_LACKS, TargetKind, connect

MARKER = {"timeFactor": "0.1", "gateway": "http://127.0.0.1:10080", "engine": "emulator",
          "metadata": "http://127.0.0.1:10090", "gatewayPlugin": "emulator"}
NODE = {"metadata": {"name": "n0", "labels": {"nvidia.com/gpu.product": "RTX-4060"}},
        "status": {"allocatable": {"nvidia.com/gpu": "1"},
                   "nodeInfo": {**dict.fromkeys(
                       ["architecture", "bootID", "containerRuntimeVersion", "kernelVersion",
                        "kubeProxyVersion", "machineID", "operatingSystem", "osImage",
                        "systemUUID"], "x"), "kubeletVersion": "v1.31.14+k3s1"}}}


def _fake_api(marker: dict[str, str] | None) -> type[http.server.BaseHTTPRequestHandler]:
    """Answers /version, the node list and the marker; everything else is 404."""
    answers: dict[str, object] = {
        "/version": {"major": "1", "minor": "31", "gitVersion": "v1.31.14", "gitCommit": "c",
                     "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                     "goVersion": "go1.23", "compiler": "gc", "platform": "linux/amd64"},
        "/api/v1/nodes": {"kind": "NodeList", "apiVersion": "v1", "items": [NODE]},
    }
    if marker is not None:
        answers["/api/v1/namespaces/kube-public/configmaps/brixcheck-twin"] = {
            "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "brixcheck-twin"},
            "data": marker}

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = answers.get(self.path.split("?")[0].rstrip("/"))
            status = 200 if body is not None else 404
            data = json.dumps(body if body is not None else
                              {"kind": "Status", "code": 404, "reason": "NotFound"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Api


@pytest.fixture(params=[MARKER, None], ids=["twin", "cluster"])
def kubeconfig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _fake_api(request.param))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u}}]\n")
    yield path
    server.shutdown()


def test_target_kind_and_facts_come_from_the_cluster(kubeconfig: Path):
    target = connect(kubeconfig, time_scale=1.0)
    twin = target.twin == MARKER
    assert target.kind is (TargetKind.TWIN if twin else TargetKind.CLUSTER)
    assert target.environment["target"] == ("twin" if twin else "cluster")
    assert target.pod_network_reachable is twin
    assert target.static_routes is twin
    assert target.announced_gateway == ("http://127.0.0.1:10080" if twin else "")
    assert target.announced_metadata == ("http://127.0.0.1:10090" if twin else "")
    assert target.announced_engine == ("emulator" if twin else "")
    assert target.time_scale == (0.1 if twin else 1.0)
    assert Capability.GPU_NODES in target.capabilities


def test_target_missing_capabilities_say_why(kubeconfig: Path):
    target = connect(kubeconfig)
    lacking = set(TWIN_LACKS) - target.capabilities
    if target.kind is TargetKind.CLUSTER:
        assert lacking == set()
        assert target.describe_missing([Capability.AIBRIX_GATEWAY]) == \
            "not detected on this cluster"
    else:
        assert lacking == set(TWIN_LACKS)  # AIBrix is not installed on this stand-in
        assert target.describe_missing([Capability.NVML]) == TWIN_LACKS[Capability.NVML]
