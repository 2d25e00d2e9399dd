"""AIBrix v0.5.0's gateway error contract and strategy routing, as its code defines them.

Every row of the error table (brixcheck.aibrix.v0_5.ERRORS) is one case: the request that
triggers it, then status, `x-error-*` header name AND value and the OpenAI-shaped body
(message, code, param, type from the status); the Content-Type of error answers is its own case
(a known v0.5.0 issue: it arrives empty). RPM and TPM rows use a user created through the
metadata service and deleted afterwards. Each registered strategy that serves a plain pod pool
must answer 200 and name, in `target-pod`, a Ready pod of the model, on two or more Ready pods:
with one, v0.5.0 returns that pod without calling the router (gateway.go), so the case would
prove nothing and says NOT-SUPPORTED instead. Requests without a strategy pay v0.5.0's HTTPRoute
lookup, limited by client-go to 5 QPS (burst 10): a known v0.5.0 issue, measured here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import ModelDeployment
from brixcheck.cluster.gateway import has_model_route
from brixcheck.cluster.pod_access import pod_get
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case
from brixcheck.conformance.metadata import MetadataUsers, metadata_users
from brixcheck.conformance.plugin import not_supported

UNKNOWN_MODEL = "brixcheck-no-such-model"
ERROR_TYPES = {400: "invalid_request_error", 404: "invalid_request_error",
               401: "authentication_error", 429: "rate_limit_error", 503: "overloaded_error"}
STRATEGY_POOL = 2
POOL_READY_TIMEOUT_S = 300.0
PLUGIN_SEES_S = 30.0
HEADER_LESS_REQUESTS = 40
HEADER_LESS_GOAL_RPS = 20.0
GATEWAY = frozenset({Capability.AIBRIX_GATEWAY})


@dataclass(frozen=True)
class Trigger:
    """How to provoke one row of the error table: headers, a raw body, the fill-ins."""

    headers: dict[str, str]
    body: str
    fill: dict[str, str]


def _chat(model: str, **extra: object) -> str:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}],
                       "max_tokens": 4, **extra})


RANDOM = {"routing-strategy": "random"}
BAD_STRATEGY = "brixcheck-no-such-strategy"
TRIGGERS: dict[str, Callable[[str], Trigger]] = {
    "routing-strategy not registered": lambda m: Trigger(
        {"routing-strategy": BAD_STRATEGY}, _chat(m), {"strategy": BAD_STRATEGY}),
    "model missing or unknown": lambda _m: Trigger({}, _chat(UNKNOWN_MODEL),
                                                   {"model": UNKNOWN_MODEL}),
    "body not JSON": lambda _m: Trigger(RANDOM, "this is not JSON", {}),
    "chat without messages": lambda m: Trigger(RANDOM, json.dumps({"model": m}), {}),
    "stream not boolean": lambda m: Trigger(RANDOM, _chat(m, stream="yes"), {}),
    "user not in Redis": lambda m: Trigger({"user": "brixcheck-no-such-user"}, _chat(m), {}),
}
ROWS = [row for row in aibrix.ERRORS if row.condition in TRIGGERS]
REMEDY = ("compare with AIBrix v0.5.0's error table; a different answer means another AIBrix "
          "version or a proxy in front of the gateway")


def _error_case(row: aibrix.GatewayError) -> Case:
    words = "".join(c if c.isalnum() else " " for c in row.condition).split()
    return Case(id="GatewayError" + "".join(w.capitalize() for w in words),
                description=f"{row.condition}: {row.status}, header {row.header}: {row.value}, "
                            f"message {row.message!r}.",
                checks="aibrix-v0.5.0 §6", remedy=REMEDY, capabilities=GATEWAY)


ERROR_CASES = {row.condition: _error_case(row) for row in aibrix.ERRORS}
STRATEGY_CASES = [Case(
    id="Strategy" + "".join(w.capitalize() for w in name.split("-")) + "AnswersWithTargetPod",
    description=f"routing-strategy {name} answers 200 with an OpenAI body and a target-pod "
                f"header naming a Ready pod of the model, on {STRATEGY_POOL} or more Ready pods.",
    checks="aibrix-v0.5.0 §4, §5",
    remedy="`kubectl -n aibrix-system logs deploy/aibrix-gateway-plugins`; check the model pods "
           "carry model.aibrix.ai/name and model.aibrix.ai/port",
    capabilities=frozenset({Capability.AIBRIX_GATEWAY, Capability.GPU_NODES}))
    for name in aibrix.PLAIN_POOL_STRATEGY_NAMES]
HEADER_LESS_CASE = Case(
    id="HeaderLessRequestsAreNotRateLimited",
    description=f"{HEADER_LESS_REQUESTS} requests without routing-strategy (the plugin adds the "
                f"model header) are served at >= {HEADER_LESS_GOAL_RPS:.0f} req/s.",
    checks="aibrix-v0.5.0 §5 (validateHTTPRouteStatus)",
    remedy="v0.5.0 GETs the model's HTTPRoute from the API server on every such request behind "
           "client-go's 5 QPS / burst 10 limit: send a routing-strategy header, or run more "
           "gateway-plugin replicas",
    capabilities=GATEWAY,
    known_issue="v0.5.0 looks up <model>-router through the API server per request without a "
                "strategy, limited by client-go to 5 QPS (burst 10)")


def _deployed(request: pytest.FixtureRequest) -> tuple[httpx.Client, ModelDeployment]:
    """The gateway client and model, set up only once the case gate let the test run.

    As arguments these session fixtures would deploy the model before the gate could report a
    case NOT-SUPPORTED, and hold the GPU that the scheduling cases want to see free.
    """
    return request.getfixturevalue("gateway_client"), request.getfixturevalue("model")


def _post(http: httpx.Client, headers: dict[str, str], body: str,
          path: str = "/v1/chat/completions") -> httpx.Response:
    """POST without the client's default `model` header, so the plugin sees what a user sends."""
    built = http.build_request("POST", path, content=body,
                               headers={"content-type": "application/json", **headers})
    if "model" not in headers:
        built.headers.pop("model", None)
    return http.send(built)


