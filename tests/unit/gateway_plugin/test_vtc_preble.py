"""vtc-basic (fairness by user token totals) and prefix-cache-preble (radix tree + cost model)."""

from __future__ import annotations

import logging
from collections import Counter

from brixcheck.gateway_plugin import algorithms
from brixcheck.gateway_plugin.algorithms.preble import PrebleRouter, RadixTree
from brixcheck.gateway_plugin.algorithms.vtc import TokenTracker, VTCBasicRouter
from tests.unit.gateway_plugin.conftest import make_ctx


def test_vtc_without_user_routes_at_random_and_says_so(cache, pods, caplog):
    router = VTCBasicRouter(cache)
    with caplog.at_level(logging.WARNING, logger="brixcheck.gateway_plugin"):
        counts = Counter(router.route(make_ctx(), pods).name for _ in range(300))
    assert min(counts.values()) > 60
    assert "user is nil" in caplog.text


def test_vtc_moves_a_heavy_user_away_from_a_light_one(cache, pods):
    router = VTCBasicRouter(cache, TokenTracker(clock=lambda: 1000.0))
    router.tracker.add("heavy", 4000, 4000)  # 12000 weighted tokens; bounds become 12000
    light = Counter(router.route(make_ctx("hi", user="light"), pods).name for _ in range(50))
    assert light == {"pod-0": 50}  # normalised 0 -> index 0
    router2 = VTCBasicRouter(cache, TokenTracker(clock=lambda: 1000.0))
    router2.tracker.add("heavy", 4000, 4000)
    router2.tracker.add("light", 10, 10)
    heavy = router2.route(make_ctx("hi", user="heavy"), pods)
    assert heavy.name == "pod-2"  # 12000 / max(1000, 6015) ~ 2 -> last index


def test_vtc_counts_engine_load_when_exported(cache, pods):
    router = VTCBasicRouter(cache, TokenTracker(clock=lambda: 1000.0))
    router.utilization_weight = 2.0  # AIBRIX_ROUTER_VTC_BASIC_UTILIZATION_WEIGHT
    idle = Counter(router.route(make_ctx("x", user=""), pods).name for _ in range(20))
    assert idle == {"pod-0": 20}  # user with no tokens: index 0
    cache.set_pod_metrics(pods[0], {"num_requests_running": 100.0}, {})  # utilisation 1.0
    busy = Counter(router.route(make_ctx("x", user=""), pods).name for _ in range(50))
    assert busy == {"pod-1": 50}  # pod-0: 0 + 2 x 1.0; pod-1: 1 + 0 (+ noise < 0.1 each)


def test_token_window_drops_old_buckets():
    now = [0.0]
    tracker = TokenTracker(clock=lambda: now[0])
    tracker.add("u", 100, 0)
    now[0] = 200.0
    tracker.add("u", 10, 0)
    assert tracker.tokens("u") == 110.0
    now[0] = 301.0  # window 5 minutes: the first bucket (t=0) is out
    assert tracker.tokens("u") == 10.0


def test_radix_tree_reports_the_matched_part_and_splits_edges():
    tree = RadixTree(clock=lambda: 0.0)
    leaf, matched = tree.insert(b"abcdef")
    assert (matched, leaf.context_length) == (0, 6)
    node, matched = tree.insert(b"abcxyz")
    assert matched == 3
    assert node.parent is not None
    assert node.parent.key == b"abc"
    node, matched = tree.insert(b"abc")
    assert (matched, node.key) == (3, b"abc")


def test_preble_sends_a_mostly_matching_prompt_to_the_pod_that_has_it(cache, pods):
    router = PrebleRouter(cache, clock=lambda: 0.0)
    prompt = "system: you are a careful assistant. " * 10
    owner = router.route(make_ctx(prompt + "first"), pods)
    for i in range(5):
        assert router.route(make_ctx(prompt + f"question {i}"), pods) is owner


def test_preble_spreads_unmatched_prompts_by_cost(cache, pods):
    router = PrebleRouter(cache, clock=lambda: 0.0)
    chosen = Counter(router.route(make_ctx(f"{i} distinct words {i * 7919}"), pods).name
                     for i in range(30))
    assert len(chosen) == 3
    assert max(chosen.values()) <= 12


def _vtc_case_run(router: VTCBasicRouter, pods, heavy: str, light: str) -> dict[str, Counter]:
    """The conformance case's sequence: 6 heavy warm-up requests (2,000 characters), one light
    (200), then 6 rounds of one each; the pods chosen in the rounds."""
    def route(user: str, size: int) -> str:
        return router.route(make_ctx("x" * size, user=user), pods).name
    for _ in range(6):
        route(heavy, 2000)
    route(light, 200)
    chosen = {"heavy": Counter(), "light": Counter()}
    for _ in range(6):
        chosen["heavy"][route(heavy, 2000)] += 1
        chosen["light"][route(light, 200)] += 1
    return chosen


def test_vtc_case_sequence_keeps_the_light_user_alone(cache, pods):
    router = VTCBasicRouter(cache, TokenTracker(clock=lambda: 1000.0))
    chosen = _vtc_case_run(router, pods, "heavy", "light")
    assert chosen == {"heavy": {"pod-2": 6}, "light": {"pod-0": 6}}


def test_vtc_case_sequence_separates_users_beside_an_earlier_runs_users(cache, pods):
    """An earlier run's users still in the 5-minute window hold as many tokens as this run's
    will: the heavy user starts on the middle pod, never on the light user's."""
    router = VTCBasicRouter(cache, TokenTracker(clock=lambda: 1000.0))
    _vtc_case_run(router, pods, "heavy-before", "light-before")
    chosen = _vtc_case_run(router, pods, "heavy", "light")
    assert chosen["light"] == {"pod-0": 6}
    assert "pod-0" not in chosen["heavy"]


def test_frozen_counters_put_both_users_on_one_pod(cache, pods):
    """The `vtc_frozen` fault: nobody's total grows, every user normalises to 0."""
    algorithms.set_counters_frozen(True)
    router = VTCBasicRouter(cache, TokenTracker(clock=lambda: 1000.0))
    chosen = _vtc_case_run(router, pods, "heavy", "light")
    assert chosen == {"heavy": {"pod-0": 6}, "light": {"pod-0": 6}}
    assert router.tracker.tokens("heavy") == 0.0
