"""Fixtures for the routing-algorithm tests: three pods of model `m` in a real GatewayCache,
every random choice seeded, no strategy degraded, vtc-basic's counters running."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from brixcheck.gateway_plugin import algorithms
from brixcheck.gateway_plugin.state import GatewayCache
from brixcheck.gateway_plugin.types import Pod, RoutingContext

MODEL = "m"


def make_pod(name: str, ip: str = "", **labels: str) -> Pod:
    return Pod(name=name, namespace="ns", ip=ip or f"10.0.0.{name[-1]}",
               labels={"model.aibrix.ai/name": MODEL, **labels})


def make_ctx(message: str = "hello", request_id: str = "r1", user: str | None = None,
             algorithm: str = "random", **kwargs: object) -> RoutingContext:
    return RoutingContext(algorithm=algorithm, model=MODEL, message=message,
                          request_id=request_id, user=user, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _seeded() -> Iterator[None]:
    algorithms.seed(20261206)
    algorithms.set_degraded(())
    yield
    algorithms.set_degraded(())
    algorithms.set_counters_frozen(False)


@pytest.fixture
def pods() -> list[Pod]:
    return [make_pod(f"pod-{i}") for i in range(3)]


@pytest.fixture
def cache(pods: list[Pod]) -> GatewayCache:
    cache = GatewayCache()
    cache.set_pods(pods)
    return cache


def occupy(cache: GatewayCache, pod: Pod, n: int) -> None:
    """Make `n` requests in flight on `pod` through the gateway's own accounting."""
    for i in range(n):
        ctx = make_ctx(request_id=f"busy-{pod.name}-{i}")
        ctx.target = pod
        cache.add_request_count(ctx)
