"""``slo``, ``slo-pack-load``, ``slo-least-load``, ``slo-least-load-pulling`` (v0.5.0
``algorithms/slo.go``, ``least_load.go``, ``pack_load.go``, ``queue/slo_queue.go``,
``pkg/cache/pending_load_provider.go``).

v0.5.0 queues each request per model and ranks it against the GPU-optimizer profile of every
Deployment serving the model. With no profile for any of them (no GPU optimizer writing
`aibrix:profile_*` to Redis, as on the twin) it logs "SLOQueue found no profile available ..."
and the request goes to the fallback router, least-request. With profiles, the Deployment of
lowest rank (elapsed + expected latency - SLO target) is tried first and a backend picks a pod
by pending load (sum over in-flight requests of 1 / (profile RPS x latency), capped at 1.0):
least load (`slo`, `slo-least-load-pulling`: within the cap; `slo-least-load`: ignoring it) or
most load within the cap (`slo-pack-load`). Deviation: v0.5.0 holds a request in its queue while
every pod is at the cap; the emulator answers a routing error at once instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from brixcheck.gateway_plugin.algorithms.basic import LeastRequestRouter
from brixcheck.gateway_plugin.algorithms.common import log
from brixcheck.gateway_plugin.profile import ModelGPUProfile, ProfileError
from brixcheck.gateway_plugin.state import deployment_of
from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext, RoutingError

CAPACITY = 1.0  # PendingLoadProvider.Cap


def prompt_tokens(message: str) -> int:
    """Prompt length for the profile lookup; v0.5.0 counts tiktoken tokens, this ~4 chars each."""
    return max(1, math.ceil(len(message) / 4))


class SLORouter:
    """One of the slo* strategies; `backend` is "pull" (least load within the cap), "push"
    (least load) or "pack" (most load within the cap)."""

    def __init__(self, cache: Cache, backend: str) -> None:
        self.cache, self.backend = cache, backend
        self.fallback = LeastRequestRouter(cache)

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        groups: dict[str, list[Pod]] = {}
        for pod in ready_pods:
            groups.setdefault(deployment_of(pod), []).append(pod)
        profiles = {d: p for d in groups if (p := self.cache.profile(ctx.model, d)) is not None}
        if not profiles:
            log.warning("SLOQueue found no profile available for model %s, fallback to FIFO queue",
                        ctx.model)
            return self.fallback.route(ctx, ready_pods)
        features = self._features(ctx)
        ranked = self._rank(ctx, profiles, features)
        if not ranked:
            log.warning("SLOQueue failed to get SLO info for request %s in all profiles, "
                        "fallback to FIFO queue.", ctx.request_id)
            return self.fallback.route(ctx, ready_pods)
        error: RoutingError | None = None
        for i, (rank, deployment) in enumerate(ranked):
            if i > 0 and rank > 0:
                break
            try:
                pod, load = self._pick(groups[deployment], profiles[deployment], features)
            except RoutingError as caught:
                error = caught
                continue
            ctx.pending_load = load
            return pod
        raise error or RoutingError("no pod available")

    def _features(self, ctx: RoutingContext) -> tuple[float, float]:
        prompt = prompt_tokens(ctx.message)
        return float(self.cache.output_predictor(ctx.model).predict(prompt)), float(prompt)

    def _rank(self, ctx: RoutingContext, profiles: dict[str, ModelGPUProfile],
              features: tuple[float, float]) -> list[tuple[float, str]]:
        ranked, elapsed = [], time.monotonic() - ctx.request_time
        for deployment, profile in profiles.items():
            try:
                expected, target = _expected_and_target(profile, features)
            except ProfileError as error:
                log.warning("SLOQueue failed to get SLO info for request %s with profile %s: %s, "
                            "skip.", ctx.request_id, deployment, error)
                continue
            ranked.append((elapsed + expected - target, deployment))
        return sorted(ranked)

    def _pick(self, pods: Sequence[Pod], profile: ModelGPUProfile,
              features: tuple[float, float]) -> tuple[Pod, float]:
        consumption = _consumption(profile, features)
        best: tuple[Pod, float] | None = None
        best_util = -math.inf if self.backend == "pack" else (CAPACITY if self.backend == "pull"
                                                                else math.inf)
        for pod in pods:
            util = self.cache.pending_load(pod)
            if self.backend == "push":
                if util <= best_util:
                    best, best_util = (pod, consumption), util
                continue
            total = util + consumption
            if total > CAPACITY:
                continue
            better = total > best_util if self.backend == "pack" else total <= best_util
            if better:
                best, best_util = (pod, consumption), total
        if best is None:
            raise RoutingError("load capacity reached on every pod of the deployment")
        return best


def _expected_and_target(profile: ModelGPUProfile,
                         features: tuple[float, float]) -> tuple[float, float]:
    signature = profile.signature(features)
    output, prompt = features
    slos = profile.slos
    if slos.get("tpot", 0) > 0:
        return profile.latency_seconds(signature), slos["tpot"] * output + slos.get("ttft", 0.0)
    if slos.get("ttft", 0) > 0:
        if profile.ttft is None:
            raise ProfileError("profile has no TTFT data")
        return profile.ttft[signature[0]][signature[1]], slos["ttft"]
    if slos.get("tpat", 0) > 0:
        return profile.latency_seconds(signature), slos["tpat"] * (prompt + output)
    if slos.get("e2e", 0) > 0:
        return profile.latency_seconds(signature), slos["e2e"]
    raise ProfileError("no SLO available")


def _consumption(profile: ModelGPUProfile, features: tuple[float, float]) -> float:
    try:
        signature = profile.signature(features)
        rps = profile.throughput_rps(signature)
        latency = profile.latency_seconds(signature)
    except ProfileError as error:
        raise RoutingError(str(error)) from error
    if rps == 0:
        raise RoutingError("SLO failure request: the profile gives 0 RPS for this request")
    return 1.0 / rps / latency
