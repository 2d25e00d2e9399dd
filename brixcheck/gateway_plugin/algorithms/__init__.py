"""AIBrix v0.5.0's routing strategies (``pkg/plugins/gateway/algorithms``), one module per family,
and the routing flow of ``gateway.go`` selectTargetPod that the core calls per request.

``select_pod`` keeps the routable pods (Ready, with an IP, not terminating); with exactly one it
returns it without asking the router (v0.5.0 does the same, so no strategy can be told apart on
a one-pod model); else the strategy's router chooses. A name that is not registered is routed at
random with v0.5.0's warning. ``set_degraded`` is the fault hook: the named strategies route at
random (logged) until cleared.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence

from brixcheck.gateway_plugin.algorithms import engine_metrics
from brixcheck.gateway_plugin.algorithms.basic import LeastRequestRouter, RandomRouter
from brixcheck.gateway_plugin.algorithms.common import FALLBACK_MESSAGE, log, random_pod, seed
from brixcheck.gateway_plugin.algorithms.engine_metrics import LeastLatencyRouter
from brixcheck.gateway_plugin.algorithms.pd import PDRouter
from brixcheck.gateway_plugin.algorithms.preble import PrebleRouter
from brixcheck.gateway_plugin.algorithms.prefix_cache import PrefixCacheRouter
from brixcheck.gateway_plugin.algorithms.slo import SLORouter
from brixcheck.gateway_plugin.algorithms.vtc import VTCBasicRouter, set_counters_frozen
from brixcheck.gateway_plugin.types import (
    Cache,
    Pod,
    Router,
    RouterFactory,
    RoutingContext,
    RoutingError,
)

__all__ = ["FALLBACK_MESSAGE", "ROUTERS", "degraded", "routable", "seed", "select_pod",
           "set_counters_frozen", "set_degraded"]

# router.go's registry at v0.5.0: exactly these 16 names.
ROUTERS: Mapping[str, RouterFactory] = {
    "random": RandomRouter,
    "least-request": LeastRequestRouter,
    "throughput": engine_metrics.throughput,
    "prefix-cache": PrefixCacheRouter,
    "prefix-cache-preble": PrebleRouter,
    "least-kv-cache": engine_metrics.least_kv_cache,
    "least-gpu-cache": engine_metrics.least_gpu_cache,
    "least-busy-time": engine_metrics.least_busy_time,
    "least-utilization": engine_metrics.least_utilization,
    "least-latency": LeastLatencyRouter,
    "vtc-basic": VTCBasicRouter,
    "pd": PDRouter,
    "slo": lambda cache: SLORouter(cache, "pull"),
    "slo-pack-load": lambda cache: SLORouter(cache, "pack"),
    "slo-least-load": lambda cache: SLORouter(cache, "push"),
    "slo-least-load-pulling": lambda cache: SLORouter(cache, "pull"),
}

_degraded: frozenset[str] = frozenset()
# Routers hold state (prefix index, token tracker): one instance per strategy and cache, made
# on first use as v0.5.0 makes them once at start.
_instances: weakref.WeakKeyDictionary[Cache, dict[str, Router]] = weakref.WeakKeyDictionary()
_instances_lock = threading.Lock()


def set_degraded(names: Iterable[str]) -> None:
    """Fault hook: from now on the named strategies route at random (empty set: none)."""
    global _degraded
    unknown = set(names) - ROUTERS.keys()
    if unknown:
        raise ValueError(f"cannot degrade {sorted(unknown)}: not v0.5.0 strategies; "
                         f"choose from {sorted(ROUTERS)}")
    _degraded = frozenset(names)


def degraded() -> frozenset[str]:
    return _degraded


def routable(pods: Iterable[Pod]) -> list[Pod]:
    """Pods a request may go to (pkg/utils/pod.go FilterRoutablePods)."""
    return [p for p in pods if p.ready and p.ip and not p.terminating]


def router_for(name: str, cache: Cache) -> Router:
    with _instances_lock:
        routers = _instances.setdefault(cache, {})
        if name not in routers:
            routers[name] = ROUTERS[name](cache)
        return routers[name]


def select_pod(name: str, ctx: RoutingContext, ready_pods: Sequence[Pod], cache: Cache) -> Pod:
    """Route one request with strategy `name`; sets and returns `ctx.target`."""
    pods = routable(ready_pods)
    if not pods:
        raise RoutingError("no ready pods for routing")
    if len(pods) == 1:
        target = pods[0]
    elif name in _degraded:
        log.warning("strategy %s degraded to random by a fault, requestID: %s", name,
                    ctx.request_id)
        target = random_pod(pods)
    elif name not in ROUTERS:
        log.warning("Unsupported router strategy: %s, use random instead.", name)
        target = random_pod(pods)
    else:
        target = router_for(name, cache).route(ctx, pods)
    ctx.target = target
    return target
