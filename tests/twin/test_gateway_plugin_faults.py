"""Each gateway case fails under its gateway-plugin fault, with its remedy, and the plugin comes
back after a crash. Faults are switched on the emulator's control port (brixcheck.gateway_plugin
.faults); the suite runs as a user runs it, in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.twin.cluster import TwinLayout
from brixcheck.twin.gateway_plugin import health_serving
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]


def run_cases(*args: str) -> dict[str, dict]:
    done = subprocess.run([sys.executable, "-m", "pytest", "suites/conformance", "-q",
                           "-p", "no:cacheprovider", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=500, check=False)
    report = json.loads((REPO / "reports" / "conformance-latest.json").read_text())
    assert report["cases"], done.stdout[-2000:]
    return {case["id"]: case for case in report["cases"]}


@pytest.fixture(scope="module")
def control(twin: TwinLayout) -> str:
    return json.loads((twin.run_dir / "dataplane.json").read_text())["gateway_plugin_control"]


@pytest.fixture
def fault(control: str) -> Iterator[callable]:
    def set_fault(**changes: object) -> None:
        reply = httpx.put(f"{control}/brixcheck/faults", json=changes, timeout=5,
                          trust_env=False)
        assert reply.status_code == 200, reply.text

    yield set_fault
    httpx.put(f"{control}/brixcheck/faults", timeout=5, trust_env=False,
              json={"degraded": [], "wrong_target": False, "error_header": "",
                    "latency_s": 0.0, "vtc_frozen": False})


def test_wrong_error_value_fails_every_error_row_with_the_remedy(fault):
    fault(error_header="value")
    cases = run_cases("-k", "gateway_error")
    errors = {i: c for i, c in cases.items()
              if i.startswith("GatewayError") and i != "GatewayErrorsSayJson"}
    assert len(errors) == 9
    for case in errors.values():
        assert case["outcome"] == "FAIL", case
        assert "v0.5.0's error table" in case["remedy"]


def test_wrong_error_name_fails_the_error_rows(fault):
    fault(error_header="name")
    cases = run_cases("-k", "gateway_error and (stream or messages)")
    assert {c["outcome"] for i, c in cases.items()
            if i.startswith("GatewayError") and i != "GatewayErrorsSayJson"} == {"FAIL"}


def test_wrong_target_pod_fails_the_strategy_cases(fault, more_gpus):
    fault(wrong_target=True)
    cases = run_cases("-k", "(strategy_answers and (random or least-request)) or pd_answers")
    strategies = {i: c for i, c in cases.items() if i.startswith("Strategy")}
    assert len(strategies) == 3
    for case in strategies.values():
        assert case["outcome"] == "FAIL", case
        assert "aibrix-gateway-plugins" in case["remedy"]
    pd = strategies.pop("StrategyPdAnswersWithDecodePod")
    assert "decode pod" in pd["reason"], "pd names the prefill pod instead of the decode pod"
    for case in strategies.values():
        assert "other than the one that served" in case["reason"]


@pytest.mark.parametrize(("strategy", "selected", "case_id"), [
    ("least-request", "least_request", "RoutingLeastRequestAvoidsBusyPod"),
    ("vtc-basic", "vtc_basic", "RoutingVtcBasicFairUnderUnequalDemand"),
])
def test_degraded_strategy_fails_its_routing_behaviour_case(fault, more_gpus, strategy: str,
                                                            selected: str, case_id: str):
    fault(degraded=[strategy])
    cases = run_cases("-k", selected, "suites/conformance/test_routing_behaviour.py")
    case = cases[case_id]
    assert case["outcome"] == "FAIL", case
    assert "aibrix-gateway-plugins" in case["remedy"]


def test_frozen_vtc_counters_fail_the_vtc_case(fault, more_gpus):
    """Counters that never grow send both users to the first pod: the heavy user lands on the
    light user's pod."""
    fault(vtc_frozen=True)
    case = run_cases("-k", "vtc_basic", "suites/conformance/test_routing_behaviour.py")[
        "RoutingVtcBasicFairUnderUnequalDemand"]
    assert case["outcome"] == "FAIL", case
    assert "heavy user to the light user's pod" in case["reason"], case


def test_added_latency_fails_the_overhead_case(fault):
    fault(latency_s=0.2)
    case = run_cases("-k", "adds_little_ttft")["GatewayAddsLittleTtft"]
    assert case["outcome"] == "FAIL", case
    assert "adds" in case["reason"]
    assert "gateway plugin" in case["remedy"]


def test_crash_fails_closed_then_the_twin_restarts_the_plugin(control: str, twin: TwinLayout):
    port = int(json.loads((twin.run_dir / "dataplane.json").read_text())["gateway_plugin"]
               .rsplit(":", 1)[1])
    gateway = json.loads((twin.run_dir / "dataplane.json").read_text())["gateway"]
    with pytest.raises(httpx.HTTPError):  # the process exits before it answers
        httpx.put(f"{control}/brixcheck/faults", json={"crash": True}, timeout=5,
                  trust_env=False)
    reply = httpx.post(f"{gateway}/v1/chat/completions", headers={"routing-strategy": "random"},
                       json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert reply.status_code == 500, "Envoy fails closed while the plugin is down"
    wait_until(lambda: health_serving(port), 30, "the twin to restart the plugin")
    again = httpx.post(f"{gateway}/v1/chat/completions", headers={"routing-strategy": "random"},
                       json={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert again.headers.get("x-error-no-model-backends") == "m", "the plugin answers again"
