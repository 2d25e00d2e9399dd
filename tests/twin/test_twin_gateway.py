"""The twin's data plane: Envoy routes header-less requests to a model's ready pods, the real
AIBrix metadata service lists models, and strategy requests reach the gateway-plugin emulator.
"""

from __future__ import annotations

import json

import httpx
import pytest
from kubernetes import client

from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until
from tests.twin.test_twin_pods import MODEL_ARGS, _pod, _ready

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def gateway(twin: TwinLayout) -> str:
    return json.loads((twin.run_dir / "dataplane.json").read_text())["gateway"]


def test_header_less_request_reaches_the_ready_pod(gateway: str, core: client.CoreV1Api,
                                                   namespace: str):
    pod = _pod("gw-model", [*MODEL_ARGS, "--served-model-name", "gw-model"])
    core.create_namespaced_pod(namespace, pod)
    wait_until(lambda: _ready(core, namespace, "gw-model"), 60, "the pod to be Ready")
    body = {"model": "gw-model", "prompt": "hi", "max_tokens": 3, "ignore_eos": True}

    def routed() -> httpx.Response | None:
        reply = httpx.post(f"{gateway}/v1/completions", json=body,
                           headers={"model": "gw-model"})
        return reply if reply.status_code == 200 else None

    reply = wait_until(routed, 30, "Envoy to route to the pod (endpoints follow readiness)")
    assert reply.json()["usage"]["completion_tokens"] == 3
    models = httpx.get(f"{gateway}/v1/models/").json()
    assert "gw-model" in {m["id"] for m in models["data"]}


def test_strategy_requests_reach_the_gateway_plugin(gateway: str):
    reply = httpx.post(f"{gateway}/v1/chat/completions", headers={"routing-strategy": "random"},
                       json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert reply.status_code == 400
    assert reply.headers["x-error-no-model-backends"] == "m"


def test_unknown_path_is_envoy_404(gateway: str):
    assert httpx.get(f"{gateway}/no/such/path").status_code == 404
