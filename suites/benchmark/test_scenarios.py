"""Every scenario in scenarios/*.yaml, once per strategy, into records and a report.

Test ids are `<scenario>[<strategy>]`. Strategies other than `baseline` need an AIBrix gateway;
on a target without one (the twin) they are skipped as NOT-SUPPORTED with the reason. A run
whose guards are breached (errors, achieved rate) fails as invalid, not as slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brixcheck.bench.runner import run_once
from brixcheck.bench.scenario import Scenario, discover
from brixcheck.conformance.model import Capability
from brixcheck.load.records import read_records
from brixcheck.model import ModelDeployment
from brixcheck.target import Target

CASES = [(s, strategy) for s in discover() for strategy in s.strategies]


def _gateway(target: Target) -> tuple[str, dict[str, str]]:
    """Where to send, and headers the target needs for the plain-Service (baseline) path."""
    if target.kind != "twin":
        pytest.skip("gateway discovery on real clusters is not implemented yet: run on the "
                    "twin, or pass the gateway URL when that option exists")
    run_dir = Path(target.kubeconfig).parent
    return json.loads((run_dir / "dataplane.json").read_text())["gateway"], {}


def _guard(scenario: Scenario, records: list[dict]) -> None:
    expected = (scenario.load.rate_per_s or 0) * scenario.load.duration_s
    failed = [r for r in records if r["status"] != 200 or r["error"]]
    assert records, "no request completed; the run is invalid"
    error_rate = len(failed) / len(records)
    assert error_rate <= scenario.guards.max_error_rate, (
        f"invalid run: {error_rate:.1%} of requests failed, e.g. "
        f"{failed[0]['status']} {failed[0]['error'][:120]}")
    if expected:
        achieved = len(records) / expected
        assert achieved >= scenario.guards.min_achieved_fraction, (
            f"invalid run: {len(records)} of {expected:.0f} scheduled requests completed")


@pytest.mark.parametrize(("scenario", "strategy"), CASES,
                         ids=[f"{s.id}[{strategy}]" for s, strategy in CASES])
def test_scenario(scenario: Scenario, strategy: str, target: Target, model: ModelDeployment,
                  run_id: str):
    if strategy != "baseline" and Capability.AIBRIX_GATEWAY not in target.capabilities:
        pytest.skip(f"NOT-SUPPORTED: strategy {strategy} needs an AIBrix gateway "
                    f"({target.describe_missing([Capability.AIBRIX_GATEWAY.value])})")
    if scenario.workload.model != model.name:
        pytest.skip(f"scenario model {scenario.workload.model} is not the deployed {model.name}")
    host, headers = _gateway(target)
    if strategy == "baseline" and target.kind == "twin":
        headers["model"] = model.name  # the plugin sets it in AIBrix; the twin has no plugin
    for repeat in range(scenario.repeats):
        result = run_once(scenario, strategy, repeat, host, Path("reports") / f"bench-{run_id}",
                          headers)
        records = [r for f in result.records.glob("*.jsonl") for r in read_records(f)]
        _guard(scenario, records)
