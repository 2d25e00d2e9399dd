"""``pd``: prefill/decode disaggregation (v0.5.0 ``algorithms/pd_disaggregation.go``).

Among ready pods labelled `roleset-name` and `role-name` (prefill|decode; of a multi-pod group
only index 0 serves HTTP) it picks one prefill and one decode pod of the same role set by score:
prefill = (100 - prefix match %) * 0.1 + in-flight prefills / max (pods loaded beyond mean +
std-dev factor * std-dev skipped); decode = (in-flight / max + 1 - generation throughput / max)
/ (free KV % / max). Imbalance (prefills differing by > 32; decode in-flight differing by >=
AIBRIX_DECODE_MAX_REQUEST or any decode pod idle; throughput by > AIBRIX_DECODE_MAX_THROUGHPUT)
short-cuts to the least-loaded pod. The gateway itself POSTs the request to the prefill pod
(max_tokens 1, not streamed; timeout AIBRIX_PREFILL_REQUEST_TIMEOUT s) and returns the decode
pod; for vLLM it copies the answer's `kv_transfer_params` into the body it forwards
(`ctx.req_body`). SGLang's prefill runs in the background with bootstrap fields added.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.gateway_plugin.algorithms.common import (
    env_float,
    env_int,
    log,
    mean,
    random_pod,
    rng,
    stdev,
)
from brixcheck.gateway_plugin.algorithms.engine_metrics import simple
from brixcheck.gateway_plugin.algorithms.prefix_cache import DEFAULT_STDDEV_FACTOR, tokenize
from brixcheck.gateway_plugin.algorithms.prefix_index import PrefixHashTable
from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext, RoutingError

ROLESET_LABEL, ROLE_LABEL = "roleset-name", "role-name"
POD_GROUP_INDEX_LABEL = "stormservice.orchestration.aibrix.ai/pod-group-index"
SGLANG_BOOTSTRAP_PORT = 8998
PREFILL_IMBALANCE = 32
Post = Callable[[str, bytes, Mapping[str, str], float], tuple[int, bytes]]


def http_post(url: str, body: bytes, headers: Mapping[str, str],
              timeout_s: float) -> tuple[int, bytes]:
    response = httpx.post(url, content=body, headers=dict(headers), timeout=timeout_s)
    return response.status_code, response.content


class PrefillTracker:
    """In-flight prefill requests per pod name (PrefillRequestTracker)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, pod: str) -> None:
        with self._lock:
            self._counts[pod] = self._counts.get(pod, 0) + 1

    def remove(self, pod: str) -> None:
        with self._lock:
            self._counts[pod] = max(0, self._counts.get(pod, 0) - 1)

    def counts(self, pods: Sequence[Pod]) -> dict[str, int]:
        return {p.name: self._counts.get(p.name, 0) for p in pods}


def split_roles(pods: Sequence[Pod]) -> tuple[list[Pod], list[Pod]]:
    prefill, decode = [], []
    for pod in pods:
        if ROLESET_LABEL not in pod.labels or ROLE_LABEL not in pod.labels:
            continue
        if pod.labels.get(POD_GROUP_INDEX_LABEL, "0") != "0":
            continue
        {"prefill": prefill, "decode": decode}.get(pod.labels[ROLE_LABEL], []).append(pod)
    return prefill, decode


def engine_of_all(pods: Sequence[Pod]) -> str:
    engines = {p.labels.get(aibrix.LABEL_ENGINE, "vllm") for p in pods}
    if len(engines) > 1:
        raise RoutingError(f"inconsistent LLM engines detected: {sorted(engines)}")
    return engines.pop() if engines else "vllm"


