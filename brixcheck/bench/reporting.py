"""From a scenario's runs to its report files and the results history.

Only glue: records are read and analysed by `brixcheck.analysis`, drawn and written by
`brixcheck.report`, stored by `brixcheck.history`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from brixcheck.analysis import DEFAULT_SLOS, AnalysisOptions, SloSet, analyze, load_records
from brixcheck.analysis.telemetry import load_telemetry
from brixcheck.analysis.validity import Schedule, ValidityBounds, level_reasons
from brixcheck.bench.runner import RunResult
from brixcheck.bench.scenario import Scenario
from brixcheck.history.record import record_run
from brixcheck.report.document import RunInfo
from brixcheck.report.writer import ReportPaths, write_benchmark_report


def environment_stamp(target_environment: dict[str, Any], scenario: Scenario,
                      engine_image: str) -> dict[str, Any]:
    """The fields the history fingerprints, plus the target's own stamp."""
    products = target_environment.get("gpuProducts") or [""]
    return {**target_environment, "gpuProduct": products[0], "engineImage": engine_image,
            "model": scenario.workload.model, "scenario": scenario.id}


def _options(scenario: Scenario) -> AnalysisOptions:
    sweep = scenario.load.sweep_rates_per_s is not None
    return AnalysisOptions(
        by=("strategy", "repeat", "rate_per_s") if sweep else ("strategy", "repeat"),
        warmup_s=scenario.load.warmup_s, sweep=sweep,
        schedule=Schedule(scenario.load.rate_per_s, scenario.load.duration_s,
                          scenario.load.arrival if scenario.load.mode == "open" else None,
                          scenario.workload.seed),
        bounds=ValidityBounds(**scenario.guards.model_dump()),
        slos=tuple(SloSet(**s.model_dump()) for s in scenario.slos) or DEFAULT_SLOS)


def _frame(scenario: Scenario, runs: list[RunResult]) -> pd.DataFrame:
    return pd.concat([load_records([r.records], labels=_labels(scenario, r)) for r in runs],
                     ignore_index=True)


def _labels(scenario: Scenario, run: RunResult) -> dict[str, object]:
    sweep = scenario.load.sweep_rates_per_s is not None
    return {"strategy": run.strategy, "repeat": run.repeat,
            **({"rate_per_s": run.rate_per_s} if sweep else {})}


def _telemetry(scenario: Scenario, runs: list[RunResult]) -> pd.DataFrame | None:
    sampled = [load_telemetry([r.telemetry], labels=_labels(scenario, r))
               for r in runs if r.telemetry is not None]
    return pd.concat(sampled, ignore_index=True) if sampled else None


def guard_breaches(scenario: Scenario, run: RunResult) -> list[str]:
    """Which of the scenario's guards one run breached (empty: none); in a sweep, saturation."""
    result = analyze(_frame(scenario, [run]), _options(scenario))
    if result.summary.empty:
        return ["no measured requests"]
    return [r for _, row in result.summary.iterrows()
            for r in level_reasons(row, result.options.schedule, result.options.bounds,
                                   scenario.load.warmup_s)]


def report_scenario(scenario: Scenario, runs: list[RunResult], info: RunInfo, out_dir: Path,
                    history_db: Path | None) -> ReportPaths:
    """Analyse every run of a scenario, write its report and store it in the history."""
    result = analyze(_frame(scenario, runs), _options(scenario), _telemetry(scenario, runs))
    paths = write_benchmark_report(result, info, out_dir)
    if history_db is not None:
        record_run(history_db, result, info)
    return paths


def partial_reason(runs: list[RunResult], not_started: int = 0) -> str:
    """Why a scenario's results are incomplete (empty: every run reached its end)."""
    reasons = [f"{r.strategy}-r{r.repeat}: {r.stopped}" for r in runs if r.stopped]
    if not_started:
        reasons.append(f"{not_started} runs did not start")
    return "; ".join(reasons)


def run_info(run_id: str, scenario: Scenario, environment: dict[str, Any],
             partial_reason: str = "") -> RunInfo:
    """Identity, environment and configuration of one scenario's run."""
    return RunInfo(run_id=f"{run_id}-{scenario.id}",
                   started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   environment=environment, config=scenario.model_dump(),
                   partial_reason=partial_reason)
