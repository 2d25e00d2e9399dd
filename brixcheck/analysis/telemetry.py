"""Engine and GPU telemetry of a run (the sampler's JSON lines) summarized over its window.

The engine's own view complements the client's: its prefix-cache counters give a hit rate that
does not depend on the engine reporting `cached_tokens` in `usage`, and its running/waiting
gauges and KV-cache usage show where requests queued. Samples carry CLOCK_MONOTONIC times of
the host that took them, the clock of the request records, so each run's measured window
(`window.measured`) applies to them unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brixcheck.analysis import window
from brixcheck.analysis.distributions import group_label
from brixcheck.analysis.engine_metrics import (
    KV_USAGE,
    PREFIX_HITS,
    PREFIX_QUERIES,
    REQUEST_SUCCESS,
    RUNNING,
    WAITING,
)
from brixcheck.load.records import read_records

COLUMNS = ("t_s", "wall_s", "source", "instance", "metric", "labels", "value", "gap")
POD_COLUMNS = ("group", "pod", "samples", "gaps", "running_mean", "running_max", "waiting_mean",
               "waiting_max", "kv_usage_mean", "kv_usage_max", "requests")
GPU_METRICS = {"gpu:utilization_perc": "utilization_perc", "gpu:memory_used_bytes":
               "memory_used_bytes", "gpu:power_watts": "power_watts"}
GPU_COLUMNS = ("group", "gpu", *(f"{n}_{s}" for n in GPU_METRICS.values()
                                 for s in ("mean", "max")))
SERIES_COLUMNS = ("group", "pod", "t_s", "running", "waiting", "kv_usage")


def load_telemetry(paths: Iterable[Path | str],
                   labels: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read telemetry files into one frame, one row per sample or gap.

    Args:
        paths: the sampler's JSON-lines files (missing ones are skipped: no telemetry).
        labels: constant columns to add (the run's `strategy`, `repeat`, ...).

    Returns:
        Columns `COLUMNS` (`gap` is "" for a sample) plus the label columns.
    """
    rows = [row for path in map(Path, paths) if path.is_file() for row in read_records(path)]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for column in ("gap", "metric", "source", "instance"):  # missing in gap or sample lines
        frame[column] = [x if isinstance(x, str) else "" for x in frame[column]]
    frame["labels"] = [lbl if isinstance(lbl, dict) else {} for lbl in frame["labels"]]
    for column in ("t_s", "wall_s", "value"):
        frame[column] = frame[column].astype(float)
    for key, value in (labels or {}).items():
        frame[key] = value
    return frame


def counter_increase(values: Sequence[float]) -> float:
    """How much a counter grew over consecutive samples (Prometheus `increase`, unextrapolated).

    Args:
        values: the counter's samples in time order.

    Returns:
        The sum of the steps, a drop (the engine restarted) counted as a restart from 0.
    """
    steps = np.diff(np.asarray(values, dtype=float))
    if steps.size == 0:
        return 0.0
    after_drop = np.asarray(values, dtype=float)[1:]
    return float(np.where(steps >= 0, steps, after_drop).sum())


def _edges(times: np.ndarray, start_s: float, end_s: float) -> slice:
    """Samples from the last one at or before start to the first one at or after end."""
    first = max(int(np.searchsorted(times, start_s, side="right")) - 1, 0)
    last = min(int(np.searchsorted(times, end_s, side="left")), len(times) - 1)
    return slice(first, last + 1)


