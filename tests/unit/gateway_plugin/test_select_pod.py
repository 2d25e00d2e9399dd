"""The flow around every strategy (gateway.go selectTargetPod) and the registry (router.go)."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter

import pytest

from brixcheck.aibrix import v0_5
from brixcheck.gateway_plugin import algorithms
from brixcheck.gateway_plugin.algorithms import ROUTERS, select_pod, set_degraded
from brixcheck.gateway_plugin.types import RoutingError
from tests.unit.gateway_plugin.conftest import make_ctx, make_pod, occupy


def test_registry_has_exactly_v050s_sixteen_names():
    assert len(ROUTERS) == 16
    assert set(ROUTERS) == set(v0_5.STRATEGY_NAMES)


@pytest.mark.parametrize("name", sorted(ROUTERS))
def test_one_ready_pod_is_returned_without_the_router(name, cache, pods, monkeypatch):
    def refuse(cache):
        raise AssertionError("router built for a single pod")
    monkeypatch.setitem(algorithms.ROUTERS, name, refuse)  # type: ignore[index]
    lone = [pods[0], dataclasses.replace(pods[1], ready=False)]
    ctx = make_ctx(algorithm=name)
    assert select_pod(name, ctx, lone, cache) is pods[0]
    assert ctx.target is pods[0]


def test_pods_without_ip_or_terminating_are_not_routable(cache, pods):
    no_ip = dataclasses.replace(make_pod("pod-5"), ip="")
    leaving = dataclasses.replace(make_pod("pod-6"), terminating=True)
    assert algorithms.routable([no_ip, leaving, pods[2]]) == [pods[2]]
    with pytest.raises(RoutingError, match="no ready pods"):
        select_pod("random", make_ctx(), [no_ip, leaving], cache)


def test_degraded_strategy_routes_at_random_and_says_so(cache, pods, caplog):
    occupy(cache, pods[0], 5)
    occupy(cache, pods[1], 5)
    set_degraded({"least-request"})
    with caplog.at_level(logging.WARNING, logger="brixcheck.gateway_plugin"):
        chosen = Counter(select_pod("least-request", make_ctx(), pods, cache).name
                         for _ in range(300))
    assert set(chosen) == {p.name for p in pods}  # healthy least-request would pick pod-2 only
    assert "degraded to random" in caplog.text
    set_degraded(())
    assert select_pod("least-request", make_ctx(), pods, cache) is pods[2]


def test_degrading_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match=r"not v0\.5\.0 strategies"):
        set_degraded({"fastest"})


def test_unregistered_name_routes_at_random_with_v050s_warning(cache, pods, caplog):
    with caplog.at_level(logging.WARNING, logger="brixcheck.gateway_plugin"):
        assert select_pod("fastest", make_ctx(), pods, cache) in pods
    assert "Unsupported router strategy: fastest" in caplog.text
