"""The two strategies that read no engine metric: ``random`` (v0.5.0 ``random.go``) and
``least-request`` (``least_request.go``: fewest gateway-local in-flight requests, ties random;
no metric can be missing, so its random fallback is only reached with no pods at all).
"""

from __future__ import annotations

from collections.abc import Sequence

from brixcheck.gateway_plugin.algorithms.common import (
    least_request_pod,
    random_fallback,
    random_pod,
)
from brixcheck.gateway_plugin.types import Cache, Pod, RoutingContext


class RandomRouter:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        return random_pod(ready_pods)


class LeastRequestRouter:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def route(self, ctx: RoutingContext, ready_pods: Sequence[Pod]) -> Pod:
        return least_request_pod(self.cache, ready_pods) or random_fallback(ctx, ready_pods)