class PDRouter:
    def __init__(self, cache: Cache, post: Post = http_post) -> None:
        self.cache, self.post = cache, post
        self.index = PrefixHashTable()
        self.prefills = PrefillTracker()
        self.timeout_s = float(env_int("AIBRIX_PREFILL_REQUEST_TIMEOUT", 30))
        self.max_request = env_float("AIBRIX_DECODE_MAX_REQUEST", 32.0)
        self.max_throughput_diff = env_float("AIBRIX_DECODE_MAX_THROUGHPUT", 2048.0)
        self.stddev_factor = env_int("AIBRIX_PREFIX_CACHE_STANDARD_DEVIATION_FACTOR",
                                     DEFAULT_STDDEV_FACTOR)

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        engine = engine_of_all(ready_pods)
        prefill, decode = self.choose(ctx, ready_pods)
        log.info("selected prefill/decode pods request_id=%s prefill_pod=%s decode_pod=%s",
                 ctx.request_id, prefill.name, decode.name)
        self.do_prefill(ctx, prefill, engine)
        return decode

    def choose(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> tuple[Pod, Pod]:
        prefills, decodes = split_roles(ready_pods)
        if not prefills or not decodes:
            raise RoutingError(f"prefill or decode pods are not ready: prefill={len(prefills)}, "
                               f"decode={len(decodes)}")
        counts = self.prefills.counts(prefills)
        if max(counts.values()) - min(counts.values()) > PREFILL_IMBALANCE:
            low = min(counts.values())
            target = random_pod([p for p in prefills if counts[p.name] == low])
            prefills = [target]
            roleset = target.labels[ROLESET_LABEL]
            decodes = [d for d in decodes if d.labels[ROLESET_LABEL] == roleset]
        loads = self._decode_loads(ctx.model, decodes)
        shortcut = self._decode_imbalance(decodes, loads)
        if shortcut is not None:
            decodes = [shortcut]
            if len(prefills) > 1:
                prefills = [p for p in prefills
                            if p.labels[ROLESET_LABEL] == shortcut.labels[ROLESET_LABEL]]
        prefill_scores, prefill_max, hashes = self._score_prefills(ctx, prefills)
        decode_scores, decode_max = self._score_decodes(decodes, loads)
        best, pair = math.inf, None
        rolesets = list(prefill_scores)
        rng.shuffle(rolesets)  # v0.5.0 walks a Go map: equal scores resolve in random order
        for roleset in rolesets:
            if roleset not in decode_scores:
                continue
            (p_pod, p_score), (d_pod, d_score) = prefill_scores[roleset], decode_scores[roleset]
            score = p_score / prefill_max + d_score / decode_max
            if score < best:
                best, pair = score, (p_pod, d_pod)
        if pair is None:
            raise RoutingError("target prefill or decode pod is nil")
        if hashes:
            self.index.add_prefix(hashes, ctx.model, pair[0].name)
        return pair

    def _decode_loads(self, model: str,
                      decodes: Sequence[Pod]) -> dict[str, tuple[float, float, float]]:
        """Per decode pod: in-flight, generation throughput, free KV % (absent metrics are 0)."""
        loads = {}
        for pod in decodes:
            throughput = simple(self.cache.metric(pod, model,
                                                  "avg_generation_throughput_toks_per_s"))
            usage = simple(self.cache.metric(pod, model, "gpu_cache_usage_perc")) or 0.0
            free = round(100 - usage * 100)
            loads[pod.name] = (float(self.cache.running_requests(pod)), throughput or 0.0,
                               free if free > 0 else 0.1)
        return loads

    def _decode_imbalance(self, decodes: Sequence[Pod],
                          loads: Mapping[str, tuple[float, float, float]]) -> Pod | None:
        by_requests = min(decodes, key=lambda p: loads[p.name][0])
        by_throughput = min(decodes, key=lambda p: loads[p.name][1])
        requests = [loads[p.name][0] for p in decodes]
        throughputs = [loads[p.name][1] for p in decodes]
        if min(requests) == 0 or max(1.0, *requests) - min(requests) >= self.max_request:
            return by_requests
        if max(1.0, *throughputs) - min(throughputs) > self.max_throughput_diff:
            return by_throughput
        return None

    def _score_prefills(self, ctx: RoutingContext, prefills: Sequence[Pod]):
        counts = self.prefills.counts(prefills)
        values = [float(c) for c in counts.values()]
        top = max(1.0, *values)
        limit = mean(values) + self.stddev_factor * stdev(values)
        matched, hashes = self.index.match_prefix(tokenize(ctx.message), ctx.model, counts.keys())
        scores: dict[str, tuple[Pod, float]] = {}
        score_max = 1.0
        for pod in prefills:
            if counts[pod.name] > limit:
                continue
            score = (100 - matched.get(pod.name, 0)) * 0.1 + counts[pod.name] / top
            roleset = pod.labels[ROLESET_LABEL]
            if roleset not in scores or score < scores[roleset][1]:
                scores[roleset] = (pod, score)
            score_max = max(score_max, score)
        return scores, score_max, hashes

    @staticmethod
    def _score_decodes(decodes: Sequence[Pod], loads: Mapping[str, tuple[float, float, float]]):
        top_requests = max(1.0, *(v[0] for v in loads.values()))
        top_throughput = max(1.0, *(v[1] for v in loads.values()))
        top_free = max(1.0, *(v[2] for v in loads.values()))
        scores: dict[str, tuple[Pod, float]] = {}
        score_max = 0.01
        for pod in decodes:
            requests, throughput, free = loads[pod.name]
            score = (requests / top_requests + 1 - throughput / top_throughput) / (free / top_free)
            roleset = pod.labels[ROLESET_LABEL]
            if roleset not in scores or score < scores[roleset][1]:
                scores[roleset] = (pod, score)
            score_max = max(score_max, score)
        return scores, score_max

    def do_prefill(self, ctx: RoutingContext, pod: Pod, engine: str) -> None:
        payload = self._payload(ctx, pod, engine)
        url = f"http://{pod.ip}:{pod.port}{ctx.req_path}"
        headers = {**ctx.req_headers, "content-type": "application/json",
                   "X-Request-Id": ctx.request_id}
        log.info("start_prefill_request request_id=%s prefill_pod=%s prefill_url=%s",
                 ctx.request_id, pod.name, url)
        self.prefills.add(pod.name)
        if engine == "sglang":
            threading.Thread(target=self._prefill, args=(ctx, pod, url, payload, headers),
                             daemon=True).start()
            return
        answer = self._prefill(ctx, pod, url, payload, headers)
        if engine == "vllm" and "kv_transfer_params" in answer:
            self._forward_kv_params(ctx, pod, answer["kv_transfer_params"])

    def _prefill(self, ctx: RoutingContext, pod: Pod, url: str, payload: bytes,
                 headers: Mapping[str, str]) -> dict[str, Any]:
        try:
            status, body = self.post(url, payload, headers, self.timeout_s)
        except httpx.HTTPError as error:
            raise RoutingError(f"prefill request failed for request {ctx.request_id}, pod "
                               f"{pod.name}: {error}") from error
        finally:
            self.prefills.remove(pod.name)
        if status != 200:
            raise RoutingError(f"prefill request failed for request {ctx.request_id}, pod "
                               f"{pod.name}: status {status}: {body[:200]!r}")
        try:
            return json.loads(body)
        except ValueError as error:
            raise RoutingError(f"failed to unmarshal prefill response: {error}") from error

    def _payload(self, ctx: RoutingContext, pod: Pod, engine: str) -> bytes:
        try:
            request = json.loads(ctx.req_body)
        except ValueError as error:
            raise RoutingError(f"failed to unmarshal prefill request body: {error}") from error
        if engine == "sglang":
            request.update(bootstrap_host=pod.ip, bootstrap_port=SGLANG_BOOTSTRAP_PORT,
                           bootstrap_room=rng.randrange(2 ** 63 - 1))
            ctx.req_body = json.dumps(request).encode()
        if engine == "vllm":
            request["kv_transfer_params"] = {
                "do_remote_decode": True, "do_remote_prefill": False, "remote_engine_id": None,
                "remote_block_ids": None, "remote_host": None, "remote_port": None}
        request.update(max_tokens=1, max_completion_tokens=1, stream=False)
        request.pop("stream_options", None)
        return json.dumps(request).encode()

    @staticmethod
    def _forward_kv_params(ctx: RoutingContext, pod: Pod, params: Any) -> None:
        if not isinstance(params, dict):
            raise RoutingError(f"kv_transfer_params has unexpected type {type(params).__name__}")
        request = json.loads(ctx.req_body)
        request["kv_transfer_params"] = {**params, "remote_host": pod.ip}
        ctx.req_body = json.dumps(request).encode()
