"""Every scenario in scenarios/*.yaml, per strategy and repeat, into records and a report.

Runs are ordered repeat by repeat (r0: A, B, C; r1: A, B, C) so slow drift does not favour one
strategy; engine prefix caches are reset before each run. Strategies other than `baseline` need
an AIBrix gateway; on a target without one (the twin) they are skipped as NOT-SUPPORTED with the
reason. `load.where: cluster` (or `--load-where cluster`) starts the load as Locust Jobs inside
the cluster; the twin runs no containers, so there it is NOT-SUPPORTED. A run whose guards are
breached fails as invalid, not as slow, except in a rate sweep: there the first breached level
is where the target saturates, so the strategy's sweep stops there (its later levels are
skipped with the reason) and the report lists it. While each run goes on, every model pod's
/metrics (and NVML, where present) is sampled beside its records (docs/benchmarks.md,
Telemetry). At the end each scenario gets its report (HTML, JSON, CSV, strategy comparison),
stored in the results history.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from brixcheck.bench.incluster import DEFAULT_IMAGE, LoadgenSpec
from brixcheck.bench.incluster_run import run_in_cluster
from brixcheck.bench.reporting import (
    environment_stamp,
    guard_breaches,
    partial_reason,
    report_scenario,
    run_info,
)
from brixcheck.bench.runner import (
    RunInterrupted,
    RunResult,
    records_dir,
    run_once,
    with_telemetry,
)
from brixcheck.bench.scenario import ROUTER_PREFIX, Scenario, discover_all, is_router, scenario_dir
from brixcheck.bench.telemetry import TelemetrySampler, telemetry_path
from brixcheck.bench.terminal import leaderboard_table, summary_table
from brixcheck.conformance.model import Capability
from brixcheck.errors import BrixcheckError
from brixcheck.fixtures.terminal import terminal_line
from brixcheck.load.records import read_records
from brixcheck.model import ModelDeployment
from brixcheck.routers import vllm_router
from brixcheck.target import Target

SCENARIOS, BAD_FILES = discover_all(scenario_dir())
CASES = [(s, r, strategy, rate) for s in SCENARIOS for r in range(s.repeats)
         for strategy in s.strategies for rate in s.load.levels()]


def _engine_urls(target: Target, model: ModelDeployment) -> dict[str, str]:
    """Every model pod with an address: pod name -> engine base URL."""
    return {pod.metadata.name: f"http://{pod.status.pod_ip}:8000" for pod in
            target.core.list_namespaced_pod(model.namespace, label_selector=model.selector).items
            if pod.status.pod_ip}


def _reset_caches(target: Target, model: ModelDeployment) -> None:
    """Flush every model pod's prefix cache so no strategy inherits another's warm cache."""
    for url in _engine_urls(target, model).values():
        httpx.post(f"{url}/reset_prefix_cache", timeout=5)


def _guard(scenario: Scenario, result: RunResult) -> None:
    breaches = guard_breaches(scenario, result)
    if not breaches:
        return
    failed = [r for f in result.records.glob("*.jsonl") for r in read_records(f)
              if r["status"] != 200 or r["error"]]
    example = f" (e.g. {failed[0]['status']} {failed[0]['error'][:120]})" if failed else ""
    assert not breaches, "invalid run: " + "; ".join(breaches) + example


def _unfinished(scenario: Scenario, done: list[RunResult],
                saturated: dict[tuple[str, str, int], str]) -> int:
    """Runs neither done nor skipped because their sweep had already saturated."""
    levels = len(scenario.load.levels())
    missing = 0
    for repeat in range(scenario.repeats):
        for strategy in scenario.strategies:
            ran = sum(1 for r in done if (r.strategy, r.repeat) == (strategy, repeat))
            stopped = (scenario.id, strategy, repeat) in saturated
            missing += 0 if stopped else levels - ran
    return missing


def _in_cluster(scenario: Scenario, strategy: str, repeat: int, target: Target,
                model: ModelDeployment, run_id: str, config: pytest.Config) -> RunResult:
    """The run as Locust Jobs next to the model (only the baseline path is known in-cluster)."""
    if strategy != "baseline":
        pytest.skip("in-cluster gateway discovery is not implemented yet: use load.where local")
    if scenario.load.sweep_rates_per_s:
        pytest.skip("rate sweeps run with load.where local only, for now")
    spec = LoadgenSpec(scenario, strategy, f"http://{model.name}.{model.namespace}.svc:8000",
                       run_id, model.namespace, f"bc-load-{run_id}-{repeat}"[:52].rstrip("-"),
                       config.getoption("--loadgen-image") or DEFAULT_IMAGE,
                       not config.getoption("--loadgen-no-install"))
    return run_in_cluster(target.api_client, spec, repeat, Path("reports") / f"bench-{run_id}")


def _local_run(scenario: Scenario, strategy: str, repeat: int, rate: float | None,
               target: Target, model: ModelDeployment, run_id: str,
               config: pytest.Config, host: str) -> RunResult:
    """Locust on this machine through the gateway, with the engines' telemetry sampled."""
    # The gateway plugin sets `model` for header-less requests; the twin has no plugin.
    headers = {"model": model.name} if strategy == "baseline" and target.kind == "twin" else {}
    _reset_caches(target, model)
    out = Path("reports") / f"bench-{run_id}"
    level = rate if scenario.load.sweep_rates_per_s else None
    interval = float(config.getoption("--telemetry-interval"))
    def progress(line: str) -> None:
        terminal_line(config, line)

    with ExitStack() as stack:
        if is_router(strategy):  # the router in front of the same pods, instead of the gateway
            log = records_dir(scenario, strategy, repeat, out, level).with_suffix(".router.log")
            router = stack.enter_context(vllm_router.running(
                list(_engine_urls(target, model).values()),
                strategy.removeprefix(ROUTER_PREFIX), log))
            host, headers = router.url, {}
        if interval <= 0:
            return run_once(scenario, strategy, repeat, host, out, headers, level, progress)
        samples = telemetry_path(records_dir(scenario, strategy, repeat, out, level))
        try:
            with TelemetrySampler(samples, lambda: _engine_urls(target, model), interval):
                result = run_once(scenario, strategy, repeat, host, out, headers, level,
                                  progress)
        except RunInterrupted as stop:
            stop.result = with_telemetry(stop.result, samples)
            raise
    return with_telemetry(result, samples)


