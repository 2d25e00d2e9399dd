"""The plugin core's four phases against v0.5.0's error table: status, x-error-* header name and
value, body, Content-Type; response headers; usage and TPM; engine-error double wrapping."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from envoy.config.core.v3.base_pb2 import HeaderMap, HeaderValue
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from brixcheck.gateway_plugin import responses as r
from brixcheck.gateway_plugin.phases import Request
from brixcheck.gateway_plugin.ratelimit import LimitRefusedError, User, _refused
from brixcheck.gateway_plugin.server import Plugin
from brixcheck.gateway_plugin.state import GatewayCache
from tests.unit.gateway_plugin.conftest import make_pod


class FakeLimits:
    def __init__(self, users: dict[str, User], refuse: LimitRefusedError | None = None) -> None:
        self.users, self.refuse, self.tokens = users, refuse, 0

    async def get_user(self, name: str) -> User:
        if name not in self.users:
            raise _refused(500, r.ERROR_USER, "redis: nil")
        return self.users[name]

    async def check_limits(self, user: User) -> int:
        if self.refuse:
            raise self.refuse
        return 1

    async def incr(self, name: str, amount: int) -> int:
        self.tokens += amount
        return self.tokens


class FakeRoutes:
    def __init__(self, problem: str = "") -> None:
        self.text, self.lookups = problem, 0

    async def problem(self, model: str) -> str:
        self.lookups += 1
        return self.text


def _plugin(limits: Any = None, routes: Any = None, pods: Any = None) -> Plugin:
    cache = GatewayCache()
    cache.set_pods(pods if pods is not None else [make_pod("pod-1"), make_pod("pod-2")])
    return Plugin(cache, limits or FakeLimits({}), routes or FakeRoutes(), ("", False))


def _headers(**items: str) -> pb.HttpHeaders:
    values = [HeaderValue(key=k.replace("_", "-") if not k.startswith("p_") else ":path",
                          raw_value=v.encode()) for k, v in items.items()]
    return pb.HttpHeaders(headers=HeaderMap(headers=values))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _immediate(answer: pb.ProcessingResponse) -> tuple[int, dict[str, str], dict]:
    assert answer.HasField("immediate_response"), answer
    im = answer.immediate_response
    found = {h.header.key: (h.header.raw_value.decode() or h.header.value)
             for h in im.headers.set_headers}
    return im.status.code, found, json.loads(im.body)


def _through_body(plugin: Plugin, body: dict | bytes, path: str = "/v1/chat/completions",
                  **hdrs: str) -> tuple[Request, pb.ProcessingResponse]:
    request = Request(plugin)
    first = _run(request.request_headers(_headers(p_path=path, **hdrs)))
    if first.HasField("immediate_response"):
        return request, first
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return request, _run(request.request_body(pb.HttpBody(body=raw, end_of_stream=True)))


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_strategy_request_gets_target_pod_of_a_ready_pod_and_the_body_back():
    request, answer = _through_body(_plugin(), CHAT, routing_strategy="random")
    mutation = answer.request_body.response
    set_headers = {h.header.key: h.header.raw_value.decode()
                   for h in mutation.header_mutation.set_headers}
    assert set_headers["target-pod"] in {"10.0.0.1:8000", "10.0.0.2:8000"}
    assert set_headers["routing-strategy"] == "random"
    assert set_headers["X-Request-Id"] == request.request_id
    assert json.loads(mutation.body_mutation.body) == CHAT


@pytest.mark.parametrize(("body", "strategy", "status", "header", "value", "json_type"), [
    (CHAT, "fastest", 400, "x-error-invalid-routing-strategy", "fastest", True),
    ({**CHAT, "model": "other"}, "random", 400, "x-error-no-model-backends", "other", True),
    (b"not json", "random", 400, "x-error-request-body-processing", "true", False),
    ({"model": "m", "messages": []}, "random", 400, "x-error-request-body-processing", "true",
     False),
    ({**CHAT, "stream": "yes"}, "random", 400, "x-error-stream", "stream incorrectly set",
     False),
])
def test_error_rows_carry_v050s_header_name_value_and_content_type(
        body, strategy, status, header, value, json_type):
    _, answer = _through_body(_plugin(), body, routing_strategy=strategy)
    code, found, error = _immediate(answer)
    assert (code, found[header]) == (status, value)
    assert ("Content-Type" in found) is json_type
    assert error["error"]["message"]


def test_known_model_without_a_routable_pod_is_503_no_model_backends_true():
    pods = [dataclasses.replace(make_pod("pod-1"), ready=False)]
    _, answer = _through_body(_plugin(pods=pods), CHAT, routing_strategy="random")
    code, found, error = _immediate(answer)
    assert (code, found["x-error-no-model-backends"]) == (503, "true")
    assert error["error"] == {"code": "service_unavailable", "message":
                              "error on getting pods for model m", "param": None,
                              "type": "overloaded_error"}


def test_unknown_user_is_500_x_error_user_redis_nil():
    _, answer = _through_body(_plugin(), CHAT, routing_strategy="random", user="ghost")
    code, found, error = _immediate(answer)
    assert (code, found["x-error-user"], error["error"]["message"]) == (500, "true",
                                                                        "redis: nil")


def test_streamed_chat_of_a_tpm_user_needs_include_usage():
    limits = FakeLimits({"u": User("u", 10, 100)})
    _, answer = _through_body(_plugin(limits), {**CHAT, "stream": True},
                              routing_strategy="random", user="u")
    code, found, _ = _immediate(answer)
    assert (code, found["x-error-no-stream-options-include-usage"]) == (
        400, "include usage for stream options not set")


def test_header_less_request_checks_the_httproute_and_sets_the_model_header():
    routes = FakeRoutes()
    _, answer = _through_body(_plugin(routes=routes), CHAT)
    set_headers = {h.header.key: h.header.raw_value.decode()
                   for h in answer.request_body.response.header_mutation.set_headers}
    assert set_headers == {"model": "m"}
    assert routes.lookups == 1


def test_header_less_request_without_a_route_is_503_x_error_routing():
    missing = 'httproutes.gateway.networking.k8s.io "m-router" not found'
    _, answer = _through_body(_plugin(routes=FakeRoutes(missing)), CHAT)
    code, found, error = _immediate(answer)
    assert (code, found["x-error-routing"], error["error"]["message"]) == (503, "true", missing)
    assert "Content-Type" not in found


def test_response_headers_add_request_id_and_target_pod():
    request, _ = _through_body(_plugin(), CHAT, routing_strategy="random")
    answer = _run(request.response_headers(_headers(**{":status": "200"})))
    found = {h.header.key: h.header.raw_value.decode()
             for h in answer.response_headers.response.header_mutation.set_headers}
    assert found["request-id"] == request.request_id
    assert found["target-pod"] == request.ctx.target.address


def test_engine_error_body_is_wrapped_again_with_the_route_problem_appended():
    routes = FakeRoutes("no route")
    request, _ = _through_body(_plugin(routes=routes), CHAT, routing_strategy="random")
    _run(request.response_headers(_headers(**{":status": "400"})))
    engine = b'{"object":"error","message":"bad","code":400}'
    answer = _run(request.response_body(pb.HttpBody(body=engine, end_of_stream=True)))
    code, found, error = _immediate(answer)
    assert code == 400
    assert error["error"]["message"] == engine.decode() + ". no route"
    assert found["target-pod"] == request.ctx.target.address


def test_streamed_usage_counts_tpm_and_reports_headers():
    limits = FakeLimits({"u": User("u", 10, 1000)})
    plugin = _plugin(limits)
    request, _ = _through_body(plugin, {**CHAT, "stream": True,
                                        "stream_options": {"include_usage": True}},
                               routing_strategy="random", user="u")
    _run(request.response_headers(_headers(**{":status": "200"})))
    chunk = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
    assert _run(request.response_body(pb.HttpBody(body=chunk))) is r.EMPTY_BODY_RESPONSE
    last = (b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,'
            b'"total_tokens":5}}\n\ndata: [DONE]\n\n')
    answer = _run(request.response_body(pb.HttpBody(body=last)))
    found = {h.header.key: h.header.raw_value.decode()
             for h in answer.response_body.response.header_mutation.set_headers}
    assert found["x-update-tpm"] == "5"
    assert found["x-update-rpm"] == "1"
    assert limits.tokens == 5


def test_streamed_completions_are_parsed_as_one_json_at_the_end():
    """v0.5.0 known issue completions-stream: stream on /v1/completions is not seen as one."""
    request, _ = _through_body(_plugin(), {"model": "m", "prompt": "x", "stream": True},
                               "/v1/completions", routing_strategy="random")
    _run(request.response_headers(_headers(**{":status": "200"})))
    answer = _run(request.response_body(pb.HttpBody(body=b'data: {"a":1}\n\n',
                                                    end_of_stream=True)))
    code, found, error = _immediate(answer)
    assert (code, found["x-error-response-unmarshal"]) == (500, "true")
    assert error["error"]["message"] == "invalid character 'd' looking for beginning of value"


def test_rate_limit_refusal_is_returned_as_is():
    refusal = _refused(429, r.ERROR_RPM_EXCEEDED, "user: u has exceeded RPM: 1",
                       r.CODE_RATE_LIMIT)
    limits = FakeLimits({"u": User("u", 1, 0)}, refusal)
    _, answer = _through_body(_plugin(limits), CHAT, routing_strategy="random", user="u")
    code, found, error = _immediate(answer)
    assert (code, found["x-error-rpm-exceeded"]) == (429, "true")
    assert error["error"]["type"] == "rate_limit_error"
