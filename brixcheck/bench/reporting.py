"""From a scenario's runs to its report files and the results history.

Only glue: records are read and analysed by `brixcheck.analysis`, drawn and written by
`brixcheck.report`, stored by `brixcheck.history`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from brixcheck.analysis import AnalysisOptions, analyze, load_records
from brixcheck.analysis.telemetry import load_telemetry
from brixcheck.analysis.validity import Schedule, ValidityBounds
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


def report_scenario(scenario: Scenario, runs: list[RunResult], info: RunInfo, out_dir: Path,
                    history_db: Path | None) -> ReportPaths:
    """Analyse every run of a scenario, write its report and store it in the history."""
    frame = pd.concat([load_records([r.records], labels={"strategy": r.strategy,
                                                        "repeat": r.repeat}) for r in runs],
                      ignore_index=True)
    sampled = [load_telemetry([r.telemetry], labels={"strategy": r.strategy, "repeat": r.repeat})
               for r in runs if r.telemetry is not None]
    telemetry = pd.concat(sampled, ignore_index=True) if sampled else None
    options = AnalysisOptions(
        by=("strategy", "repeat"), warmup_s=scenario.load.warmup_s,
        schedule=Schedule(scenario.load.rate_per_s, scenario.load.duration_s),
        bounds=ValidityBounds(**scenario.guards.model_dump()))
    result = analyze(frame, options, telemetry)
    paths = write_benchmark_report(result, info, out_dir)
    if history_db is not None:
        record_run(history_db, result, info)
    return paths


def run_info(run_id: str, scenario: Scenario, environment: dict[str, Any],
             partial_reason: str = "") -> RunInfo:
    """Identity, environment and configuration of one scenario's run."""
    return RunInfo(run_id=f"{run_id}-{scenario.id}",
                   started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   environment=environment, config=scenario.model_dump(),
                   partial_reason=partial_reason)
