"""Every scenario in scenarios/*.yaml, per strategy and repeat, into records and a report.

Runs are ordered repeat by repeat (r0: A, B, C; r1: A, B, C) so slow drift does not favour one
strategy; engine prefix caches are reset before each run. Strategies other than `baseline` need
an AIBrix gateway; on a target without one (the twin) they are skipped as NOT-SUPPORTED with the
reason. `load.where: cluster` (or `--load-where cluster`) starts the load as Locust Jobs inside
the cluster; the twin runs no containers, so there it is NOT-SUPPORTED. A run whose guards are
breached fails as invalid, not as slow. At the end each scenario gets its report (HTML, JSON,
CSV, strategy comparison) and is stored in the results history.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from brixcheck.bench.incluster import DEFAULT_IMAGE, LoadgenSpec
from brixcheck.bench.incluster_run import run_in_cluster
from brixcheck.bench.reporting import environment_stamp, report_scenario, run_info
from brixcheck.bench.runner import RunResult, run_once
from brixcheck.bench.scenario import Scenario, discover
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


def _reset_caches(target: Target, model: ModelDeployment) -> None:
    """Flush every model pod's prefix cache so no strategy inherits another's warm cache."""
    for pod in target.core.list_namespaced_pod(model.namespace,
                                               label_selector=model.selector).items:
        if pod.status.pod_ip:
            httpx.post(f"http://{pod.status.pod_ip}:8000/reset_prefix_cache", timeout=5)


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


def _in_cluster(scenario: Scenario, strategy: str, repeat: int, target: Target,
                model: ModelDeployment, run_id: str, config: pytest.Config) -> RunResult:
    """The run as Locust Jobs next to the model (only the baseline path is known in-cluster)."""
    if strategy != "baseline":
        pytest.skip("in-cluster gateway discovery is not implemented yet: use load.where local")
    spec = LoadgenSpec(scenario, strategy, f"http://{model.name}.{model.namespace}.svc:8000",
                       run_id, model.namespace, f"bc-load-{run_id}-{repeat}"[:52].rstrip("-"),
                       config.getoption("--loadgen-image") or DEFAULT_IMAGE,
                       not config.getoption("--loadgen-no-install"))
    return run_in_cluster(target.api_client, spec, repeat, Path("reports") / f"bench-{run_id}")


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
                  pytestconfig: pytest.Config):
    where = pytestconfig.getoption("--load-where") or scenario.load.where
    if where == "cluster" and Capability.CONTAINER_RUNTIME not in target.capabilities:
        pytest.skip("NOT-SUPPORTED: in-cluster load needs pods that run containers "
                    f"({target.describe_missing([Capability.CONTAINER_RUNTIME.value])})")
    if strategy != "baseline" and Capability.AIBRIX_GATEWAY not in target.capabilities:
        pytest.skip(f"NOT-SUPPORTED: strategy {strategy} needs an AIBrix gateway "
                    f"({target.describe_missing([Capability.AIBRIX_GATEWAY.value])})")
    if scenario.workload.model != model.name:
        pytest.skip(f"scenario model {scenario.workload.model} is not the deployed {model.name}")
    if where == "cluster":
        _reset_caches(target, model)
        result = _in_cluster(scenario, strategy, repeat, target, model, run_id, pytestconfig)
    else:
        host = _gateway(target)
        # The gateway plugin sets `model` for header-less requests; the twin has no plugin.
        headers = {"model": model.name} if strategy == "baseline" and target.kind == "twin" else {}
        _reset_caches(target, model)
        result = run_once(scenario, strategy, repeat, host, Path("reports") / f"bench-{run_id}",
                          headers)
    bench_runs.setdefault(scenario.id, []).append(result)
    _guard(scenario, [r for f in result.records.glob("*.jsonl") for r in read_records(f)])