def _check_row(response: httpx.Response, row: aibrix.GatewayError,
               fill: dict[str, str]) -> None:
    assert response.status_code == row.status, f"{response.status_code}: {response.text[:300]}"
    value = row.value.format(**fill)
    assert response.headers.get(row.header) == value, (
        f"{row.header}: {response.headers.get(row.header)!r}, v0.5.0 sends {value!r}")
    error = response.json()["error"]
    assert error["message"] == row.message.format(**fill), error
    assert (error.get("code"), error.get("param")) == (row.code, row.param), error
    assert error["type"] == ERROR_TYPES.get(row.status, "api_error"), error


@pytest.mark.parametrize("row", [pytest.param(r, marks=pytest.mark.case(ERROR_CASES[r.condition]),
                                              id=r.condition) for r in ROWS])
def test_gateway_error(row: aibrix.GatewayError, request: pytest.FixtureRequest):
    gateway_client, model = _deployed(request)
    trigger = TRIGGERS[row.condition](model.name)
    response = _post(gateway_client, trigger.headers, trigger.body)
    _check_row(response, row, {"model": "", **trigger.fill})


CONTENT_TYPE_CASE = Case(
    id="GatewayErrorsSayJson",
    description="An error answer v0.5.0 builds with generateErrorResponse (unknown model) "
                "carries Content-Type: application/json.",
    checks="aibrix-v0.5.0 §6 (util.go generateErrorResponse)",
    remedy="clients must parse the error body as JSON whatever its Content-Type says",
    capabilities=GATEWAY, known_issue=aibrix.KNOWN_BUGS["error-content-type"].effect)


