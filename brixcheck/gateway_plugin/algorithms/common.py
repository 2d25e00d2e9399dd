"""What several strategies share (v0.5.0 ``algorithms/util.go``, ``least_request.go`` helpers,
``pkg/utils/pod.go`` SelectRandomPod): the random source, the logged random fallback, the
gateway-local request counts, mean and sample standard deviation, environment settings.
"""

from __future__ import annotations

import logging
import math
import os
import random
from collections.abc import Sequence

from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext, RoutingError

log = logging.getLogger("brixcheck.gateway_plugin")

# One process-wide source, as v0.5.0 uses math/rand's global one; tests seed it (`seed`).
rng = random.Random()

# The fallback line v0.5.0 logs (util.go SelectRandomPodAsFallback); the suite greps for it.
FALLBACK_MESSAGE = "No suitable pods found; selecting a pod randomly as fallback, requestID: %s"


def seed(value: int | None) -> None:
    """Make every random choice of the algorithms repeatable."""
    rng.seed(value)


def random_pod(pods: Sequence[Pod]) -> Pod:
    if not pods:
        raise RoutingError("no pods to forward request")
    return pods[rng.randrange(len(pods))]


def random_fallback(ctx: RoutingContext, pods: Sequence[Pod]) -> Pod:
    """The logged random choice a strategy makes when no pod has the values it needs."""
    log.warning(FALLBACK_MESSAGE, ctx.request_id)
    return random_pod(pods)


def request_counts(cache: Cache, pods: Sequence[Pod]) -> dict[str, int]:
    """Gateway-local in-flight count per pod name (getRequestCounts; absent counts as 0)."""
    return {p.name: cache.running_requests(p) for p in pods}


def least_request_pod(cache: Cache, pods: Sequence[Pod]) -> Pod | None:
    """A pod with the fewest in-flight requests, ties broken at random."""
    counts = [cache.running_requests(p) for p in pods]
    if not counts:
        return None
    low = min(counts)
    return random_pod([p for p, c in zip(pods, counts, strict=True) if c == low])


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (n - 1), 0 for fewer than two values."""
    if len(values) <= 1:
        return 0.0
    avg = mean(values)
    return math.sqrt(sum((v - avg) ** 2 for v in values) / (len(values) - 1))


def env_int(name: str, default: int) -> int:
    """An integer setting as v0.5.0 LoadEnvInt reads it: unset or unparsable means default."""
    try:
        return int(os.environ.get(name, ""))
    except ValueError:
        return default


def env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, ""))
    except ValueError:
        return default


def env_str(name: str, default: str) -> str:
    return os.environ.get(name) or default
