"""One benchmark session: the plan of runs, the sweep's stop rule and the final reports.

The plan is every scenario x repeat x strategy x level, ordered repeat by repeat (r0: A, B, C;
r1: A, B, C) so slow drift favours no strategy, and a sweep's levels rising within each. A run's
verdict is its guards: breached guards make an ordinary run invalid, but in a sweep they mark the
level where the target saturates, and the sweep of that (scenario, strategy, repeat) stops there.
At the end every scenario with runs gets its report (HTML, JSON, CSV, comparison) and a row in
the results history. The pytest suite parametrises over the plan, runs each planned run and
asserts on its verdict; nothing here imports pytest.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brixcheck.bench.reporting import (
    environment_stamp,
    guard_breaches,
    partial_reason,
    report_scenario,
    run_info,
)
from brixcheck.bench.runner import RunResult
from brixcheck.bench.scenario import Scenario, is_router
from brixcheck.bench.terminal import leaderboard_table, summary_table
from brixcheck.conformance.model import Capability
from brixcheck.errors import BrixcheckError
from brixcheck.load.records import read_records
from brixcheck.routers import vllm_router

SweepKey = tuple[str, str, int]  # (scenario id, strategy, repeat): one climb of a sweep


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan: a scenario's strategy in one repeat at one open-loop level."""

    scenario: Scenario
    repeat: int
    strategy: str
    rate_per_s: float | None  # the open-loop rate of this level (None: closed loop)

    @property
    def sweep(self) -> bool:
        """Whether this run is a level of a rate sweep."""
        return self.scenario.load.sweep_rates_per_s is not None

    @property
    def level(self) -> float | None:
        """The sweep level (None outside a sweep, where the scenario's own rate applies)."""
        return self.rate_per_s if self.sweep else None

    @property
    def sweep_key(self) -> SweepKey:
        return self.scenario.id, self.strategy, self.repeat

    @property
    def id(self) -> str:
        """The test id: `<scenario>[<strategy>]-r<repeat>`, a sweep level's with `-<rate>rps`."""
        level = f"-{self.rate_per_s:g}rps" if self.sweep else ""
        return f"{self.scenario.id}[{self.strategy}]-r{self.repeat}{level}"

    def needs(self, where: str) -> dict[Capability, str]:
        """The target capabilities this run needs, each with what needs it."""
        needs = {}
        if where == "cluster":
            needs[Capability.LOADGEN_PODS] = "in-cluster load needs the Locust Jobs' pods to run"
        if self.strategy != "baseline" and not is_router(self.strategy):
            needs[Capability.AIBRIX_GATEWAY] = f"strategy {self.strategy} needs an AIBrix gateway"
        return needs


def plan(scenarios: Iterable[Scenario]) -> list[PlannedRun]:
    """Every run of the scenarios, in the order they run."""
    return [PlannedRun(s, repeat, strategy, rate) for s in scenarios
            for repeat in range(s.repeats) for strategy in s.strategies
            for rate in s.load.levels()]


@dataclass(frozen=True)
class Verdict:
    """What a finished run's guards say; in a sweep a breach is saturation, not a failure."""

    breaches: tuple[str, ...]
    sweep: bool
    saturation: str = ""  # a sweep's breached level: "<rate> req/s: <reasons>"

    @property
    def sustained(self) -> bool:
        return not self.breaches

    @property
    def invalid(self) -> bool:
        """An ordinary run that breached its guards (reported invalid, not slow)."""
        return bool(self.breaches) and not self.sweep


def failed_example(result: RunResult) -> str:
    """One failed request of the run, for an invalid run's message (empty: none failed)."""
    for path in result.records.glob("*.jsonl"):
        for record in read_records(path):
            if record["status"] != 200 or record["error"]:
                return f" (e.g. {record['status']} {record['error'][:120]})"
    return ""


@dataclass
class SessionReport:
    """What the session's end printed and what it could not store."""

    lines: list[str] = field(default_factory=list)  # the terminal's tables and report paths
    unstored: list[str] = field(default_factory=list)  # "<scenario>: <why>" per history miss


@dataclass
class BenchSession:
    """The runs of one session, where each sweep stopped, and the reports at its end."""

    run_id: str
    out: Path
    history_db: Path | None
    runs: dict[str, list[RunResult]] = field(default_factory=dict)
    saturated: dict[SweepKey, str] = field(default_factory=dict)

    def stopped_sweep(self, planned: PlannedRun) -> str:
        """Why this run is not started because its sweep already saturated (empty: run it)."""
        reason = self.saturated.get(planned.sweep_key, "")
        return f"the sweep stopped: saturated at {reason}" if reason else ""

    def add(self, planned: PlannedRun, result: RunResult) -> None:
        """Keep a run's result for the report, finished or cut short."""
        self.runs.setdefault(planned.scenario.id, []).append(result)

    def judge(self, planned: PlannedRun, result: RunResult) -> Verdict:
        """The run's guards; a breached sweep level stops that sweep (the stop rule)."""
        breaches = tuple(guard_breaches(planned.scenario, result))
        if not (planned.sweep and breaches):
            return Verdict(breaches, planned.sweep)
        saturation = f"{result.rate_per_s:g} req/s: " + "; ".join(breaches)
        self.saturated[planned.sweep_key] = saturation
        return Verdict(breaches, True, saturation)

    def unfinished(self, scenario: Scenario) -> int:
        """Planned runs neither done nor skipped because their sweep had saturated."""
        done = self.runs.get(scenario.id, [])
        missing = 0
        for planned in plan([scenario]):
            if planned.sweep_key in self.saturated:
                continue
            ran = any((r.strategy, r.repeat, r.rate_per_s) ==
                      (planned.strategy, planned.repeat, planned.level) for r in done)
            missing += 0 if ran else 1
        return missing

    def finish(self, scenarios: Iterable[Scenario], target_environment: dict[str, Any],
               engine_image: str) -> SessionReport:
        """Write each scenario's report and store it in the history (the report comes first,
        so a history that cannot take it loses nothing)."""
        outcome = SessionReport()
        for scenario in scenarios:
            done = self.runs.get(scenario.id, [])
            if not done:
                continue
            environment = environment_stamp(target_environment, scenario, engine_image)
            if any(is_router(s) for s in scenario.strategies):
                environment["vllmRouter"] = f"vllm-router {vllm_router.installed_version()} (PyPI)"
            info = run_info(self.run_id, scenario, environment,
                            partial_reason(done, self.unfinished(scenario)))
            try:
                paths = report_scenario(scenario, done, info, self.out, self.history_db)
            except BrixcheckError as exc:
                outcome.unstored.append(f"{scenario.id}: {exc}")
                continue
            doc = json.loads(paths.json.read_text())
            several = len({r.strategy for r in done}) > 1  # a shoot-out: the strategy table
            outcome.lines += (leaderboard_table(scenario.id, doc["leaderboard"], paths.html)
                              if several else
                              summary_table(scenario.id, doc.get("summary", []), paths.html))
            if info.partial_reason:
                outcome.lines.append(f"benchmark PARTIAL ({info.partial_reason}): {paths.html}")
        return outcome