def _require_loopback_pods(target: Target, model: ModelDeployment) -> None:
    """vllm-router runs on this machine, in front of pods it can reach on loopback only."""
    urls = list(_engine_urls(target, model).values())
    try:
        vllm_router.check_loopback(urls)
    except BrixcheckError as exc:
        pytest.skip(f"NOT-SUPPORTED: {exc.args[0]} (vllm-router runs here on the twin only)")
    if len(urls) < 2:
        pytest.skip(f"NOT-SUPPORTED: a router needs >= 2 model pods, found {len(urls)}")


@pytest.fixture(scope="session")
def bench_runs(target: Target, model: ModelDeployment, run_id: str,
               saturated: dict[tuple[str, str, int], str],
               request: pytest.FixtureRequest) -> Iterator[dict[str, list[RunResult]]]:
    """Collects the runs; at the end (Ctrl-C too) writes each scenario's report."""
    runs: dict[str, list[RunResult]] = {}
    yield runs
    out = Path("reports") / f"bench-{run_id}"
    image = model.container.get("image", "")
    unstored = []
    for scenario in SCENARIOS:
        done = runs.get(scenario.id, [])
        if not done:
            continue
        missing = _unfinished(scenario, done, saturated)
        environment = environment_stamp(target.environment, scenario, image)
        if any(is_router(s) for s in scenario.strategies):
            environment["vllmRouter"] = f"vllm-router {vllm_router.installed_version()} (PyPI)"
        info = run_info(run_id, scenario, environment, partial_reason(done, missing))
        try:
            paths = report_scenario(scenario, done, info, out,
                                    Path(request.config.getoption("--history-db")))
        except BrixcheckError as exc:  # the report is written first, so only the history lacks it
            unstored.append(f"{scenario.id}: {exc}")
            continue
        doc = json.loads(paths.json.read_text())
        several = len({r.strategy for r in done}) > 1  # a shoot-out: the strategy table
        lines = (leaderboard_table(scenario.id, doc["leaderboard"], paths.html) if several
                 else summary_table(scenario.id, doc.get("summary", []), paths.html))
        for line in lines:
            terminal_line(request.config, line)
        if info.partial_reason:
            terminal_line(request.config, f"benchmark PARTIAL ({info.partial_reason}): "
                                          f"{paths.html}")
    if unstored:
        pytest.fail(f"reports written to {out}, but not stored in the history: "
                    + " | ".join(unstored), pytrace=False)


