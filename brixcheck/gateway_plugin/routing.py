"""What the core needs from the algorithms package (the contract): the registered names, the
cache, `select_pod` and the algorithm faults (degraded strategies, vtc-basic's frozen
counters). `pd` posts the prefill request inside its router, so that one runs in a worker
thread instead of on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from brixcheck.gateway_plugin.algorithms import (
    ROUTERS,
    select_pod,
    set_counters_frozen,
    set_degraded,
)
from brixcheck.gateway_plugin.state import GatewayCache
from brixcheck.gateway_plugin.types import Pod, RoutingContext

STRATEGY_NAMES: tuple[str, ...] = tuple(ROUTERS)
BLOCKING_STRATEGIES = frozenset({"pd"})


def new_cache() -> GatewayCache:
    """A fresh gateway-local cache."""
    return GatewayCache()


async def select(ctx: RoutingContext, ready: Sequence[Pod], cache: Any) -> Pod:
    """select_pod for the request's strategy, off the loop when the router does I/O."""
    if ctx.algorithm in BLOCKING_STRATEGIES:
        return await asyncio.to_thread(select_pod, ctx.algorithm, ctx, ready, cache)
    return select_pod(ctx.algorithm, ctx, ready, cache)


__all__ = ["STRATEGY_NAMES", "new_cache", "select", "set_counters_frozen", "set_degraded"]
