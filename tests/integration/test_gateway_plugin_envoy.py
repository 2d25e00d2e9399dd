"""The gateway-plugin emulator behind the twin's real Envoy with two emulated engines, on loopback
(no cluster: the plugin gets a fixed pod list). What a client sees: target-pod, request-id, the
error table's headers, values and Content-Type, the double-wrapped engine error, streamed usage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.aibrix.v0_5 import PD_KV_TRANSFER_CONFIG
from brixcheck.gateway_plugin.fake_routes import FakeRouteServer
from brixcheck.gateway_plugin.loopback import LoopbackGateway
from brixcheck.twin.envoy import find_envoy
from brixcheck.twin.proc import TwinProcessError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]
MODEL = "gw-model"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackGateway]:
    try:
        find_envoy()
    except TwinProcessError as exc:
        pytest.skip(str(exc))
    started = LoopbackGateway(Path(tmp_path_factory.mktemp("gw")), MODEL,
                              ["127.0.3.1", "127.0.3.2"])
    started.start()
    yield started
    started.stop()


def _chat(gateway: LoopbackGateway, headers: dict[str, str], **body: object) -> httpx.Response:
    document = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 3, **body}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=document, headers=headers,
                      timeout=30, trust_env=False)


def test_random_reaches_both_pods_and_names_them(gateway: LoopbackGateway):
    seen = set()
    for _ in range(30):
        reply = _chat(gateway, {"routing-strategy": "random"})
        assert reply.status_code == 200, reply.text
        assert reply.headers["request-id"]
        seen.add(reply.headers["target-pod"])
    assert seen == gateway.pod_addresses()


def test_invalid_strategy_row(gateway: LoopbackGateway):
    reply = _chat(gateway, {"routing-strategy": "fastest"})
    assert reply.status_code == 400
    assert reply.headers["x-error-invalid-routing-strategy"] == "fastest"
    # v0.5.0 sets Content-Type through HeaderValue.value; Envoy's ext_proc reads raw_value only
    assert reply.headers["content-type"] == ""
    assert reply.json()["error"] == {"code": None, "message": "incorrect routing strategy",
                                     "param": "routing-strategy",
                                     "type": "invalid_request_error"}


def test_stream_not_boolean_row_has_its_text_as_value_and_no_json_content_type(
        gateway: LoopbackGateway):
    reply = _chat(gateway, {"routing-strategy": "random"}, stream="yes")
    assert reply.status_code == 400
    assert reply.headers["x-error-stream"] == "stream incorrectly set"
    assert "content-type" not in reply.headers or reply.headers["content-type"] != \
        "application/json"
    assert reply.json()["error"]["param"] == "stream"


def test_header_less_request_without_route_is_503_x_error_routing(gateway: LoopbackGateway):
    reply = _chat(gateway, {})
    assert reply.status_code == 503
    assert reply.headers["x-error-routing"] == "true"


def test_engine_error_is_wrapped_in_the_plugins_error(gateway: LoopbackGateway):
    reply = _chat(gateway, {"routing-strategy": "random"}, max_tokens=10**7)
    assert reply.status_code == 400, reply.text
    message = reply.json()["error"]["message"]
    engine_body, _, route_problem = message.rpartition(". ")
    assert "too large" in json.loads(engine_body)["error"]["message"]  # the engine's own error
    assert route_problem.startswith("no kubeconfig")  # the HTTPRoute check's error, appended
    assert reply.headers["target-pod"] in gateway.pod_addresses()


def test_streamed_chat_passes_every_chunk_and_ends(gateway: LoopbackGateway):
    document = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 16, "ignore_eos": True, "stream": True,
                "stream_options": {"include_usage": True}}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=document,
                      headers={"routing-strategy": "random"}, timeout=30,
                      trust_env=False) as reply:
        lines = [line for line in reply.iter_lines() if line.startswith("data:")]
    assert reply.status_code == 200
    assert lines[-1] == "data: [DONE]"
    usage = json.loads(lines[-2][5:])["usage"]
    assert usage["completion_tokens"] == 16


def _pd_chat(tmp_path: Path, hosts: list[str],
             engine_args: tuple[str, ...] = ()) -> tuple[httpx.Response, str, int]:
    """One `pd` request through a prefill pod (first host) and a decode pod (second host):
    the reply, the plugin's log and the engines' port."""
    roles = [{"roleset-name": "rs", "role-name": "prefill"},
             {"roleset-name": "rs", "role-name": "decode"}]
    pd = LoopbackGateway(tmp_path, MODEL, hosts, pod_labels=roles,
                         engine_args=engine_args)
    pd.start()
    try:
        return (_chat(pd, {"routing-strategy": "pd"}), (tmp_path / "plugin.log").read_text(),
                pd.engine_port)
    finally:
        pd.stop()


def test_pd_without_a_kv_connector_is_refused_after_the_prefill(tmp_path: Path):
    """v0.5.0's pd needs kv_transfer_params as an object in the prefill answer; an engine with
    no KV connector (vLLM 0.11, the emulator) answers null, and the request gets 503."""
    reply, log, _ = _pd_chat(tmp_path, ["127.0.3.3", "127.0.3.4"])
    assert "start_prefill_request" in log
    assert "prefill_pod=pod-0 decode_pod=pod-1" in log  # prefill and decode told apart by role
    assert reply.status_code == 503, reply.text
    assert reply.headers["x-error-routing"] == "true"
    assert "kv_transfer_params has unexpected type" in log


def test_pd_with_a_kv_connector_answers_with_the_decode_pod(tmp_path: Path):
    """With NixlConnector on both engines the prefill answer carries kv_transfer_params, the
    plugin forwards them with the request, and the decode pod answers."""
    reply, log, engine_port = _pd_chat(tmp_path, ["127.0.3.7", "127.0.3.8"],
                                       ("--kv-transfer-config", PD_KV_TRANSFER_CONFIG))
    assert reply.status_code == 200, reply.text
    assert reply.headers["target-pod"] == f"127.0.3.8:{engine_port}"
    assert "start_prefill_request" in log
    assert "prefill_pod=pod-0 decode_pod=pod-1" in log


def test_header_less_path_reroutes_on_the_model_header_at_five_per_second(tmp_path: Path):
    routes = FakeRouteServer([MODEL])
    gw = LoopbackGateway(tmp_path, MODEL, ["127.0.3.6"],
                         kubeconfig=routes.kubeconfig(tmp_path / "kubeconfig"))
    gw.start()
    try:
        started = time.monotonic()
        codes = [_chat(gw, {}).status_code for _ in range(20)]
        elapsed = time.monotonic() - started
    finally:
        gw.stop()
        routes.close()
    assert codes == [200] * 20, codes  # the plugin's `model` header re-routes to the model
    assert routes.gets == 20  # one HTTPRoute GET per request without a strategy
    # client-go's limiter: 10 at once, then 5 per second: the 20th waits about 2 s
    assert elapsed >= 1.8, f"20 header-less requests in {elapsed:.2f} s"
