"""pd (prefill POST by the gateway, decode pod returned) and the slo* family (least-request
without GPU-optimizer profiles; pending-load backends with them)."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from brixcheck.gateway_plugin.algorithms import select_pod
from brixcheck.gateway_plugin.algorithms.pd import PDRouter
from brixcheck.gateway_plugin.algorithms.slo import SLORouter
from brixcheck.gateway_plugin.state import GatewayCache
from brixcheck.gateway_plugin.types import RoutingError
from tests.unit.gateway_plugin.conftest import MODEL, make_ctx, make_pod, occupy

BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                   "stream": True, "stream_options": {"include_usage": True}}).encode()


def _pd_pods():
    return [make_pod(f"pd-{role[0]}{i}", ip=f"10.1.{i}.{n}", **{"roleset-name": f"rs{i}",
                                                                "role-name": role})
            for i in range(2) for n, role in enumerate(("prefill", "decode"))]


class FakeEngine:
    def __init__(self, status=200, answer=None):
        self.status, self.answer, self.calls = status, answer or {"id": "x"}, []

    def __call__(self, url, body, headers, timeout_s):
        self.calls.append((url, json.loads(body), dict(headers), timeout_s))
        return self.status, json.dumps(self.answer).encode()


def _pd(cache, engine):
    pods = _pd_pods()
    cache.set_pods(pods)
    return PDRouter(cache, post=engine), pods


def test_pd_posts_the_prefill_itself_and_returns_a_decode_pod():
    engine = FakeEngine(answer={"kv_transfer_params": {"remote_engine_id": "e1"}})
    router, pods = _pd(GatewayCache(), engine)
    ctx = make_ctx(req_body=BODY, req_path="/v1/chat/completions",
                   req_headers={"authorization": "Bearer k"})
    decode = router.route(ctx, pods)
    assert decode.labels["role-name"] == "decode"
    (url, sent, headers, timeout_s), = engine.calls
    prefill_ip = url.split("//")[1].split(":")[0]
    prefill = next(p for p in pods if p.ip == prefill_ip)
    assert prefill.labels["role-name"] == "prefill"
    assert prefill.labels["roleset-name"] == decode.labels["roleset-name"]
    assert url.endswith(":8000/v1/chat/completions")
    assert timeout_s == 30.0
    assert (sent["max_tokens"], sent["stream"], "stream_options" in sent) == (1, False, False)
    assert sent["kv_transfer_params"]["do_remote_decode"] is True
    assert headers["X-Request-Id"] == "r1"
    assert headers["authorization"] == "Bearer k"
    forwarded = json.loads(ctx.req_body)
    assert forwarded["kv_transfer_params"] == {"remote_engine_id": "e1", "remote_host": prefill_ip}
    assert forwarded["stream"] is True  # the decode request is the user's, unchanged otherwise


def test_pd_prefers_the_idle_decode_pod():
    cache = GatewayCache()
    router, pods = _pd(cache, FakeEngine())
    decodes = [p for p in pods if p.labels["role-name"] == "decode"]
    occupy(cache, decodes[0], 3)
    occupy(cache, decodes[1], 1)
    chosen = {router.route(make_ctx(req_body=BODY, request_id=f"r{i}"), pods).name
              for i in range(10)}
    assert chosen == {decodes[1].name}


def test_pd_without_prefill_and_decode_pods_is_a_routing_error(cache, pods):
    with pytest.raises(RoutingError, match="prefill or decode pods are not ready"):
        select_pod("pd", make_ctx(req_body=BODY), pods, cache)


def test_pd_failed_prefill_is_a_routing_error():
    router, pods = _pd(GatewayCache(), FakeEngine(status=500))
    with pytest.raises(RoutingError, match="status 500"):
        router.route(make_ctx(req_body=BODY), pods)
    assert router.prefills.counts(pods) == dict.fromkeys((p.name for p in pods), 0)


@pytest.mark.parametrize("name", ["slo", "slo-pack-load", "slo-least-load",
                                  "slo-least-load-pulling"])
def test_slo_without_profiles_is_least_request(name, cache, pods, caplog):
    occupy(cache, pods[0], 4)
    occupy(cache, pods[2], 2)
    with caplog.at_level(logging.WARNING, logger="brixcheck.gateway_plugin"):
        chosen = Counter(select_pod(name, make_ctx(), pods, cache).name for _ in range(20))
    assert chosen == {"pod-1": 20}
    assert "found no profile available for model m" in caplog.text


PROFILE = {"gpu": "llm", "indexes": [[1, 64], [1, 4096]], "tputs": [[4, 4], [4, 4]],
           "e2e": [[0.5, 0.5], [0.5, 0.5]], "slos": {"e2e": 5}, "created": 1}  # 0.5 each


def _slo_setup():
    pods = [make_pod(f"llm-5d8f-{i}") for i in range(3)]  # Deployment "llm"
    cache = GatewayCache()
    cache.set_pods(pods)
    cache.set_model_profile(MODEL, PROFILE)
    return cache, pods


def _load(cache, pod, load):
    ctx = make_ctx()
    ctx.target, ctx.pending_load = pod, load
    cache.add_request_count(ctx)


def test_slo_backends_differ_on_pending_load():
    cache, pods = _slo_setup()
    _load(cache, pods[0], 0.25)
    _load(cache, pods[1], 0.5)
    assert SLORouter(cache, "pull").route(make_ctx(), pods) is pods[2]
    assert SLORouter(cache, "push").route(make_ctx(), pods) is pods[2]
    assert SLORouter(cache, "pack").route(make_ctx(), pods) is pods[1]  # fullest within cap
    ctx = make_ctx()
    SLORouter(cache, "pack").route(ctx, pods)
    assert ctx.pending_load == pytest.approx(0.5)  # 1 / (4 rps x 0.5 s)


def test_slo_at_capacity_is_a_routing_error_except_in_push_mode():
    cache, pods = _slo_setup()
    for pod in pods:
        _load(cache, pod, 0.75)
    with pytest.raises(RoutingError, match="capacity"):
        SLORouter(cache, "pull").route(make_ctx(), pods)
    assert SLORouter(cache, "push").route(make_ctx(), pods) in pods
