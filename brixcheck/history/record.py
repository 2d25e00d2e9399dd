"""Turn an analysed run into what the history stores (no metric is computed here)."""

from __future__ import annotations

from pathlib import Path

from brixcheck.analysis import BenchmarkResult
from brixcheck.history.store import ResultsDb, StoredRun, history_errors
from brixcheck.report.document import RunInfo, analysis_config, run_status


def stored_run(result: BenchmarkResult, info: RunInfo) -> StoredRun:
    """The history's view of a run: status, summary and the raw samples of the analysis.

    Args:
        result: the analysis.
        info: identity, environment, configuration, completeness.

    Returns:
        The run to store.
    """
    reasons = list(result.validity.reasons)
    if info.partial_reason:
        reasons.append(f"partial: {info.partial_reason}")
    config = {"run": info.config, "analysis": analysis_config(result)}
    return StoredRun(info.run_id, info.started_at, str(run_status(result, info)), tuple(reasons),
                     dict(info.environment), config, result.summary, result.samples)


def record_run(db: str | Path, result: BenchmarkResult, info: RunInfo) -> StoredRun:
    """Store an analysed run in the results database at `db`.

    Args:
        db: SQLite path or `sqlite:///` URL.
        result: the analysis.
        info: identity, environment, configuration, completeness.

    Returns:
        What was stored.
    """
    run = stored_run(result, info)
    with history_errors(db), ResultsDb(db) as database:
        database.save_run(run)
    return run
