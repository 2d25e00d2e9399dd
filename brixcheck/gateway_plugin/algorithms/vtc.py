"""``vtc-basic`` (v0.5.0 ``algorithms/vtc/``): Virtual Token Counter fairness.

Each user's weighted token total over a sliding window (input x1, output x2 by default; output
estimated as 1.5 x input, input as characters / 4) is normalised by an adaptive bucket size,
(min + max user total) / 2 but at least AIBRIX_ROUTER_VTC_TOKEN_TRACKER_MIN_TOKENS, and mapped to
a pod index: score = |index - normalised tokens| + min(running / max pod load, 1) + U(0, 0.1),
lowest wins. `running` is the engine's `num_requests_running` (0 when absent, so the strategy
still routes on vLLM >= 0.11). A request without a user header is routed at random.
``set_counters_frozen`` is a fault hook.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from brixcheck.gateway_plugin.algorithms.common import (
    env_float,
    env_int,
    env_str,
    log,
    random_pod,
    rng,
)
from brixcheck.gateway_plugin.algorithms.engine_metrics import simple
from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext

UNIT_SECONDS = {"minutes": 60.0, "seconds": 1.0, "milliseconds": 0.001}
_frozen = False  # fault: token counters stop counting


def set_counters_frozen(frozen: bool) -> None:
    """Fault hook: while frozen, vtc-basic routes without adding any request to a user's total
    (every user keeps the tokens it had; new users stay at 0)."""
    global _frozen
    _frozen = bool(frozen)


def estimate_input_tokens(message: str) -> float:
    return math.ceil(len(message) / 4.0) if message else 0.0


def estimate_output_tokens(message: str) -> float:
    return math.ceil(estimate_input_tokens(message) * 1.5)


class TokenTracker:
    """Per-user weighted tokens in time buckets over a sliding window (token_tracker.go)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        unit_name = env_str("AIBRIX_ROUTER_VTC_TOKEN_TRACKER_TIME_UNIT", "minutes")
        unit = UNIT_SECONDS.get(unit_name, 60.0)
        self.bucket_s = 0.001 if unit == 0.001 else 1.0  # v0.5.0 buckets by second or millisecond
        self.window_s = env_int("AIBRIX_ROUTER_VTC_TOKEN_TRACKER_WINDOW_SIZE", 5) * unit
        self.min_default = env_float("AIBRIX_ROUTER_VTC_TOKEN_TRACKER_MIN_TOKENS", 1000.0)
        self.max_default = env_float("AIBRIX_ROUTER_VTC_TOKEN_TRACKER_MAX_TOKENS", 8000.0)
        self.input_weight = env_float("AIBRIX_ROUTER_VTC_BASIC_INPUT_TOKEN_WEIGHT", 1.0)
        self.output_weight = env_float("AIBRIX_ROUTER_VTC_BASIC_OUTPUT_TOKEN_WEIGHT", 2.0)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, deque[list[float]]] = {}  # user -> [bucket, tokens] oldest first
        self._totals: dict[str, float] = {}

    def tokens(self, user: str) -> float:
        with self._lock:
            self._prune(user)
            return self._totals.get(user, 0.0)

    def bounds(self) -> tuple[float, float]:
        """(min, max) positive user total, the configured defaults when nobody has any."""
        with self._lock:
            totals = [t for t in self._totals.values() if t > 0]
        return (min(totals), max(totals)) if totals else (self.min_default, self.max_default)

    def add(self, user: str, input_tokens: float, output_tokens: float) -> None:
        added = (max(0.0, input_tokens) * self.input_weight
                 + max(0.0, output_tokens) * self.output_weight)
        bucket = math.floor(self._clock() / self.bucket_s)
        with self._lock:
            self._prune(user)
            buckets = self._buckets.setdefault(user, deque())
            if buckets and buckets[-1][0] == bucket:
                buckets[-1][1] += added
            else:
                buckets.append([bucket, added])
            self._totals[user] = self._totals.get(user, 0.0) + added

    def _prune(self, user: str) -> None:
        buckets = self._buckets.get(user)
        cutoff = math.floor((self._clock() - self.window_s) / self.bucket_s)
        while buckets and buckets[0][0] < cutoff:
            self._totals[user] = max(0.0, self._totals[user] - buckets.popleft()[1])


class VTCBasicRouter:
    def __init__(self, cache: Cache, tracker: TokenTracker | None = None) -> None:
        self.cache = cache
        self.tracker = tracker or TokenTracker()
        self.max_pod_load = env_float("AIBRIX_ROUTER_VTC_BASIC_MAX_POD_LOAD", 100.0)
        self.fairness_weight = env_float("AIBRIX_ROUTER_VTC_BASIC_FAIRNESS_WEIGHT", 1.0)
        self.utilization_weight = env_float("AIBRIX_ROUTER_VTC_BASIC_UTILIZATION_WEIGHT", 1.0)

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        if ctx.user is None:
            log.warning("VTC routing not possible: user is nil, falling back to random pod "
                        "selection")
            return random_pod(ready_pods)
        user_tokens = self.tracker.tokens(ctx.user)
        low, high = self.tracker.bounds()
        bucket = max(self.tracker.min_default, (low + high) / 2)
        normalized = min(user_tokens / bucket, float(len(ready_pods) - 1))
        target, best = None, math.inf
        for index, pod in enumerate(ready_pods):
            running = simple(self.cache.metric(pod, ctx.model, "num_requests_running")) or 0.0
            score = (self.fairness_weight * abs(index - normalized)
                     + self.utilization_weight * min(running / self.max_pod_load, 1.0)
                     + rng.random() * 0.1)
            if score < best:
                target, best = pod, score
        if ctx.user and not _frozen:
            self.tracker.add(ctx.user, estimate_input_tokens(ctx.message),
                             estimate_output_tokens(ctx.message))
        return target or random_pod(ready_pods)
