"""The gateway-plugin emulator in the twin, behind the twin's Envoy: strategy requests come back
with a `target-pod` naming a Ready pod, errors carry v0.5.0's headers and values.
"""

from __future__ import annotations

import json

import httpx
import pytest
from kubernetes import client

from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until
from tests.twin.test_twin_pods import _pod, _ready

pytestmark = [pytest.mark.twin, pytest.mark.timeout(300)]
MODEL = "gp-model"
# Two small engines share the node's one virtual GPU.
ARGS = ["--model", "m", "--served-model-name", MODEL, "--max-model-len", "2048",
        "--gpu-memory-utilization", "0.4"]


@pytest.fixture(scope="module")
def gateway(twin: TwinLayout) -> str:
    return json.loads((twin.run_dir / "dataplane.json").read_text())["gateway"]


def _model_pod(name: str) -> dict:
    pod = _pod(name, ARGS)
    pod["metadata"]["labels"] = {"model.aibrix.ai/name": MODEL, "model.aibrix.ai/port": "8000"}
    del pod["spec"]["containers"][0]["resources"]
    return pod


@pytest.fixture
def two_pods(core: client.CoreV1Api, namespace: str) -> set[str]:
    for name in ("gp-a", "gp-b"):
        core.create_namespaced_pod(namespace, _model_pod(name))
    pods = [wait_until(lambda n=n: _ready(core, namespace, n), 60, f"{n} to be Ready")
            for n in ("gp-a", "gp-b")]
    return {f"{p.status.pod_ip}:8000" for p in pods}


def _chat(gateway: str, strategy: str, **extra: object) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3,
            **extra}
    return httpx.post(f"{gateway}/v1/chat/completions", json=body,
                      headers={"routing-strategy": strategy}, timeout=30)


def test_random_answers_with_a_ready_target_pod(gateway: str, two_pods: set[str]):
    def answered() -> httpx.Response | None:
        reply = _chat(gateway, "random")
        return reply if reply.status_code == 200 else None

    reply = wait_until(answered, 30, "the plugin to see the Ready pods")
    assert reply.headers["target-pod"] in two_pods
    assert reply.headers["request-id"]
    seen = {_chat(gateway, "random").headers["target-pod"] for _ in range(30)}
    assert seen == two_pods, "random over two Ready pods reaches both in 30 requests"


def test_unknown_strategy_is_400_with_the_strategy_as_header_value(gateway: str):
    reply = _chat(gateway, "no-such-strategy")
    assert reply.status_code == 400
    assert reply.headers["x-error-invalid-routing-strategy"] == "no-such-strategy"
    assert reply.json()["error"]["param"] == "routing-strategy"


def test_unknown_model_is_400_naming_the_model(gateway: str):
    reply = httpx.post(f"{gateway}/v1/chat/completions", timeout=30,
                       json={"model": "nope", "messages": [{"role": "user", "content": "x"}]},
                       headers={"routing-strategy": "random"})
    assert reply.status_code == 400
    assert reply.headers["x-error-no-model-backends"] == "nope"
    assert reply.headers["content-type"] == "application/json"
    assert reply.json()["error"]["code"] == "model_not_found"


def test_stream_not_boolean_header_value_is_v050s_text(gateway: str, two_pods: set[str]):
    wait_until(lambda: _chat(gateway, "random").status_code == 200, 30, "routing")
    reply = _chat(gateway, "random", stream="yes")
    assert reply.status_code == 400
    assert reply.headers["x-error-stream"] == "stream incorrectly set"
