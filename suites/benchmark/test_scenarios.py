"""Every scenario in scenarios/*.yaml, per strategy and repeat, into records and a report.

Runs are ordered repeat by repeat (r0: A, B, C; r1: A, B, C) so slow drift does not favour one
strategy; engine prefix caches are reset before each run. Strategies other than `baseline` need
an AIBrix gateway; on a target without one (the twin) they are skipped as NOT-SUPPORTED with the
reason. A run whose guards are breached fails as invalid, not as slow. While each run goes on,
every model pod's /metrics (and NVML, where present) is sampled beside its records
(docs/benchmarks.md, Telemetry). At the end each scenario gets its report (HTML, JSON, CSV,
strategy comparison) and is stored in the results history.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.bench.reporting import environment_stamp, report_scenario, run_info
from brixcheck.bench.runner import RunResult, records_dir, run_once
from brixcheck.bench.scenario import Scenario, discover
from brixcheck.bench.telemetry import TelemetrySampler, telemetry_path
from brixcheck.conformance.model import Capability
from brixcheck.load.records import read_records
from brixcheck.model import ModelDeployment
from brixcheck.target import Target

SCENARIOS = discover()
CASES = [(s, r, strategy) for s in SCENARIOS for r in range(s.repeats) for strategy in s.strategies]


def _gateway(target: Target) -> str:
    if target.kind != "twin":
        pytest.skip("gateway discovery on real clusters is not implemented yet: run on the twin")
    return json.loads((Path(target.kubeconfig).parent / "dataplane.json").read_text())["gateway"]


def _engine_urls(target: Target, model: ModelDeployment) -> dict[str, str]:
    """Every model pod with an address: pod name -> engine base URL."""
    return {pod.metadata.name: f"http://{pod.status.pod_ip}:8000" for pod in
            target.core.list_namespaced_pod(model.namespace, label_selector=model.selector).items
            if pod.status.pod_ip}


def _reset_caches(target: Target, model: ModelDeployment) -> None:
    """Flush every model pod's prefix cache so no strategy inherits another's warm cache."""
    for url in _engine_urls(target, model).values():
        httpx.post(f"{url}/reset_prefix_cache", timeout=5)


def _guard(scenario: Scenario, records: list[dict]) -> None:
    expected = (scenario.load.rate_per_s or 0) * scenario.load.duration_s
    failed = [r for r in records if r["status"] != 200 or r["error"]]
    assert records, "invalid run: no request completed"
    error_rate = len(failed) / len(records)
    assert error_rate <= scenario.guards.max_error_rate, (
        f"invalid run: {error_rate:.1%} of requests failed, e.g. "
        f"{failed[0]['status']} {failed[0]['error'][:120]}")
    if expected:
        assert len(records) >= scenario.guards.min_achieved_fraction * expected, (
            f"invalid run: {len(records)} of {expected:.0f} scheduled requests completed")


@pytest.fixture(scope="session")
def bench_runs(target: Target, model: ModelDeployment, run_id: str,
               request: pytest.FixtureRequest) -> Iterator[dict[str, list[RunResult]]]:
    """Collects the runs; at the end (Ctrl-C too) writes each scenario's report."""
    runs: dict[str, list[RunResult]] = {}
    yield runs
    out = Path("reports") / f"bench-{run_id}"
    image = model.container.get("image", "")
    for scenario in SCENARIOS:
        done = runs.get(scenario.id, [])
        if not done:
            continue
        expected = scenario.repeats * len(scenario.strategies)
        partial = "" if len(done) == expected else f"{len(done)} of {expected} runs finished"
        info = run_info(run_id, scenario, environment_stamp(target.environment, scenario, image),
                        partial)
        paths = report_scenario(scenario, done, info, out,
                                Path(request.config.getoption("--history-db")))
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"benchmark report: {paths.html}")


@pytest.mark.parametrize(("scenario", "repeat", "strategy"), CASES,
                         ids=[f"{s.id}[{strategy}]-r{r}" for s, r, strategy in CASES])
def test_scenario(scenario: Scenario, repeat: int, strategy: str, target: Target,
                  model: ModelDeployment, bench_runs: dict[str, list[RunResult]], run_id: str,
                  request: pytest.FixtureRequest):
    if strategy != "baseline" and Capability.AIBRIX_GATEWAY not in target.capabilities:
        pytest.skip(f"NOT-SUPPORTED: strategy {strategy} needs an AIBrix gateway "
                    f"({target.describe_missing([Capability.AIBRIX_GATEWAY.value])})")
    if scenario.workload.model != model.name:
        pytest.skip(f"scenario model {scenario.workload.model} is not the deployed {model.name}")
    host = _gateway(target)
    # The gateway plugin sets `model` for header-less requests; the twin has no plugin.
    headers = {"model": model.name} if strategy == "baseline" and target.kind == "twin" else {}
    _reset_caches(target, model)
    out = Path("reports") / f"bench-{run_id}"
    interval = float(request.config.getoption("--telemetry-interval"))
    if interval > 0:
        samples = telemetry_path(records_dir(scenario, strategy, repeat, out))
        with TelemetrySampler(samples, lambda: _engine_urls(target, model), interval):
            result = run_once(scenario, strategy, repeat, host, out, headers)
        result = dataclasses.replace(result, telemetry=samples)
    else:
        result = run_once(scenario, strategy, repeat, host, out, headers)
    bench_runs.setdefault(scenario.id, []).append(result)
    _guard(scenario, [r for f in result.records.glob("*.jsonl") for r in read_records(f)])