def _first_present(samples: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    for name in names:
        rows = samples[samples["metric"] == name]
        if not rows.empty:
            return rows
    return samples.iloc[0:0]


def _increase(samples: pd.DataFrame, names: Sequence[str], start_s: float, end_s: float) -> float:
    """Summed increase of every series (pod, labels) of the first present name."""
    rows = _first_present(samples, names)
    total = 0.0
    for _, series in rows.groupby([rows["instance"], rows["labels"].map(_key)], sort=False):
        series = series.sort_values("t_s")
        times = series["t_s"].to_numpy(float)
        total += counter_increase(series["value"].to_numpy(float)[_edges(times, start_s, end_s)])
    return total


def _key(labels: Mapping[str, str]) -> str:
    return json.dumps(labels, sort_keys=True)


def engine_prefix_cache_hit_rate(samples: pd.DataFrame, start_s: float, end_s: float) -> float:
    """Share of queried prompt tokens the engines found in their prefix caches, by their counters.

    Formula: per pod (and per series), the increase of each counter from the last sample at or
    before the window's start (the first sample, if none) to the first sample at or after its
    end (the last, if none), a drop counted as a restart from 0; engine hit rate = sum of the
    increases of `vllm:prefix_cache_hits` / sum of those of `vllm:prefix_cache_queries` over
    pods (`vllm:gpu_prefix_cache_*` where those are absent); NaN when no query was counted or
    no pod was sampled. vLLM counts at admission (a preempted request is queried again), and
    sampling is periodic, so requests at the window's edges may fall on either side.

    Args:
        samples: the group's engine samples (`load_telemetry` rows).
        start_s: window start (monotonic seconds).
        end_s: window end.

    Returns:
        A fraction in [0, 1], or NaN.
    """
    ok = samples[samples["gap"] == ""]
    queries = sum(_increase(pod, PREFIX_QUERIES, start_s, end_s)
                  for _, pod in ok.groupby("instance"))
    hits = sum(_increase(pod, PREFIX_HITS, start_s, end_s) for _, pod in ok.groupby("instance"))
    return hits / queries if queries > 0 else float("nan")


def _pod_values(pod: pd.DataFrame, names: Sequence[str], how: str) -> pd.Series:
    """One value per scrape (summed or averaged over series), indexed by time."""
    rows = _first_present(pod, names)
    return rows.groupby("t_s")["value"].agg(how)


def _stats(values: pd.Series) -> tuple[float, float]:
    return ((float(values.mean()), float(values.max())) if len(values)
            else (float("nan"), float("nan")))


def engine_pod_load(samples: pd.DataFrame, start_s: float, end_s: float) -> pd.DataFrame:
    """Queueing and KV-cache usage per pod over the measured window.

    Formula: over the scrapes inside the window (start <= t <= end), mean and max of each pod's
    `vllm:num_requests_running`, `vllm:num_requests_waiting` (summed over a pod's series) and
    KV-cache usage (`vllm:kv_cache_usage_perc`, else `vllm:gpu_cache_usage_perc`; a fraction,
    1 = full); samples = scrapes that answered, gaps = scrapes that failed; requests = the
    increase of `vllm:request_success` over the window (as for the engine hit rate), NaN when
    the engine does not export it.

    Args:
        samples: the group's engine samples.
        start_s: window start (monotonic seconds).
        end_s: window end.

    Returns:
        Columns `POD_COLUMNS` without `group`, one row per pod.
    """
    inside = samples[(samples["t_s"] >= start_s) & (samples["t_s"] <= end_s)]
    rows = []
    for pod, rows_of_pod in inside.groupby("instance", sort=True):
        ok = rows_of_pod[rows_of_pod["gap"] == ""]
        row: dict[str, Any] = {"pod": pod, "samples": int(ok["t_s"].nunique()),
                               "gaps": int((rows_of_pod["gap"] != "").sum())}
        for name, names, how in (("running", (RUNNING,), "sum"), ("waiting", (WAITING,), "sum"),
                                 ("kv_usage", KV_USAGE, "mean")):
            row[f"{name}_mean"], row[f"{name}_max"] = _stats(_pod_values(ok, names, how))
        row["requests"] = (_increase(samples[(samples["instance"] == pod)
                                             & (samples["gap"] == "")],
                                     (REQUEST_SUCCESS,), start_s, end_s)
                           if (ok["metric"] == REQUEST_SUCCESS).any() else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows, columns=list(POD_COLUMNS[1:]))


def gpu_load(samples: pd.DataFrame, start_s: float, end_s: float) -> pd.DataFrame:
    """GPU utilization, memory used and power per device over the measured window (NVML).

    Args:
        samples: the group's GPU samples.
        start_s: window start (monotonic seconds).
        end_s: window end.

    Returns:
        Columns `GPU_COLUMNS` without `group`, one row per device; empty without NVML.
    """
    inside = samples[(samples["t_s"] >= start_s) & (samples["t_s"] <= end_s)]
    rows = []
    for gpu, device in inside.groupby("instance", sort=True):
        row: dict[str, Any] = {"gpu": gpu}
        for metric, name in GPU_METRICS.items():
            row[f"{name}_mean"], row[f"{name}_max"] = _stats(
                device.loc[device["metric"] == metric, "value"])
        rows.append(row)
    return pd.DataFrame(rows, columns=list(GPU_COLUMNS[1:]))


def engine_series(samples: pd.DataFrame, start_s: float) -> pd.DataFrame:
    """Running, waiting and KV usage per pod per scrape, for the time-series figure.

    Args:
        samples: the group's engine samples, warm-up included.
        start_s: the group's start (its earliest intended send); times become offsets from it.

    Returns:
        Columns `SERIES_COLUMNS` without `group`; a gap is a row of NaN (a break in the line).
    """
    parts = []
    for pod, rows in samples.groupby("instance", sort=True):
        ok = rows[rows["gap"] == ""]
        frame = pd.DataFrame({"running": _pod_values(ok, (RUNNING,), "sum"),
                              "waiting": _pod_values(ok, (WAITING,), "sum"),
                              "kv_usage": _pod_values(ok, KV_USAGE, "mean")})
        gaps = pd.DataFrame(index=pd.Index(rows.loc[rows["gap"] != "", "t_s"].unique()),
                            columns=frame.columns, dtype=float)
        frame = pd.concat([frame, gaps]).sort_index()
        parts.append(frame.rename_axis("t_s").reset_index().assign(
            pod=pod, t_s=lambda f: f["t_s"] - start_s))
    columns = list(SERIES_COLUMNS[1:])
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(
        columns=columns)


@dataclass(frozen=True)
class TelemetrySummary:
    """Everything the report shows about telemetry, by group label."""

    hit_rates: dict[str, float] = field(default_factory=dict)
    pods: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(POD_COLUMNS)))
    gpus: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(GPU_COLUMNS)))
    series: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(SERIES_COLUMNS)))


