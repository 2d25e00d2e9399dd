"""Is a run trustworthy? Achieved vs scheduled rate, generator send lag, error rate.

An open-loop run whose generator could not keep its schedule measures the generator, not the
server; such a run is reported INVALID with the reason, never as merely slow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ValidityBounds:
    """The guards a run must stay within; same names as the scenario's `Guards`."""

    min_achieved_fraction: float = 0.95
    max_send_lag_p99_ms: float = 10.0
    max_error_rate: float | None = None


@dataclass(frozen=True)
class Schedule:
    """What the generator was asked to send; a None field is not checked."""

    rate_per_s: float | None = None
    duration_s: float | None = None


@dataclass(frozen=True)
class Validity:
    """The verdict on a run: valid, or invalid with every reason."""

    valid: bool
    reasons: tuple[str, ...] = ()


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
    if schedule.rate_per_s:
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


def check_validity(summary: pd.DataFrame, schedule: Schedule, bounds: ValidityBounds,
                   warmup_s: float = 0.0) -> Validity:
    """Check every group of a summary against the bounds.

    Args:
        summary: the frame of `summarize` (needs `group`, `sent_requests`, `send_span_s`,
            `send_lag_ms_p99`, `error_rate`).
        schedule: what was scheduled; with a `rate_per_s` column in the summary (a sweep),
            each row's own rate is used instead of `schedule.rate_per_s`.
        bounds: the guards.
        warmup_s: the warm-up excluded from the summary.

    Returns:
        Valid, or invalid with one reason per breached guard, prefixed by the group.
    """
    reasons = []
    for _, row in summary.iterrows():
        rate = row.get("rate_per_s", schedule.rate_per_s)
        row_schedule = Schedule(float(rate) if rate else None, schedule.duration_s)
        reasons += [f"{row['group']}: {r}"
                    for r in _row_reasons(row, row_schedule, bounds, warmup_s)]
    return Validity(not reasons, tuple(reasons))
