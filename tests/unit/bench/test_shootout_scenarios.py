"""The shoot-out's scenarios: vllm-router policies as strategies, the multi-turn workload and
the scenario's own SLOs."""

from __future__ import annotations

import json

import pytest

from brixcheck.aibrix.v0_5 import HEADER_ROUTING_STRATEGY
from brixcheck.bench.reporting import _options
from brixcheck.bench.runner import run_spec
from brixcheck.bench.scenario import Scenario, discover_all, is_router, shootout_dir
from brixcheck.load.workload import ChatWorkload


def test_shootout_lists_eight_aibrix_strategies_and_three_router_policies():
    scenarios, bad = discover_all(shootout_dir())
    assert not bad
    assert sorted(s.id for s in scenarios) == ["shootout-multi-turn-chat",
                                               "shootout-prefix-sharing"]
    for scenario in scenarios:
        routers = [s for s in scenario.strategies if is_router(s)]
        assert len(routers) >= 3
        assert len(scenario.strategies) - len(routers) >= 8
        assert scenario.repeats >= 2
        assert _options(scenario).slos[0].name == "chat"  # the scenario's SLOs rank the table


def test_router_strategy_names_are_checked():
    base = {"id": "x", "description": "d", "workload": {"model": "m"},
            "load": {"rate_per_s": 1}}
    Scenario.model_validate({**base, "strategies": ["vllm-router:cache_aware"]})
    with pytest.raises(ValueError, match="vllm-router:<policy>"):
        Scenario.model_validate({**base, "strategies": ["vllm-router:fastest"]})


def test_a_router_run_sends_no_routing_strategy_header():
    scenario = discover_all(shootout_dir())[0][0]
    assert HEADER_ROUTING_STRATEGY not in run_spec(scenario, "vllm-router:random", {}, "r",
                                                   1).headers
    assert HEADER_ROUTING_STRATEGY in run_spec(scenario, "random", {}, "r", 1).headers


def test_multi_turn_requests_resend_the_conversation_so_far():
    chat = ChatWorkload("m", 5, 8, seed=3, sessions=2, turns=3)
    first, second, third = chat.messages(0), chat.messages(2), chat.messages(4)
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    assert second[0] == first[0]
    assert third[:3] == second
    assert len(chat.messages(6)) == 1  # after 3 turns the session starts a new conversation
    assert chat.messages(1)[0] != first[0]  # sessions differ
    assert json.loads(chat.body(4))["messages"] == third