def summarize_telemetry(telemetry: pd.DataFrame, frame: pd.DataFrame, by: Sequence[str],
                        warmup_s: float) -> TelemetrySummary:
    """Each group's telemetry over the group's measured window (from its request records).

    Args:
        telemetry: `load_telemetry` rows labelled with the `by` columns.
        frame: the request frame (for each group's start and window).
        by: grouping columns, as for the requests.
        warmup_s: the warm-up excluded from the window.

    Returns:
        Engine hit rate per group, per-pod and per-GPU tables, engine time series.
    """
    if telemetry.empty or frame.empty or not set(by) <= set(telemetry.columns):
        return TelemetrySummary()
    measured = window.measured(frame, by, warmup_s)
    hit_rates, pods, gpus, series = {}, [], [], []
    for key, samples in telemetry.groupby(list(by), dropna=False, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        requests = frame[np.logical_and.reduce([frame[c] == v for c, v in zip(
            by, values, strict=True)])]
        kept = measured.loc[measured.index.intersection(requests.index)]
        if requests.empty or kept.empty:
            continue
        label = group_label(key, by)
        start = float(requests["intended_s"].min())
        begin = start + warmup_s
        end = begin + window.window_duration_s(kept, warmup_s)
        engine = samples[samples["source"] == "engine"]
        hit_rates[label] = engine_prefix_cache_hit_rate(engine, begin, end)
        pods.append(engine_pod_load(engine, begin, end).assign(group=label))
        gpus.append(gpu_load(samples[samples["source"] == "gpu"], begin, end).assign(group=label))
        series.append(engine_series(engine, start).assign(group=label))
    empty = TelemetrySummary()

    def joined(parts: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts, ignore_index=True)[list(columns)] if parts else \
            pd.DataFrame(columns=list(columns))

    return TelemetrySummary(hit_rates, joined(pods, POD_COLUMNS), joined(gpus, GPU_COLUMNS),
                            joined(series, SERIES_COLUMNS)) if hit_rates else empty