@pytest.mark.case(CONTENT_TYPE_CASE)
def test_gateway_errors_say_json(request: pytest.FixtureRequest):
    gateway_client, _ = _deployed(request)
    response = _post(gateway_client, {}, _chat(UNKNOWN_MODEL))
    assert response.status_code == 400, response.text[:200]
    assert response.headers.get("content-type") == "application/json", (
        f"Content-Type {response.headers.get('content-type')!r}")


def _row(condition: str) -> aibrix.GatewayError:
    return next(r for r in aibrix.ERRORS if r.condition == condition)


@pytest.mark.case(ERROR_CASES["model known, no routable pod"])
def test_gateway_error_no_routable_pod(target: Target, namespace: str,
                                       request: pytest.FixtureRequest):
    gateway_client, _ = _deployed(request)
    name = f"brixcheck-unroutable-{uuid.uuid4().hex[:6]}"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {aibrix.LABEL_MODEL_NAME: name,
                                                 "app.kubernetes.io/managed-by": "brixcheck"}},
           "spec": {"nodeSelector": {"brixcheck.io/never-scheduled": "true"},
                    "containers": [{"name": "c", "image": "busybox"}]}}
    target.core.create_namespaced_pod(namespace, pod)
    try:
        deadline = time.monotonic() + PLUGIN_SEES_S
        response = _post(gateway_client, RANDOM, _chat(name))
        while response.status_code == 400 and time.monotonic() < deadline:
            time.sleep(0.2)  # until the plugin's pod watch has the Pending pod
            response = _post(gateway_client, RANDOM, _chat(name))
        _check_row(response, _row("model known, no routable pod"), {"model": name})
    finally:
        target.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


@pytest.fixture
def users(target: Target) -> Iterator[MetadataUsers]:
    with metadata_users(target) as found:
        yield found


@pytest.mark.parametrize(("condition", "limits", "field"), [
    pytest.param("RPM reached", {"rpm": 1, "tpm": 1_000_000}, "rpm",
                 marks=pytest.mark.case(ERROR_CASES["RPM reached"]), id="rpm"),
    pytest.param("TPM reached", {"rpm": 100, "tpm": 1}, "tpm",
                 marks=pytest.mark.case(ERROR_CASES["TPM reached"]), id="tpm")])
def test_gateway_error_limit_exceeded(condition: str, limits: dict[str, int], field: str,
                                      users: MetadataUsers, request: pytest.FixtureRequest):
    """A user whose limit is 1 passes once, then gets the row's 429."""
    gateway_client, model = _deployed(request)
    name = users.create(**limits)
    first = _post(gateway_client, {**RANDOM, "user": name}, _chat(model.name))
    assert first.status_code == 200, (
        f"first request of a {field.upper()}-1 user: {first.status_code}")
    second = _post(gateway_client, {**RANDOM, "user": name}, _chat(model.name))
    _check_row(second, _row(condition), {"user": name, field: "1"})

SUCCESS_COUNTER = "vllm:request_success_total"  # vLLM's finished requests, per reason


def _ready_pods(target: Target, model: ModelDeployment) -> set[str]:
    pods = target.core.list_namespaced_pod(model.namespace, label_selector=model.selector).items
    return {f"{p.status.pod_ip}:{aibrix.DEFAULT_MODEL_PORT}" for p in pods
            if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])}


def _gpus(target: Target) -> int:
    return sum(int((n.status.allocatable or {}).get("nvidia.com/gpu", "0"))
               for n in target.core.list_node().items)


