"""least-request and prefix-cache: property-style checks over many seeded random situations."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from brixcheck.gateway_plugin.algorithms import select_pod
from brixcheck.gateway_plugin.algorithms.prefix_cache import PrefixCacheRouter
from brixcheck.gateway_plugin.algorithms.prefix_index import PrefixHashTable
from brixcheck.gateway_plugin.state import GatewayCache
from tests.unit.gateway_plugin.conftest import MODEL, make_ctx, make_pod, occupy


@pytest.mark.parametrize("case", range(40))
def test_least_request_always_takes_a_least_loaded_pod(case):
    draw = random.Random(case)
    pods = [make_pod(f"pod-{i}") for i in range(draw.randint(2, 6))]
    cache = GatewayCache()
    cache.set_pods(pods)
    for pod in pods:
        occupy(cache, pod, draw.randint(0, 20))
    low = min(cache.running_requests(p) for p in pods)
    for _ in range(5):
        chosen = select_pod("least-request", make_ctx(), pods, cache)
        assert cache.running_requests(chosen) == low


def test_least_request_spreads_routed_load_evenly(cache, pods):
    for i in range(30):
        ctx = make_ctx(request_id=f"r{i}")
        select_pod("least-request", ctx, pods, cache)
        cache.add_request_count(ctx)  # as the core does once the request is routed
    assert [cache.running_requests(p) for p in pods] == [10, 10, 10]


def test_least_request_breaks_ties_at_random(cache, pods):
    occupy(cache, pods[2], 1)
    counts = Counter(select_pod("least-request", make_ctx(), pods, cache).name for _ in range(200))
    assert set(counts) == {"pod-0", "pod-1"}
    assert min(counts.values()) > 70


def _router(cache, block_size=4, imbalance=8, stddev=1):
    router = PrefixCacheRouter(cache, PrefixHashTable(block_size=block_size))
    router.imbalance, router.stddev_factor = imbalance, stddev
    return router


@pytest.mark.parametrize("case", range(20))
def test_a_shared_prefix_sticks_to_the_pod_that_first_served_it(case, cache, pods):
    draw = random.Random(case)
    router = _router(cache)
    prefix = "".join(draw.choice("abcdefgh") for _ in range(400))
    first = router.route(make_ctx(prefix + "q0"), pods)
    for i in range(1, 10):
        assert router.route(make_ctx(prefix + f"q{i}"), pods) is first


def test_distinct_prefixes_spread_by_least_request(cache, pods):
    router = _router(cache)
    chosen = Counter()
    for i in range(300):
        ctx = make_ctx(f"{i:04d} unrelated prompt number {i} " * 3, request_id=f"r{i}")
        ctx.target = router.route(ctx, pods)
        cache.add_request_count(ctx)  # stays in flight: least-request keeps them level
        chosen[ctx.target.name] += 1
    assert chosen == {"pod-0": 100, "pod-1": 100, "pod-2": 100}


def test_an_overloaded_matching_pod_is_passed_over(cache, pods):
    router = _router(cache, stddev=1)
    prompt = "the same long system prompt " * 20
    owner = router.route(make_ctx(prompt), pods)
    occupy(cache, owner, 6)  # mean 2, std-dev ~3.5: 6 > 2 + 1 * 3.5
    assert router.route(make_ctx(prompt), pods) is not owner


def test_load_imbalance_skips_prefix_matching(cache, pods):
    router = _router(cache, imbalance=8)
    prompt = "sticky prefix " * 30
    owner = router.route(make_ctx(prompt), pods)
    others = [p for p in pods if p is not owner]
    occupy(cache, owner, 9)
    occupy(cache, others[0], 9)  # max - min = 9 > 8: route to the idle pod despite the match
    assert router.route(make_ctx(prompt), pods) is others[1]


def test_match_percent_counts_leading_blocks_only():
    index = PrefixHashTable(block_size=4)
    index.add_prefix(index.prefix_hashes(b"aaaabbbbcccc"), MODEL, "pod-0")
    matched, hashes = index.match_prefix(b"aaaabbbbdddd", MODEL, {"pod-0", "pod-1"})
    assert (matched, len(hashes)) == ({"pod-0": 66}, 3)
    assert index.match_prefix(b"xaaabbbbcccc", MODEL, {"pod-0"})[0] == {}
    assert index.match_prefix(b"aaaabbbbcccc", "other-model", {"pod-0"})[0] == {}


def test_index_forgets_idle_blocks_and_keeps_its_capacity():
    now = [0.0]
    index = PrefixHashTable(block_size=2, capacity=3, ttl_s=60, clock=lambda: now[0])
    index.add_prefix(index.prefix_hashes(b"aabbccdd"), MODEL, "pod-0")
    assert len(index) == 3
    now[0] = 61.0
    assert index.match_prefix(b"aabb", MODEL, {"pod-0"})[0] == {}


def test_each_pod_keeps_the_percent_of_its_own_longest_match():
    index = PrefixHashTable(block_size=2)
    index.add_prefix(index.prefix_hashes(b"aabbccdd"), MODEL, "deep")
    index.add_prefix(index.prefix_hashes(b"aabb"), MODEL, "shallow")
    matched, _ = index.match_prefix(b"aabbccdd", MODEL, {"deep", "shallow", "cold"})
    assert matched == {"deep": 100, "shallow": 50}