def _case_id(scenario: Scenario, repeat: int, strategy: str, rate: float | None) -> str:
    level = f"-{rate:g}rps" if scenario.load.sweep_rates_per_s else ""
    return f"{scenario.id}[{strategy}]-r{repeat}{level}"


@pytest.fixture(scope="session")
def saturated() -> dict[tuple[str, str, int], str]:
    """Per sweep (scenario, strategy, repeat): the level where the target stopped keeping up."""
    return {}


def _sweep_level(scenario: Scenario, result: RunResult, key: tuple[str, str, int],
                 saturated: dict[tuple[str, str, int], str],
                 record_property: Callable[[str, object], None]) -> None:
    """A sweep level's guards decide whether the sweep goes on, not whether the test fails."""
    reasons = guard_breaches(scenario, result)
    record_property("sustained", not reasons)
    if reasons:
        saturated[key] = f"{result.rate_per_s:g} req/s: " + "; ".join(reasons)
        record_property("saturation", saturated[key])


@pytest.mark.parametrize(("scenario", "repeat", "strategy", "rate"), CASES,
                         ids=[_case_id(*case) for case in CASES])
def test_scenario(scenario: Scenario, repeat: int, strategy: str, rate: float | None,
                  target: Target, model: ModelDeployment,
                  bench_runs: dict[str, list[RunResult]], run_id: str,
                  saturated: dict[tuple[str, str, int], str],
                  record_property: Callable[[str, object], None],
                  request: pytest.FixtureRequest):
    key = (scenario.id, strategy, repeat)
    if key in saturated:
        pytest.skip(f"the sweep stopped: saturated at {saturated[key]}")
    where = request.config.getoption("--load-where") or scenario.load.where
    if where == "cluster" and Capability.LOADGEN_PODS not in target.capabilities:
        pytest.skip("NOT-SUPPORTED: in-cluster load needs the Locust Jobs' pods to run "
                    f"({target.describe_missing([Capability.LOADGEN_PODS.value])})")
    if is_router(strategy):
        _require_loopback_pods(target, model)
    elif strategy != "baseline" and not request.getfixturevalue("gateway_probe"):
        pytest.skip(f"NOT-SUPPORTED: strategy {strategy} needs an AIBrix gateway "
                    f"({target.describe_missing([Capability.AIBRIX_GATEWAY.value])})")
    if scenario.workload.model != model.name:
        pytest.skip(f"scenario model {scenario.workload.model} is not the deployed {model.name}")
    try:
        if where == "cluster":
            _reset_caches(target, model)
            result = _in_cluster(scenario, strategy, repeat, target, model, run_id,
                                 request.config)
        else:
            result = _local_run(scenario, strategy, repeat, rate, target, model, run_id,
                                request.config, request.getfixturevalue("gateway").url)
    except RunInterrupted as stop:
        bench_runs.setdefault(scenario.id, []).append(stop.result)  # reported as partial
        raise
    bench_runs.setdefault(scenario.id, []).append(result)
    assert not result.stopped, f"invalid run: {result.stopped}"
    if scenario.load.sweep_rates_per_s:
        _sweep_level(scenario, result, key, saturated, record_property)
    else:
        _guard(scenario, result)


if BAD_FILES:  # a bad file is its own failure; the good scenarios still run

    @pytest.mark.parametrize("name", sorted(BAD_FILES))
    def test_scenario_file(name: str):
        pytest.fail(BAD_FILES[name], pytrace=False)
