"""The measured window of a run: warm-up requests dropped, window length per group.

A group (by default one strategy) is one run of one schedule. Its start is the earliest
intended send time in the group; requests intended before start + warm-up are dropped from
every summary. The window ends when the last measured request ended.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def measured(frame: pd.DataFrame, by: Sequence[str], warmup_s: float) -> pd.DataFrame:
    """Requests intended at or after their group's start + `warmup_s`.

    Formula: start = min(`intended_s`) over the group; kept iff `intended_s` >= start + warm-up.
    Adds `offset_s` = `intended_s` - start (seconds since the group's start).

    Args:
        frame: the request frame of `records_to_frame`.
        by: grouping columns (one group = one run of a schedule).
        warmup_s: seconds at the start of each group's schedule to exclude.

    Returns:
        The kept rows, with `offset_s`.
    """
    if frame.empty:
        return frame.assign(offset_s=pd.Series(dtype=float))
    start = frame.groupby(list(by), dropna=False)["intended_s"].transform("min")
    out = frame.assign(offset_s=frame["intended_s"] - start)
    return out[out["offset_s"] >= warmup_s].copy()


def window_duration_s(group: pd.DataFrame, warmup_s: float) -> float:
    """Length of one group's measured window.

    Formula: duration = end - (start + warm-up), with end = the latest of each measured
    request's `done_s` (or, for one that never finished, its `sent_s` / `intended_s`), on the
    offsets of `measured`.

    Args:
        group: measured rows of one group (with `offset_s`).
        warmup_s: the warm-up the rows were filtered with.

    Returns:
        Seconds; NaN for an empty group.
    """
    if group.empty:
        return float("nan")
    start = group["intended_s"] - group["offset_s"]
    ends = group["done_s"].fillna(group["sent_s"].where(group["sent_s"] > 0, group["intended_s"]))
    return float(np.max(ends - start) - warmup_s)
