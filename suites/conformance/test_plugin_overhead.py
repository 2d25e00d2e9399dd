"""The gateway's own cost: time to first token through the gateway with a routing strategy,
against the same request sent straight to the pod the gateway chose."""

from __future__ import annotations

import json
import socket
import statistics
import time

import httpx
import pytest

from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import ModelDeployment
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case
from brixcheck.conformance.plugin import not_supported

REQUESTS = 20
ADDED_P50_LIMIT_MS = 50.0
SETTLE_TIMEOUT_S = 60.0
OVERHEAD = Case(
    id="GatewayAddsLittleTtft",
    description=f"Over {REQUESTS} streamed requests, the median time to first token through the "
                "gateway (routing-strategy random) exceeds the median straight to the chosen "
                f"pod by at most {ADDED_P50_LIMIT_MS:.0f} ms.",
    checks="aibrix-v0.5.0 §5 (ext_proc on every request and every streamed chunk)",
    remedy="`kubectl -n aibrix-system top pod -l app=gateway-plugins` and the plugin's log: a "
           "saturated or slow gateway plugin delays every request; add replicas or CPU",
    capabilities=frozenset({Capability.AIBRIX_GATEWAY}))


def _ttft_ms(http: httpx.Client, url: str, body: str, headers: dict[str, str]) -> tuple[float,
                                                                                       str]:
    started = time.perf_counter()
    with http.stream("POST", url, content=body, headers=headers) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines():
            if line.startswith("data:"):
                return (time.perf_counter() - started) * 1000, reply.headers.get("target-pod",
                                                                                  "")
    raise AssertionError(f"no SSE event from {url}")


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def _wait_for_no_terminating_pod(target: Target, model: ModelDeployment) -> None:
    """An earlier case may have scaled the model down: compare only with a pod that stays."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        pods = target.core.list_namespaced_pod(model.namespace,
                                               label_selector=model.selector).items
        if not any(p.metadata.deletion_timestamp for p in pods):
            return
        time.sleep(0.5)  # polls the pods' deletion


@pytest.mark.case(OVERHEAD)
def test_gateway_adds_little_ttft(request: pytest.FixtureRequest):
    gateway_client: httpx.Client = request.getfixturevalue("gateway_client")
    model: ModelDeployment = request.getfixturevalue("model")
    body = json.dumps({"model": model.name, "stream": True, "max_tokens": 4,
                       "messages": [{"role": "user", "content": "hi"}]})
    headers = {"routing-strategy": "random", "content-type": "application/json"}
    _wait_for_no_terminating_pod(request.getfixturevalue("target"), model)
    _, pod = _ttft_ms(gateway_client, "/v1/chat/completions", body, headers)
    if not _reachable(pod):
        not_supported(f"the chosen pod {pod} is not reachable from this "
                      "machine, so there is nothing to compare with")
    direct = httpx.Client(base_url=f"http://{pod}", timeout=60, trust_env=False)
    via, straight = [], []
    for _ in range(REQUESTS):
        ms, chosen = _ttft_ms(gateway_client, "/v1/chat/completions", body, headers)
        if chosen == pod:
            via.append(ms)
        straight.append(_ttft_ms(direct, "/v1/chat/completions", body,
                                 {"content-type": "application/json"})[0])
    direct.close()
    assert via, "the gateway never chose the first pod again"
    added = statistics.median(via) - statistics.median(straight)
    request.node.case_details = {"added_ttft_p50_ms": round(added, 2), "via": len(via),
                                 "direct": len(straight)}
    assert added <= ADDED_P50_LIMIT_MS, (
        f"the gateway adds {added:.1f} ms to the median TTFT (limit {ADDED_P50_LIMIT_MS:.0f} ms)")
