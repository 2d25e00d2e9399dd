"""Where the core gets its cache and strategies: the algorithms package when present, else the
interim random-only stand-in (`interim.py`). The names the plugin accepts come from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from brixcheck.gateway_plugin.types import Pod, RoutingContext

SelectPod = Callable[[str, RoutingContext, Sequence[Pod], Any], Pod]

try:  # the algorithms branch provides these (docs/gateway-plugin.md, the contract)
    from brixcheck.gateway_plugin.algorithms import ROUTERS, select_pod, set_degraded
    from brixcheck.gateway_plugin.state import GatewayCache as _Cache

    STRATEGY_NAMES: tuple[str, ...] = tuple(ROUTERS)
    IMPLEMENTATION = "algorithms"
except ImportError:  # pragma: no cover - only before the algorithms branch is merged
    from brixcheck.gateway_plugin.interim import STRATEGIES as STRATEGY_NAMES
    from brixcheck.gateway_plugin.interim import InterimCache as _Cache
    from brixcheck.gateway_plugin.interim import select_pod

    IMPLEMENTATION = "interim-random"

    def set_degraded(names: set[str]) -> None:
        """Every strategy is random already."""


def new_cache() -> Any:
    """A fresh gateway-local cache."""
    return _Cache()


__all__ = ["IMPLEMENTATION", "STRATEGY_NAMES", "new_cache", "select_pod", "set_degraded"]