@pytest.fixture(scope="module")
def strategy_pool(target: Target, model: ModelDeployment) -> Iterator[set[str]]:
    """The run's model on >= 2 Ready pods; NOT-SUPPORTED where the cluster cannot run two."""
    gpus = _gpus(target)
    if gpus < STRATEGY_POOL:
        not_supported(f"the cluster has {gpus} GPU, so the model runs one "
                      "pod, and with one Ready pod v0.5.0 returns it without calling the router "
                      "(gateway.go); the strategy would not be tested (on the twin: "
                      "--twin-nodes three-gpu)")
    name = model.deployment["metadata"]["name"]
    target.apps.patch_namespaced_deployment_scale(name, model.namespace,
                                                  {"spec": {"replicas": STRATEGY_POOL}})
    try:
        deadline = time.monotonic() + POOL_READY_TIMEOUT_S * target.time_scale
        while len(_ready_pods(target, model)) < STRATEGY_POOL and time.monotonic() < deadline:
            time.sleep(1)  # polls the Ready condition
        ready = _ready_pods(target, model)
        if len(ready) < STRATEGY_POOL:
            not_supported(f"only {len(ready)} of {STRATEGY_POOL} pods of "
                          f"{model.name} became Ready; with one, v0.5.0 skips the router")
        yield ready
    finally:
        target.apps.patch_namespaced_deployment_scale(name, model.namespace,
                                                      {"spec": {"replicas": 1}})


@pytest.mark.parametrize("strategy", [
    pytest.param(name, marks=pytest.mark.case(case), id=name)
    for name, case in zip(aibrix.PLAIN_POOL_STRATEGY_NAMES, STRATEGY_CASES, strict=True)])
def test_strategy_answers_with_target_pod(strategy: str, request: pytest.FixtureRequest):
    gateway_client, model = _deployed(request)
    ready = request.getfixturevalue("strategy_pool")
    target = request.getfixturevalue("target")
    before = _served_counts(target, model)
    response = _post(gateway_client, {"routing-strategy": strategy}, _chat(model.name))
    assert response.status_code == 200, f"{strategy}: {response.status_code} {response.text[:200]}"
    assert response.json()["object"] == "chat.completion"
    named = response.headers.get("target-pod")
    assert named in ready, (
        f"{strategy}: target-pod {named!r} is not a Ready pod of {model.name} ({sorted(ready)})")
    after = _served_counts(target, model)
    served = sorted(pod for pod, count in after.items() if count > before.get(pod, 0.0))
    assert served == [named], (
        f"{strategy}: target-pod {named!r} names a pod other than the one that served "
        f"(engine request counters rose on {served})")


def _served_counts(target: Target, model: ModelDeployment) -> dict[str, float]:
    """Finished requests per Ready pod (`ip:port`), from each engine's own counter."""
    counts = {}
    for pod in target.core.list_namespaced_pod(model.namespace,
                                               label_selector=model.selector).items:
        address = f"{pod.status.pod_ip}:{aibrix.DEFAULT_MODEL_PORT}"
        text = pod_get(target, pod, aibrix.DEFAULT_MODEL_PORT, "/metrics")
        counts[address] = sum(sample.value for family in text_string_to_metric_families(text)
                              for sample in family.samples if sample.name == SUCCESS_COUNTER)
    return counts


@pytest.mark.case(HEADER_LESS_CASE)
def test_header_less_requests_rate(target: Target, request: pytest.FixtureRequest):
    gateway_client, model = _deployed(request)
    if not has_model_route(target, model.name):
        not_supported(f"no HTTPRoute {model.name}-router on this cluster "
                      "(AIBrix's model-router controller creates it); the plugin answers "
                      "503 x-error-routing to every request without a strategy")
    body = json.dumps({"model": model.name, "prompt": "hi", "max_tokens": 1})
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: _post(gateway_client, {}, body,
                                              "/v1/completions").status_code,
                              range(HEADER_LESS_REQUESTS)))
    rate = HEADER_LESS_REQUESTS / (time.monotonic() - started)
    request.node.case_details = {"header_less_rps": round(rate, 2), "requests":
                                 HEADER_LESS_REQUESTS, "non_200": sum(c != 200 for c in codes)}
    assert all(c == 200 for c in codes), f"status codes: {sorted(set(codes))}"
    assert rate >= HEADER_LESS_GOAL_RPS, (
        f"{rate:.1f} req/s without a routing strategy (goal {HEADER_LESS_GOAL_RPS:.0f})")
