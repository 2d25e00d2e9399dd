"""Strategies that rank pods on scraped engine metrics (v0.5.0 ``throughput.go``,
``least_kv_cache.go``, ``least_gpu_cache.go``, ``least_busy_time.go``, ``least_util.go``,
``least_latency.go``). A pod lacking a metric is skipped (v0.5.0 logs the cache error); when
every pod is skipped the strategy logs the fallback line and picks at random. That is what
happens on vLLM >= 0.11, which no longer exports the V0 names these read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from brixcheck.gateway_plugin.algorithms.common import log, random_fallback, random_pod
from brixcheck.gateway_plugin.types import Cache, Histogram, MetricValue, Pod, RoutingContext

Score = Callable[[Cache, Pod, str], float | None]  # None: the pod lacks a metric


def simple(value: MetricValue | None) -> float | None:
    """A counter/gauge value; a histogram reads as 0 (v0.5.0 GetSimpleValue)."""
    if value is None:
        return None
    if isinstance(value, Histogram):
        return 0.0
    return float(value) if isinstance(value, (int, float)) else 0.0


def histogram_mean(value: MetricValue | None) -> float:
    if isinstance(value, Histogram) and value.count:
        return value.sum / value.count
    return 0.0


def _metrics(cache: Cache, pod: Pod, model: str, *names: str) -> list[float] | None:
    values = [simple(cache.metric(pod, model, n)) for n in names]
    if any(v is None for v in values):
        log.debug("pod %s lacks one of %s", pod.name, names)
        return None
    return values  # type: ignore[return-value]


class MinScoreRouter:
    """Pick the pod of lowest score. `ties` says how v0.5.0 breaks equal scores: "last" (its
    `<=` loops keep the last such pod), "first" (`<` loops) or "random" (those that collect
    candidates)."""

    def __init__(self, cache: Cache, score: Score, ties: str) -> None:
        self.cache, self.score, self.ties = cache, score, ties

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        best, low = [], math.inf
        for pod in ready_pods:
            value = self.score(self.cache, pod, ctx.model)
            if value is None:
                continue
            if value < low:
                best, low = [pod], value
            elif value == low:
                best.append(pod)
        if not best:
            return random_fallback(ctx, ready_pods)
        if self.ties == "random":
            return random_pod(best)
        return best[-1] if self.ties == "last" else best[0]


def throughput_score(cache: Cache, pod: Pod, model: str) -> float | None:
    """Prompt tokens cost twice generation tokens: 2 * prompt + generation throughput."""
    values = _metrics(cache, pod, model, "avg_prompt_throughput_toks_per_s",
                      "avg_generation_throughput_toks_per_s")
    return None if values is None else 2 * values[0] + values[1]


def kv_cache_score(cache: Cache, pod: Pod, model: str) -> float | None:
    values = _metrics(cache, pod, model, "gpu_cache_usage_perc", "cpu_cache_usage_perc")
    return None if values is None else values[0] + values[1]


def gpu_cache_score(cache: Cache, pod: Pod, model: str) -> float | None:
    values = _metrics(cache, pod, model, "gpu_cache_usage_perc")
    return None if values is None else values[0]


def busy_time_score(cache: Cache, pod: Pod, model: str) -> float | None:
    """`gpu_busy_time_ratio`: declared in v0.5.0 but fed by nothing, so always absent."""
    return simple(cache.metric(pod, model, "gpu_busy_time_ratio"))


def utilization_score(cache: Cache, pod: Pod, model: str) -> float | None:
    """`engine_utilization`: only xLLM engines export it."""
    return simple(cache.metric(pod, model, "engine_utilization"))


def throughput(cache: Cache) -> MinScoreRouter:
    return MinScoreRouter(cache, throughput_score, ties="last")


def least_kv_cache(cache: Cache) -> MinScoreRouter:
    return MinScoreRouter(cache, kv_cache_score, ties="last")


def least_gpu_cache(cache: Cache) -> MinScoreRouter:
    return MinScoreRouter(cache, gpu_cache_score, ties="random")


def least_busy_time(cache: Cache) -> MinScoreRouter:
    # v0.5.0 keeps the first pod of the lowest ratio (strict `<`).
    return MinScoreRouter(cache, busy_time_score, ties="first")


def least_utilization(cache: Cache) -> MinScoreRouter:
    return MinScoreRouter(cache, utilization_score, ties="random")


PROMPT_GUESS, GENERATION_GUESS = 10.0, 100.0  # least_latency.go defaults without history


class LeastLatencyRouter:
    """Expected queueing + prefill + decode latency. The per-request token averages come only
    from Prometheus (PROMETHEUS_ENDPOINT); without them every pod is skipped and the strategy
    falls back to random, as v0.5.0 does."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        prompt_guess, generation_guess = self._guesses(ctx.model, ready_pods)
        target, low = None, math.inf
        for pod in ready_pods:
            latency = self._expected(pod, ctx.model, prompt_guess, generation_guess)
            if latency is not None and latency <= low:
                target, low = pod, latency
        return target or random_fallback(ctx, ready_pods)

    def _guesses(self, model: str, pods: Sequence[Pod]) -> tuple[float, float]:
        prompts, generations = [], []
        for pod in pods:
            values = _metrics(self.cache, pod, model, "avg_prompt_toks_per_req",
                              "avg_generation_toks_per_req")
            if values is None:
                continue
            prompts += [values[0]] if values[0] > 0 else []
            generations += [values[1]] if values[1] > 0 else []
        return (sum(prompts) / len(prompts) if prompts else PROMPT_GUESS,
                sum(generations) / len(generations) if generations else GENERATION_GUESS)

    def _expected(self, pod: Pod, model: str, prompt_guess: float,
                  generation_guess: float) -> float | None:
        read = {n: self.cache.metric(pod, model, n) for n in (
            "request_queue_time_seconds", "avg_prompt_toks_per_req", "request_prefill_time_seconds",
            "avg_generation_toks_per_req", "request_decode_time_seconds")}
        if any(v is None for v in read.values()):
            return None
        prompt = simple(read["avg_prompt_toks_per_req"]) or prompt_guess
        generation = simple(read["avg_generation_toks_per_req"]) or generation_guess
        prefill = histogram_mean(read["request_prefill_time_seconds"]) / prompt * prompt_guess
        decode = histogram_mean(read["request_decode_time_seconds"]) / generation * generation_guess
        return (simple(read["request_queue_time_seconds"]) or 0.0) + prefill + decode
