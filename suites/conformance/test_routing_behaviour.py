"""Routing strategies behave as AIBrix v0.5.0's code says, judged statistically on >= 3 Ready pods.

Every case fixes its sample size so that its false-alarm probability is <= 0.1 %
(brixcheck.conformance.routing_stats): a correct gateway fails a case, or a random one passes it,
with probability at most 0.001. With 3 pods: uniformity uses 60 requests and a chi-square test
at p < 0.001; "never sends to the loaded pod" uses 18 requests ((2/3)^18 = 0.0007 for random);
"a shared prefix sticks" uses 8 requests (3 x (1/3)^8 = 0.0005 for random).

Load is made through the gateway itself: long streamed requests sharing one prompt go, under
`prefix-cache`, to one pod and stay in flight there (the gateway counts them, the engine's
KV-cache and throughput gauges rise). They stay together because the release manifest sets
AIBRIX_PREFIX_CACHE_STANDARD_DEVIATION_FACTOR=2 (k held on one of 3 pods is within mean + 2
std-dev for any k); with v0.5.0's code default of 1 the second one would move, and the case
says so. The metric-driven cases are strict expected failures where
v0.5.0 cannot route on the engine's metrics: always for least-busy-time, least-utilization and
least-latency (inputs never populated / Prometheus only), and for throughput, least-kv-cache and
least-gpu-cache when the engine exports only vLLM >= 0.11 names. The emulator passes those three
with `--emu-metric-names legacy` (manifests/models/deepseek-r1-qwen-1b5-legacy-metrics.yaml).

vtc-basic is a router, not a scheduler: v0.5.0 never holds back or refuses a request, so it does
not bound the users' shares of served tokens (each user is served all it asks for; the VTC paper's
scheduler would bound the service gap of backlogged users). What its code gives (vtc_basic.go,
token_tracker.go) is placement by token share: each user's tokens over the last 5 minutes
(input + 2 x output, estimated from the prompt: characters / 4, output 1.5 x input) divided by
the mean of the smallest and largest user total picks the pod index nearest to it, plus at most
0.1 random and running / 100. With two users that index is 2 x the user's share, so a user
holding under a quarter of the tokens is sent to the first pod and one holding over three
quarters to the last: under unequal demand the light user keeps a pod the heavy user never
uses, its share of that pod's tokens is 100 %. The vtc case sends a heavy user 10 times the light
user's tokens (6 warm-up requests first, so it dominates even if an earlier run's users are
still in the window) and asserts that separation on 6 requests each: a random router passes with
probability 3 x (1/3)^6 x (2/3)^6 = 0.0004; v0.5.0 fails it only if another user sent more
vtc-basic tokens within the window, with a window shorter than the case (the test overlay's
2 seconds), or if a pod update reorders the plugin's pod list during the case.
The pool is the run's model scaled to 3 replicas (on the twin: `--twin-nodes three-gpu`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.aibrix.metric_names import feed
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import ModelDeployment
from brixcheck.cluster.pod_access import pod_get
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case
from brixcheck.conformance.metadata import metadata_users
from brixcheck.conformance.routing_stats import (
    FALSE_ALARM,
    avoid_sample_size,
    chi_square_uniform,
    separation_sample_size,
    sticky_sample_size,
    uniform_sample_size,
)

POOL_SIZE = 3
POOL_READY_TIMEOUT_S = 300.0
HELD_STREAMS = 6  # in flight on the loaded pod; below v0.5.0's imbalance limit (8, release 16)
SHARED_PREFIX = "You are the support assistant of a large hardware store. " * 40
NEEDS = frozenset({Capability.AIBRIX_GATEWAY, Capability.MODEL_PODS})
BUG = aibrix.KNOWN_BUGS["metric-names"]
REMEDY = ("`kubectl -n aibrix-system logs deploy/aibrix-gateway-plugins`; check the pods' "
          "model.aibrix.ai/* labels and that the plugin scrapes their /metrics")


def _case(id_: str, description: str, known_issue: str | None = None) -> Case:
    return Case(id=id_, description=description, checks="aibrix-v0.5.0 §4 (routing strategies)",
                remedy=REMEDY, capabilities=NEEDS, known_issue=known_issue)


RANDOM = _case("RoutingRandomSpreadsUniformly", "routing-strategy random spreads 20 requests "
               "per pod uniformly over the Ready pods (chi-square, p >= 0.001; every pod served).")
LEAST_REQUEST = _case("RoutingLeastRequestAvoidsBusyPod", "with requests held in flight on one "
                      "pod, least-request sends none of 18 new requests there.")
PREFIX_STICKS = _case("RoutingPrefixCacheSharedPrefixSticks", "prefix-cache sends 8 requests "
                      "sharing a 2,320-character prefix to one pod.")
PREFIX_SPREADS = _case("RoutingPrefixCacheDistinctPrefixesSpread", "prefix-cache spreads 20 "
                       "requests per pod with distinct prompts uniformly (chi-square, "
                       "p >= 0.001; every pod served).")
VTC_FAIR = _case("RoutingVtcBasicFairUnderUnequalDemand", "vtc-basic, with one user asking "
                 "10 times the other's tokens, keeps the light user's 6 requests on one pod that "
                 "none of the heavy user's 6 requests use (its token share there is 100 %).")
NEVER_FED = "v0.5.0 never feeds the metric this strategy reads (see docs/gateway-plugin.md)"
METRIC_STRATEGIES = {
    "throughput": None, "least-kv-cache": None, "least-gpu-cache": None,
    "least-busy-time": f"{NEVER_FED}: gpu_busy_time_ratio is declared but never scraped",
    "least-utilization": f"{NEVER_FED}: engine_utilization comes from xLLM engines only",
    "least-latency": f"{NEVER_FED}: per-request token averages come only from Prometheus",
}
METRIC_CASES = {name: _case(
    "RoutingMetric" + "".join(w.capitalize() for w in name.split("-")) + "AvoidsLoadedPod",
    f"with one pod loaded by requests held in flight, {name} sends none of 18 new requests "
    "there (a random choice would with probability > 0.999).", issue)
    for name, issue in METRIC_STRATEGIES.items()}


STORE_TEXT = "The hardware store sells tools, timber, paint and garden supplies to the trade. "
HEAVY_PROMPT = (STORE_TEXT * 30)[:2000]  # v0.5.0 tracks 500 + 2 x 750 = 2,000 tokens
LIGHT_PROMPT = STORE_TEXT * 2 + STORE_TEXT[:40]  # 200 characters: 50 + 2 x 75 = 200 tokens
VTC_WARM_UP = 6  # heavy requests before the light user's first
VTC_LIMITS = {"rpm": 1000, "tpm": 10_000_000}  # far above what the case sends


@dataclass
class Pool:
    http: httpx.Client
    model: str
    addresses: set[str]  # target-pod values of the Ready pods
    pods: list


def _chat(model: str, prompt: str, max_tokens: int = 4, **extra: object) -> str:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}],
                       "max_tokens": max_tokens, **extra})


def ask(pool: Pool, strategy: str, prompt: str = "hi") -> str:
    """One short request; the pod the gateway chose (`target-pod`)."""
    reply = pool.http.post("/v1/chat/completions", content=_chat(pool.model, prompt),
                           headers={"routing-strategy": strategy})
    assert reply.status_code == 200, f"{strategy}: {reply.status_code} {reply.text[:200]}"
    return reply.headers["target-pod"]


@contextmanager
def held_on_one_pod(pool: Pool, streams: int = HELD_STREAMS) -> Iterator[str]:
    """Keep `streams` long streamed requests in flight on one pod (prefix-cache pins them);
    yields that pod's target-pod value and closes the streams on exit."""
    answered = [threading.Event() for _ in range(streams)]
    targets: list[str | None] = [None] * streams
    errors: list[Exception] = []
    stop = threading.Event()

    def hold(i: int) -> None:
        body = _chat(pool.model, SHARED_PREFIX, max_tokens=4000, stream=True, ignore_eos=True)
        try:
            with pool.http.stream("POST", "/v1/chat/completions", content=body,
                                  headers={"routing-strategy": "prefix-cache"}) as reply:
                targets[i] = reply.headers.get("target-pod")
                answered[i].set()
                for _ in reply.iter_bytes():
                    if stop.is_set():
                        break
        except httpx.HTTPError as error:
            errors.append(error)
        finally:
            answered[i].set()

    threads = [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(streams)]
    try:
        for thread, event in zip(threads, answered, strict=True):
            thread.start()  # one at a time: each finds the previous ones' prefix
            assert event.wait(60), "a held stream got no response headers in 60 s"
        assert not errors, f"held streams failed: {errors[:2]}"
        assert len(set(targets)) == 1, f"prefix-cache spread the held streams: {targets}"
        yield str(targets[0])
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def _wait_engine_load(target: Target, pool: Pool, address: str) -> None:
    """Until the loaded pod's engine reports the held requests running, then ten of v0.5.0's
    50 ms scrape intervals so the plugin has read it."""
    pod = next(p for p in pool.pods if address.startswith(f"{p.status.pod_ip}:"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = pod_get(target, pod, aibrix.DEFAULT_MODEL_PORT, "metrics")
        running = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("vllm:num_requests_running")]
        if running and max(running) >= HELD_STREAMS:
            time.sleep(0.5)
            return
        time.sleep(0.2)  # poll interval
    pytest.fail(f"the loaded pod's engine never reported {HELD_STREAMS} running requests")


def _ready_addresses(target: Target, model: ModelDeployment) -> tuple[set[str], list]:
    pods = target.core.list_namespaced_pod(model.namespace, label_selector=model.selector).items
    ready = [p for p in pods if p.metadata.deletion_timestamp is None and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    return {f"{p.status.pod_ip}:{aibrix.DEFAULT_MODEL_PORT}" for p in ready}, ready


def _scale(target: Target, model: ModelDeployment, replicas: int) -> None:
    name = model.deployment["metadata"]["name"]
    target.apps.patch_namespaced_deployment_scale(name, model.namespace,
                                                  {"spec": {"replicas": replicas}})


@pytest.fixture(scope="module")
def routing_pool(target: Target, model: ModelDeployment,
                 gateway_client: httpx.Client) -> Iterator[Pool]:
    """The run's model on POOL_SIZE Ready pods that the gateway routes to; SKIP if the cluster
    cannot run that many (the cases need >= 3 pods)."""
    _scale(target, model, POOL_SIZE)
    try:
        deadline = time.monotonic() + POOL_READY_TIMEOUT_S * target.time_scale
        addresses, pods = _ready_addresses(target, model)
        while len(addresses) < POOL_SIZE and time.monotonic() < deadline:
            time.sleep(2)  # polls the Ready condition
            addresses, pods = _ready_addresses(target, model)
        if len(addresses) < POOL_SIZE:
            pytest.skip(f"needs {POOL_SIZE} Ready pods of {model.name}; {len(addresses)} became "
                        "Ready (on the twin use --twin-nodes three-gpu)")
        pool = Pool(gateway_client, model.name, addresses, pods)
        seen: set[str] = set()
        while seen != addresses and time.monotonic() < deadline:
            seen.add(ask(pool, "random"))  # until the plugin's pod watch has all of them
        if seen != addresses:
            pytest.skip(f"the gateway reached only {sorted(seen)} of {sorted(addresses)}")
        yield pool
    finally:
        _scale(target, model, 1)


def _pool(request: pytest.FixtureRequest) -> Pool:
    """Deployed only once the case gate let the test run (as in test_plugin_errors)."""
    return request.getfixturevalue("routing_pool")


def _assert_uniform(counts: Counter, addresses: set[str]) -> None:
    cells = [counts.get(a, 0) for a in sorted(addresses)]
    assert set(counts) <= addresses, f"requests went to pods that are not Ready: {counts}"
    assert all(cells), f"a Ready pod got no request: {dict(counts)}"
    statistic, p_value = chi_square_uniform(cells)
    assert p_value >= FALSE_ALARM, (f"not uniform: chi-square {statistic:.1f}, p {p_value:.2g} "
                                    f"< {FALSE_ALARM}: {dict(counts)}")


@pytest.mark.case(RANDOM)
def test_random_spreads_uniformly(request: pytest.FixtureRequest):
    pool = _pool(request)
    n = uniform_sample_size(len(pool.addresses))
    _assert_uniform(Counter(ask(pool, "random") for _ in range(n)), pool.addresses)


@pytest.mark.case(LEAST_REQUEST)
def test_least_request_avoids_the_busy_pod(request: pytest.FixtureRequest):
    pool = _pool(request)
    with held_on_one_pod(pool) as busy:
        chosen = Counter(ask(pool, "least-request")
                         for _ in range(avoid_sample_size(len(pool.addresses))))
    assert busy not in chosen, f"least-request sent to the pod holding {HELD_STREAMS}: {chosen}"


@pytest.mark.case(PREFIX_STICKS)
def test_prefix_cache_shared_prefix_sticks(request: pytest.FixtureRequest):
    pool = _pool(request)
    chosen = Counter(ask(pool, "prefix-cache", f"{SHARED_PREFIX} question {i}?")
                     for i in range(sticky_sample_size(len(pool.addresses))))
    assert len(chosen) == 1, f"a shared prefix went to several pods: {dict(chosen)}"


@pytest.mark.case(PREFIX_SPREADS)
def test_prefix_cache_distinct_prefixes_spread(request: pytest.FixtureRequest):
    pool = _pool(request)
    n = uniform_sample_size(len(pool.addresses))
    chosen = Counter(ask(pool, "prefix-cache", f"{i:05d} {i * 7919} distinct prompt")
                     for i in range(n))
    _assert_uniform(chosen, pool.addresses)


def _xfail_if_engine_lacks_names(target: Target, pool: Pool, strategy: str,
                                 request: pytest.FixtureRequest) -> None:
    """v0.5.0 routes `strategy` at random on an engine without the V0 names: expected failure."""
    pod = pool.pods[0]
    port = int((pod.metadata.labels or {}).get(aibrix.LABEL_METRIC_PORT,
                                               aibrix.DEFAULT_MODEL_PORT))
    lacks = feed(pod_get(target, pod, port, "metrics")).missing.get(strategy)
    if lacks:
        request.node.add_marker(pytest.mark.xfail(
            reason=f"{BUG.effect} (fixed in {BUG.fixed_in}); the engine lacks {', '.join(lacks)}",
            strict=True))


@pytest.mark.parametrize("strategy", [pytest.param(name, marks=pytest.mark.case(case), id=name)
                                      for name, case in METRIC_CASES.items()])
def test_metric_strategy_avoids_the_loaded_pod(strategy: str, target: Target,
                                               request: pytest.FixtureRequest):
    pool = _pool(request)
    _xfail_if_engine_lacks_names(target, pool, strategy, request)
    with held_on_one_pod(pool) as loaded:
        _wait_engine_load(target, pool, loaded)
        chosen = Counter(ask(pool, strategy)
                         for _ in range(avoid_sample_size(len(pool.addresses))))
    assert loaded not in chosen, (f"{strategy} sent to the loaded pod as often as chance: "
                                  f"{dict(chosen)} (loaded: {loaded})")


def _ask_as(pool: Pool, user: str, prompt: str) -> tuple[str, int]:
    """One vtc-basic request of `user`; the pod chosen and the tokens the engine served."""
    reply = pool.http.post("/v1/chat/completions", content=_chat(pool.model, prompt),
                           headers={"routing-strategy": "vtc-basic", aibrix.HEADER_USER: user})
    assert reply.status_code == 200, f"vtc-basic: {reply.status_code} {reply.text[:200]}"
    return reply.headers["target-pod"], int(reply.json()["usage"]["total_tokens"])


@pytest.mark.case(VTC_FAIR)
def test_vtc_basic_fair_under_unequal_demand(target: Target, request: pytest.FixtureRequest):
    pool = _pool(request)
    rounds = separation_sample_size(len(pool.addresses))
    served = {"heavy": Counter(), "light": Counter()}  # role -> pod -> tokens served
    with metadata_users(target) as users:
        heavy, light = users.create(**VTC_LIMITS), users.create(**VTC_LIMITS)
        for _ in range(VTC_WARM_UP):
            _ask_as(pool, heavy, HEAVY_PROMPT)
        _ask_as(pool, light, LIGHT_PROMPT)
        for _ in range(rounds):
            for role, user, prompt in (("heavy", heavy, HEAVY_PROMPT),
                                       ("light", light, LIGHT_PROMPT)):
                pod, tokens = _ask_as(pool, user, prompt)
                served[role][pod] += tokens
    total = sum(sum(pods.values()) for pods in served.values()) or 1
    by_pod = {role: dict(pods) for role, pods in served.items()}
    request.node.case_details = {
        "served_tokens_by_pod": by_pod,
        "served_token_share": {role: round(sum(pods.values()) / total, 3)
                               for role, pods in served.items()}}
    assert len(by_pod["light"]) == 1, f"vtc-basic spread the light user over pods: {by_pod}"
    light_pod = next(iter(by_pod["light"]))
    assert light_pod not in by_pod["heavy"], (f"vtc-basic sent the heavy user to the light "
                                              f"user's pod {light_pod}: {by_pod}")
