"""Shapes for plots, computed here so plots only draw: inverse CDFs and time series.

Each function returns a long frame keyed by the group label; no figures are made here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from brixcheck.analysis.metrics import latency_samples


def group_label(key: object, by: Sequence[str]) -> str:
    """A readable label for a group key: "random" or "random, rate_per_s=20".

    Args:
        key: the pandas group key (scalar or tuple).
        by: the grouping columns.

    Returns:
        The first column's value, then `name=value` for the others.
    """
    values = key if isinstance(key, tuple) else (key,)
    parts = [str(values[0])] + [f"{c}={v}" for c, v in zip(by[1:], values[1:], strict=True)]
    return ", ".join(parts)


def latency_cdf(measured: pd.DataFrame, metric: str, by: Sequence[str],
                points: int = 201) -> pd.DataFrame:
    """Empirical CDF of a latency metric per group, as quantile points.

    Formula: for q in `points` evenly spaced values of [0, 1], the q-quantile (linear
    interpolation) of the metric's samples (see `latency_percentiles`).

    Args:
        measured: measured rows.
        metric: `ttft_ms`, `itl_ms`, `tpot_ms` or `e2e_ms`.
        by: grouping columns.
        points: quantile points per group.

    Returns:
        Columns `group`, `quantile`, `value_ms`.
    """
    parts = []
    q = np.linspace(0, 1, points)
    for key, rows in measured.groupby(list(by), dropna=False, sort=True):
        samples = latency_samples(rows, metric)
        if samples.size:
            parts.append(pd.DataFrame({"group": group_label(key, by), "quantile": q,
                                       "value_ms": np.quantile(samples, q)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["group", "quantile", "value_ms"])


def _in_flight(rows: pd.DataFrame, start: float, grid: np.ndarray) -> np.ndarray:
    sent = rows["sent_s"].where(rows["sent_s"] > 0, rows["intended_s"]).to_numpy() - start
    end = rows["done_s"].fillna(rows["headers_s"]).fillna(rows["sent_s"]).to_numpy() - start
    # end >= sent per request, so #(sent <= t) - #(end <= t) = #(sent <= t < end).
    return (np.searchsorted(np.sort(sent), grid, side="right")
            - np.searchsorted(np.sort(end), grid, side="right"))


def _token_rate(rows: pd.DataFrame, start: float, bins: int, step_s: float) -> np.ndarray:
    times = [t for ts in rows["token_times_s"] for t in ts]
    counts = [k for ks in rows["chunk_tokens"] for k in ks]
    index = np.floor((np.asarray(times, dtype=float) - start) / step_s).astype(int)
    keep = (index >= 0) & (index < bins)
    weights = np.asarray(counts, dtype=float)[keep]
    return np.bincount(index[keep], weights=weights, minlength=bins)[:bins] / step_s


def time_series(frame: pd.DataFrame, by: Sequence[str], step_s: float = 1.0) -> pd.DataFrame:
    """Requests in flight and output tokens per second over each group's run, warm-up included.

    Formula: t is seconds since the group's start (earliest intended send). In flight at t =
    requests with sent <= t < end (end = `[DONE]`, else headers, else send). Tokens/s of the
    bin [t, t+step) = tokens of the token events arriving in it (`chunk_tokens`) / step.

    Args:
        frame: all rows (not only measured; the plot marks the warm-up).
        by: grouping columns.
        step_s: bin width and grid step.

    Returns:
        Columns `group`, `t_s`, `in_flight`, `output_tokens_per_s`.
    """
    parts = []
    for key, rows in frame.groupby(list(by), dropna=False, sort=True):
        start = float(rows["intended_s"].min())
        last = float(np.nanmax(rows[["done_s", "sent_s", "intended_s"]].to_numpy())) - start
        bins = max(1, int(np.ceil(last / step_s)))
        grid = np.arange(bins) * step_s
        parts.append(pd.DataFrame({
            "group": group_label(key, by), "t_s": grid,
            "in_flight": _in_flight(rows, start, grid),
            "output_tokens_per_s": _token_rate(rows, start, bins, step_s)}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["group", "t_s", "in_flight", "output_tokens_per_s"])
