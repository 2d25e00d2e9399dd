"""The nightly regression gate: compare a candidate run with a baseline from the history.

Resolves the two runs, refuses to judge a candidate that is not VALID, runs the significance
and tolerance decisions of `brixcheck.analysis.regression` on the stored raw samples, and
optionally draws the trend of the gated metrics across all runs of the fingerprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from brixcheck.analysis.regression import (
    DEFAULT_TOLERANCES,
    GateSettings,
    Tolerance,
    Verdict,
    compare_samples,
)
from brixcheck.errors import BrixcheckError
from brixcheck.history.store import LATEST, LATEST_BEFORE, ResultsDb, RunRow, history_errors
from brixcheck.plots import figure_png, trend_figure


@dataclass(frozen=True)
class GateRequest:
    """What to compare and how."""

    db: str
    baseline: str = LATEST_BEFORE
    candidate: str = LATEST
    tolerances: tuple[Tolerance, ...] = DEFAULT_TOLERANCES
    settings: GateSettings = field(default_factory=GateSettings)
    trend_png: Path | None = None


@dataclass(frozen=True)
class GateOutcome:
    """The gate's result: verdicts per group and metric, or a note why nothing was compared."""

    candidate: RunRow
    baseline: RunRow | None
    verdicts: list[Verdict]
    note: str = ""

    @property
    def regressions(self) -> list[Verdict]:
        """The verdicts flagged as regressions."""
        return [v for v in self.verdicts if v.regression]

    @property
    def exit_code(self) -> int:
        """1 when any metric regressed, else 0."""
        return 1 if self.regressions else 0


def _check_comparable(baseline: RunRow, candidate: RunRow) -> None:
    if baseline.fingerprint != candidate.fingerprint:
        raise BrixcheckError(
            f"runs {baseline.run_id} and {candidate.run_id} ran in different environments "
            f"(fingerprint {baseline.fingerprint} vs {candidate.fingerprint})",
            "compare runs of the same target, GPU, driver, engine, model, AIBrix version and "
            "scenario")


def _check_candidate(candidate: RunRow) -> None:
    if candidate.status != "VALID":
        reasons = "; ".join(candidate.reasons) or "no reason stored"
        raise BrixcheckError(f"candidate run {candidate.run_id} is {candidate.status} "
                             f"({reasons})", "fix the run and rerun it; only VALID runs can be "
                             "gated")


def flagged_nights(db: ResultsDb, fingerprint: str, tolerances: tuple[Tolerance, ...],
                   settings: GateSettings) -> dict[str, list[str]]:
    """Which stored runs the gate flags against the VALID run before each (as it ran nightly).

    Args:
        db: the open history.
        fingerprint: the environment whose runs are judged.
        tolerances: the gate's tolerances.
        settings: the gate's statistics settings.

    Returns:
        run id -> "group: metric" of each regression; runs without one are absent.
    """
    flagged: dict[str, list[str]] = {}
    previous: RunRow | None = None
    for run in db.runs(fingerprint):
        if run.status != "VALID":
            continue
        if previous is not None:
            verdicts = compare_samples(db.samples(previous.run_id), db.samples(run.run_id),
                                       tolerances, settings)
            regressions = [f"{v.group}: {v.metric}" for v in verdicts if v.regression]
            if regressions:
                flagged[run.run_id] = regressions
        previous = run
    return flagged


def _draw_trend(db: ResultsDb, request: GateRequest, candidate: RunRow) -> None:
    if request.trend_png is None:
        return
    metrics = list(dict.fromkeys(t.metric for t in request.tolerances))
    flagged = flagged_nights(db, candidate.fingerprint, request.tolerances, request.settings)
    figure = trend_figure(db.trend(candidate.fingerprint, metrics), metrics, set(flagged))
    request.trend_png.parent.mkdir(parents=True, exist_ok=True)
    request.trend_png.write_bytes(figure_png(figure))


def run_gate(request: GateRequest) -> GateOutcome:
    """Compare the candidate run with the baseline run.

    Args:
        request: database, run references, tolerances, statistics settings, trend output.

    Returns:
        The outcome; with no earlier VALID run of the fingerprint, no verdicts and a note.

    Raises:
        BrixcheckError: unknown run, non-VALID candidate, or runs of different environments.
    """
    with history_errors(request.db), ResultsDb(request.db, read_only=True) as db:
        candidate = db.resolve(request.candidate)
        if candidate is None:
            raise BrixcheckError(f"'{LATEST_BEFORE}' cannot name the candidate",
                                 f"pass a run id or '{LATEST}' as --candidate")
        _check_candidate(candidate)
        baseline = db.resolve(request.baseline, candidate)
        _draw_trend(db, request, candidate)
        if baseline is None:
            return GateOutcome(candidate, None, [], "no earlier VALID run with fingerprint "
                               f"{candidate.fingerprint}: nothing to compare")
        _check_comparable(baseline, candidate)
        verdicts = compare_samples(db.samples(baseline.run_id), db.samples(candidate.run_id),
                                   request.tolerances, request.settings)
    note = "" if verdicts else "the runs share no group with samples"
    return GateOutcome(candidate, baseline, verdicts, note)
