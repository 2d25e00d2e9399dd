"""AIBrix v0.5.0's gateway error contract and strategy routing, as its code defines them.

Every row of the error table (brixcheck.aibrix.v0_5.ERRORS) that needs no rate-limited user is
one case: the request that triggers it, then status, `x-error-*` header and the OpenAI-shaped
body (message, code, param, type from the status). Each registered routing strategy must answer
200 and name, in `target-pod`, a Ready pod of the model. These need AIBrix's gateway plugin, so
the twin reports them NOT-SUPPORTED (docs/twin.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.conformance.model import Capability, Case
from brixcheck.model import ModelDeployment
from brixcheck.target import Target

UNKNOWN_MODEL = "brixcheck-no-such-model"
ERROR_TYPES = {400: "invalid_request_error", 404: "invalid_request_error",
               401: "authentication_error", 429: "rate_limit_error", 503: "overloaded_error"}


@dataclass(frozen=True)
class Trigger:
    """How to provoke one row of the error table: headers and a raw body."""

    headers: dict[str, str]
    body: str
    header_value: str = "true"


def _chat(model: str, **extra: object) -> str:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": 4, **extra})


RANDOM = {"routing-strategy": "random"}
TRIGGERS = {
    "routing-strategy not registered": lambda m: Trigger(
        {"routing-strategy": "brixcheck-no-such-strategy"}, _chat(m), "brixcheck-no-such-strategy"),
    "model missing or unknown": lambda _m: Trigger({}, _chat(UNKNOWN_MODEL), UNKNOWN_MODEL),
    "body not JSON": lambda _m: Trigger(RANDOM, "this is not JSON"),
    "chat without messages": lambda m: Trigger(RANDOM, json.dumps({"model": m})),
    "stream not boolean": lambda m: Trigger(RANDOM, _chat(m, stream="yes")),
    "user not in Redis": lambda m: Trigger({"user": "brixcheck-no-such-user"}, _chat(m)),
}
ROWS = [row for row in aibrix.ERRORS if row.condition in TRIGGERS]
ERROR_CASES = {row.condition: Case(
    id="GatewayError" + "".join(w.capitalize() for w in row.condition.replace("-", " ").split()),
    description=f"{row.condition}: {row.status}, header {row.header}, message "
                f"{row.message!r}.",
    checks="aibrix-v0.5.0 §6",
    remedy="compare with AIBrix v0.5.0's error table; a different answer means another AIBrix "
           "version or a proxy in front of the gateway",
    capabilities=frozenset({Capability.AIBRIX_GATEWAY})) for row in ROWS}
STRATEGY_CASES = [Case(
    id="Strategy" + "".join(w.capitalize() for w in name.split("-")) + "AnswersWithTargetPod",
    description=f"routing-strategy {name} answers 200 with an OpenAI body and a target-pod "
                "header naming a Ready pod of the model.",
    checks="aibrix-v0.5.0 §4, §5",
    remedy="`kubectl -n aibrix-system logs deploy/aibrix-gateway-plugins`; check the model pods "
           "carry model.aibrix.ai/name and model.aibrix.ai/port",
    capabilities=frozenset({Capability.AIBRIX_GATEWAY}))
    for name in aibrix.PLAIN_POOL_STRATEGY_NAMES]


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.case(ERROR_CASES[r.condition]),
                                              id=r.condition) for r in ROWS])
def test_gateway_error(row: aibrix.GatewayError, request: pytest.FixtureRequest):
    gateway_client, model = _deployed(request)
    trigger = TRIGGERS[row.condition](model.name)
    response = gateway_client.post("/v1/chat/completions", content=trigger.body,
                                   headers={"content-type": "application/json",
                                            **trigger.headers})
    assert response.status_code == row.status, f"{response.status_code}: {response.text[:300]}"
    assert response.headers.get(row.header) == trigger.header_value, dict(response.headers)
    error = response.json()["error"]
    expected = row.message.format(model=UNKNOWN_MODEL if "{model}" in row.message else "")
    assert error["message"] == expected, error
    assert (error.get("code"), error.get("param")) == (row.code, row.param), error
    assert error["type"] == ERROR_TYPES.get(row.status, "api_error"), error


def _deployed(request: pytest.FixtureRequest) -> tuple[httpx.Client, ModelDeployment]:
    """The gateway client and model, set up only once the case gate let the test run.

    As arguments these session fixtures would deploy the model before the gate could report a
    case NOT-SUPPORTED, and hold the GPU that the scheduling cases want to see free.
    """
    return request.getfixturevalue("gateway_client"), request.getfixturevalue("model")


def _ready_pods(target: Target, model: ModelDeployment) -> set[str]:
    pods = target.core.list_namespaced_pod(model.namespace, label_selector=model.selector).items
    return {f"{p.status.pod_ip}:{aibrix.DEFAULT_MODEL_PORT}" for p in pods
            if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])}


@pytest.mark.parametrize("strategy", [
    pytest.param(name, marks=pytest.mark.case(case), id=name)
    for name, case in zip(aibrix.PLAIN_POOL_STRATEGY_NAMES, STRATEGY_CASES, strict=True)])
def test_strategy_answers_with_target_pod(strategy: str, target: Target,
                                          request: pytest.FixtureRequest):
    gateway_client, model = _deployed(request)
    response = gateway_client.post("/v1/chat/completions", headers={"routing-strategy": strategy},
                                   content=_chat(model.name))
    assert response.status_code == 200, f"{strategy}: {response.status_code} {response.text[:200]}"
    assert response.json()["object"] == "chat.completion"
    ready = _ready_pods(target, model)
    assert response.headers.get("target-pod") in ready, (
        f"{strategy}: target-pod {response.headers.get('target-pod')!r} is not a Ready pod "
        f"of {model.name} ({sorted(ready)})")
