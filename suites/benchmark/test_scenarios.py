"""Every scenario in scenarios/*.yaml, per strategy and repeat, into records and a report.

The session (brixcheck.bench.session) plans the runs, repeat by repeat, applies a sweep's stop
rule and writes each scenario's report (HTML, JSON, CSV, strategy comparison, results history)
when the session ends; brixcheck.bench.execution carries out one run. This module decides what
each run's test says: strategies other than `baseline` need an AIBrix gateway, so on a target
without one (the twin) they are NOT-SUPPORTED with the reason; `load.where: cluster` (or
`--load-where cluster`) needs a container runtime, which the twin lacks. A run whose guards are
breached fails as invalid, not as slow, except in a rate sweep: there the first breached level
is where the target saturates, so that test passes with the reason in its JUnit properties and
the sweep's later levels are skipped with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brixcheck.bench.execution import RunContext, engine_urls, run_here, run_in_pods
from brixcheck.bench.incluster import DEFAULT_IMAGE
from brixcheck.bench.runner import RunInterrupted
from brixcheck.bench.scenario import discover_all, is_router, scenario_dir
from brixcheck.bench.session import BenchSession, PlannedRun, failed_example, plan
from brixcheck.conformance.model import Capability
from brixcheck.conformance.plugin import not_supported, require_capabilities
from brixcheck.errors import BrixcheckError
from brixcheck.fixtures.terminal import terminal_line
from brixcheck.model import ModelDeployment
from brixcheck.routers import vllm_router
from brixcheck.target import Target

SCENARIOS, BAD_FILES = discover_all(scenario_dir())
PLAN = plan(SCENARIOS)


@pytest.fixture(scope="session")
def bench(target: Target, model: ModelDeployment, run_id: str,
          request: pytest.FixtureRequest) -> Iterator[BenchSession]:
    """The session's runs; at its end (Ctrl-C too) each scenario's report is written."""
    session = BenchSession(run_id, Path("reports") / f"bench-{run_id}",
                           Path(request.config.getoption("--history-db")))
    yield session
    report = session.finish(SCENARIOS, target.environment, model.container.get("image", ""))
    for line in report.lines:
        terminal_line(request.config, line)
    if report.unstored:
        pytest.fail(f"reports written to {session.out}, but not stored in the history: "
                    + " | ".join(report.unstored), pytrace=False)


@pytest.fixture(scope="session")
def run_context(target: Target, model: ModelDeployment, bench: BenchSession,
                request: pytest.FixtureRequest) -> RunContext:
    config = request.config
    return RunContext(target, model, bench.run_id, bench.out,
                      float(config.getoption("--telemetry-interval")),
                      config.getoption("--loadgen-image") or DEFAULT_IMAGE,
                      not config.getoption("--loadgen-no-install"),
                      lambda line: terminal_line(config, line))


def _require_loopback_pods(target: Target, model: ModelDeployment) -> None:
    """vllm-router runs on this machine, in front of pods it can reach on loopback only."""
    urls = list(engine_urls(target, model).values())
    try:
        vllm_router.check_loopback(urls)
    except BrixcheckError as exc:
        not_supported(f"{exc.args[0]} (vllm-router runs here on the twin only)")
    if len(urls) < 2:
        not_supported(f"a router needs >= 2 model pods, found {len(urls)}")


def _gate(planned: PlannedRun, where: str, target: Target, model: ModelDeployment,
          request: pytest.FixtureRequest) -> None:
    """Skip a run the target cannot carry out: NOT-SUPPORTED, or SKIP with the reason."""
    for capability, need in planned.needs(where).items():
        if capability is Capability.AIBRIX_GATEWAY:
            request.getfixturevalue("gateway_probe")  # probed once, on first need
        require_capabilities(target, [capability], need)
    if is_router(planned.strategy):
        _require_loopback_pods(target, model)
    if planned.scenario.workload.model != model.name:
        pytest.skip(f"scenario model {planned.scenario.workload.model} is not the deployed "
                    f"{model.name}")
    if where == "cluster" and planned.strategy != "baseline":
        pytest.skip("in-cluster gateway discovery is not implemented yet: use load.where local")
    if where == "cluster" and planned.sweep:
        pytest.skip("rate sweeps run with load.where local only, for now")


@pytest.mark.parametrize("planned", PLAN, ids=[p.id for p in PLAN])
def test_scenario(planned: PlannedRun, bench: BenchSession, target: Target,
                  model: ModelDeployment, record_property: Callable[[str, object], None],
                  request: pytest.FixtureRequest):
    stopped = bench.stopped_sweep(planned)
    if stopped:
        pytest.skip(stopped)
    where = request.config.getoption("--load-where") or planned.scenario.load.where
    _gate(planned, where, target, model, request)
    context = request.getfixturevalue("run_context")
    try:
        result = run_in_pods(context, planned) if where == "cluster" else \
            run_here(context, planned, request.getfixturevalue("gateway").url)
    except RunInterrupted as stop:
        bench.add(planned, stop.result)  # reported as partial
        raise
    bench.add(planned, result)
    assert not result.stopped, f"invalid run: {result.stopped}"
    verdict = bench.judge(planned, result)
    if planned.sweep:  # a sweep level's guards decide whether the sweep goes on, not the test
        record_property("sustained", verdict.sustained)
        if verdict.saturation:
            record_property("saturation", verdict.saturation)
    else:
        assert not verdict.invalid, \
            "invalid run: " + "; ".join(verdict.breaches) + failed_example(result)


if BAD_FILES:  # a bad file is its own failure; the good scenarios still run

    @pytest.mark.parametrize("name", sorted(BAD_FILES))
    def test_scenario_file(name: str):
        pytest.fail(BAD_FILES[name], pytrace=False)
