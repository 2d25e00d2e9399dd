"""Is a run trustworthy? Achieved vs scheduled rate, generator send lag, error rate.

An open-loop run whose generator could not keep its schedule measures the generator, not the
server; such a run is reported INVALID with the reason, never as merely slow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from brixcheck.load.schedule import Arrival, arrival_offsets


@dataclass(frozen=True)
class ValidityBounds:
    """The guards a run must stay within; same names as the scenario's `Guards`."""

    min_achieved_fraction: float = 0.95
    max_send_lag_p99_ms: float = 10.0
    max_error_rate: float | None = None
    # Sweeps only: a level whose TTFT p99 passes this is saturated as well (None: not checked).
    saturation_ttft_p99_ms: float | None = None


@dataclass(frozen=True)
class Schedule:
    """What the generator was asked to send; a None field is not checked."""

    rate_per_s: float | None = None
    duration_s: float | None = None
    # With the arrival process and seed, the exact schedule is known (brixcheck.load.schedule):
    # a Poisson schedule of a few seconds may hold far fewer arrivals than rate x duration.
    arrival: str | None = None
    seed: int = 0

    def expected_requests(self, warmup_s: float) -> int | None:
        """Arrivals of the seeded schedule inside the measured window, when it is known."""
        if not (self.arrival and self.rate_per_s and self.duration_s):
            return None
        offsets = arrival_offsets(self.rate_per_s, self.duration_s, Arrival(self.arrival),
                                  self.seed)
        return sum(1 for o in offsets if o - offsets[0] >= warmup_s) if offsets else 0


@dataclass(frozen=True)
class Validity:
    """The verdict on a run: valid, or invalid with every reason."""

    valid: bool
    reasons: tuple[str, ...] = ()
    # In a rate sweep: the levels past what the target sustains, each with its reasons.
    saturated: tuple[str, ...] = ()


def achieved_rate_per_s(row: pd.Series, schedule: Schedule, warmup_s: float) -> float:
    """Rate at which the generator actually sent measured requests.

    Formula: achieved rate = measured requests that were sent / (scheduled duration -
    warm-up); without a scheduled duration, / (latest measured intended offset - warm-up).
    Requests whose record is missing (a run that died) count as not sent.

    Args:
        row: one summary row (`sent_requests`, `send_span_s`).
        schedule: the scheduled rate and duration.
        warmup_s: the warm-up excluded.

    Returns:
        Requests per second; NaN when the window is empty.
    """
    span = (schedule.duration_s - warmup_s) if schedule.duration_s else row["send_span_s"]
    return float(row["sent_requests"]) / span if span and span > 0 else float("nan")


def _row_reasons(row: pd.Series, schedule: Schedule, bounds: ValidityBounds,
                 warmup_s: float) -> list[str]:
    reasons = []
    expected = schedule.expected_requests(warmup_s)
    if expected:
        ratio, sent = row["sent_requests"] / expected, int(row["sent_requests"])
        if ratio < bounds.min_achieved_fraction:
            reasons.append(f"sent {sent} of the {expected} scheduled requests ({ratio:.0%}, "
                           f"bound >= {bounds.min_achieved_fraction:.0%})")
    elif schedule.rate_per_s:
        achieved = achieved_rate_per_s(row, schedule, warmup_s)
        ratio = achieved / schedule.rate_per_s
        bound = bounds.min_achieved_fraction
        if math.isnan(ratio) or ratio < bound:
            reasons.append(f"achieved {achieved:.2f} req/s is {ratio:.0%} of the scheduled "
                           f"{schedule.rate_per_s:g} req/s (bound >= {bound:.0%})")
    lag = row["send_lag_ms_p99"]
    if not math.isnan(lag) and lag > bounds.max_send_lag_p99_ms:
        reasons.append(f"send lag p99 {lag:.2f} ms exceeds {bounds.max_send_lag_p99_ms:g} ms")
    if bounds.max_error_rate is not None and row["error_rate"] > bounds.max_error_rate:
        reasons.append(f"error rate {row['error_rate']:.1%} exceeds "
                       f"{bounds.max_error_rate:.1%}")
    return reasons


def _series(group: str) -> str:
    """A sweep group's label without its rate: "random, repeat=0, rate_per_s=20" loses the last."""
    return ", ".join(p for p in group.split(", ") if not p.startswith("rate_per_s="))


def level_reasons(row: pd.Series, schedule: Schedule, bounds: ValidityBounds,
                  warmup_s: float = 0.0) -> list[str]:
    """Why one summary row breaches the guards (its own `rate_per_s` when it has one)."""
    rate = row.get("rate_per_s", schedule.rate_per_s)
    row_schedule = replace(schedule, rate_per_s=float(rate) if rate else None)
    reasons = _row_reasons(row, row_schedule, bounds, warmup_s)
    ttft = row.get("ttft_ms_p99", float("nan"))
    limit = bounds.saturation_ttft_p99_ms
    if limit is not None and not math.isnan(ttft) and ttft > limit:
        reasons.append(f"TTFT p99 {ttft:.1f} ms exceeds {limit:g} ms")
    return reasons


def check_validity(summary: pd.DataFrame, schedule: Schedule, bounds: ValidityBounds,
                   warmup_s: float = 0.0, sweep: bool = False) -> Validity:
    """Check every group of a summary against the bounds.

    Args:
        summary: the frame of `summarize` (needs `group`, `sent_requests`, `send_span_s`,
            `send_lag_ms_p99`, `error_rate`).
        schedule: what was scheduled; with a `rate_per_s` column in the summary (a sweep),
            each row's own rate is used instead of `schedule.rate_per_s`.
        bounds: the guards.
        warmup_s: the warm-up excluded from the summary.
        sweep: a rate sweep: a breached level is where the target saturates (listed in
            `saturated`, not a reason to distrust the run) as long as every other group has
            at least one sustained level.

    Returns:
        Valid, or invalid with one reason per breached guard, prefixed by the group.
    """
    reasons, saturated, sustained = [], [], set()
    for _, row in summary.iterrows():
        found = [f"{row['group']}: {r}" for r in level_reasons(row, schedule, bounds, warmup_s)]
        series = _series(row["group"])
        if not sweep:
            reasons += found
        elif found:
            saturated += found
        else:
            sustained.add(series)
    if sweep:
        series_all = {_series(g) for g in summary["group"]}
        reasons += [f"{s}: no level of the sweep was sustained"
                    for s in sorted(series_all - sustained)]
    return Validity(not reasons, tuple(reasons), tuple(saturated))
