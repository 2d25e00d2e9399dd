"""Summaries of a benchmark's request frame: per-group metrics, errors, pods, and the lot.

`summarize` gives one row per group (default: per strategy); `analyze` bundles everything a
report needs. The metric formulas quoted in reports come from the docstrings of the functions
that compute them (`metric_formulas`), so they are written once.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brixcheck.analysis import frame as frame_module
from brixcheck.analysis import metrics, paired, stats, telemetry, window
from brixcheck.analysis import validity as validity_module
from brixcheck.analysis.distributions import group_label, latency_cdf, time_series
from brixcheck.analysis.metrics import (
    DEFAULT_SLOS,
    LATENCY_METRICS,
    SloSet,
    balance_indices,
    error_rate,
    goodput,
    latency_percentiles,
    pod_counts,
    prefix_cache_hit_rate,
    throughput,
)
from brixcheck.analysis.paired import (
    PairedDifference,
    PairingSettings,
    baseline_differences,
    choose_baseline,
    paired_comparisons,
)
from brixcheck.analysis.regression import ITL_PER_REQUEST, throughput_bins
from brixcheck.analysis.telemetry import TelemetrySummary, summarize_telemetry
from brixcheck.analysis.validity import (
    Schedule,
    Validity,
    ValidityBounds,
    achieved_rate_per_s,
    check_validity,
)

DEFAULT_BY = ("strategy",)


def _summarize_group(rows: pd.DataFrame, warmup_s: float, slos: Sequence[SloSet],
                     pods: Sequence[str]) -> dict[str, Any]:
    duration = window.window_duration_s(rows, warmup_s)
    out: dict[str, Any] = dict(error_rate(rows))
    out["sent_requests"] = int((rows["sent_s"] > 0).sum())
    out["send_span_s"] = float(rows["offset_s"].max() - warmup_s)
    out["duration_s"] = duration
    out.update(throughput(rows, duration))
    for metric in LATENCY_METRICS:
        out.update(latency_percentiles(rows, metric))
    out.update(latency_percentiles(rows, "send_lag_ms", (50, 99)))
    for slo in slos:
        out.update(goodput(rows, duration, slo))
    per_pod = pod_counts(rows, pods)
    out["pods"] = len(per_pod)
    for name, column in (("requests", "requests"), ("tokens", "output_tokens")):
        indices = balance_indices(per_pod[column])
        out[f"pod_{name}_max_over_mean"] = indices["max_over_mean"]
        out[f"pod_{name}_cv"] = indices["cv"]
    out["prefix_cache_hit_rate"] = prefix_cache_hit_rate(rows)
    return out


def _groups(measured: pd.DataFrame, by: Sequence[str]) -> list[tuple[dict[str, Any], str,
                                                                     pd.DataFrame]]:
    out = []
    for key, rows in measured.groupby(list(by), dropna=False, sort=True):
        values = key if isinstance(key, tuple) else (key,)
        out.append((dict(zip(by, values, strict=True)), group_label(key, by), rows))
    return out


def summarize(frame: pd.DataFrame, by: Sequence[str] = DEFAULT_BY, *, warmup_s: float = 0.0,
              slos: Sequence[SloSet] = DEFAULT_SLOS, pods: Sequence[str] = ()) -> pd.DataFrame:
    """One row of metrics per group of the measured window.

    Args:
        frame: the request frame (`records_to_frame` / `load_records`).
        by: grouping columns; one group must be one run of one schedule.
        warmup_s: requests intended before group start + `warmup_s` are dropped.
        slos: SLO sets for goodput columns.
        pods: pods expected to serve, counted with zero requests when unused.

    Returns:
        Columns: the `by` columns, `group` (label), request counts, `error_rate`,
        `duration_s`, `requests_per_s`, `output_tokens_per_s`, `<metric>_p50/p90/p99` for
        TTFT, ITL, TPOT, E2E, `send_lag_ms_p50/p99`, `goodput_<slo>_per_s/_fraction`,
        per-pod balance indices and `prefix_cache_hit_rate`.
    """
    measured = window.measured(frame, by, warmup_s)
    rows = [{**keys, "group": label, **_summarize_group(group, warmup_s, slos, pods)}
            for keys, label, group in _groups(measured, by)]
    return pd.DataFrame(rows)


def error_table(measured: pd.DataFrame, by: Sequence[str], samples: int = 3) -> pd.DataFrame:
    """Failed requests by label, counted, with a few distinct sample messages.

    Args:
        measured: measured rows.
        by: grouping columns.
        samples: distinct messages kept per label.

    Returns:
        Columns `group`, `error_label`, `count`, `share` (of the group's requests), `samples`.
    """
    rows = []
    for _, label, group in _groups(measured, by):
        failed = group[~group["ok"]]
        for error, hits in failed.groupby("error_label", sort=True):
            messages = [m for m in hits["error"].astype(str).unique() if m][:samples]
            rows.append({"group": label, "error_label": error, "count": len(hits),
                         "share": len(hits) / len(group), "samples": messages})
    return pd.DataFrame(rows, columns=["group", "error_label", "count", "share", "samples"])


def pod_table(measured: pd.DataFrame, by: Sequence[str], pods: Sequence[str] = ()) -> pd.DataFrame:
    """Per-pod requests and tokens of every group (long form; see `metrics.pod_counts`).

    Args:
        measured: measured rows.
        by: grouping columns.
        pods: pods expected to serve.

    Returns:
        Columns `group`, `target_pod`, `requests`, `output_tokens`, `request_share`,
        `token_share`.
    """
    parts = [pod_counts(group, pods).assign(group=label) for _, label, group in
             _groups(measured, by)]
    columns = ["group", "target_pod", "requests", "output_tokens", "request_share", "token_share"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def pod_share_matrix(pods: pd.DataFrame, value: str = "request_share") -> pd.DataFrame:
    """Groups x pods matrix of one share column of `pod_table` (for the heatmap).

    Args:
        pods: the frame of `pod_table`.
        value: `request_share` or `token_share`.

    Returns:
        Index: group labels; columns: pods; missing cells 0.
    """
    if pods.empty:
        return pd.DataFrame()
    return pods.pivot_table(index="group", columns="target_pod", values=value, aggfunc="sum",
                            fill_value=0.0, sort=True)


def request_samples(measured: pd.DataFrame, by: Sequence[str], summary: pd.DataFrame,
                    warmup_s: float) -> dict[str, dict[str, np.ndarray]]:
    """The raw samples significance tests need, per group label.

    Args:
        measured: measured rows (with `offset_s`).
        by: grouping columns.
        summary: the frame of `summarize` (for each group's `duration_s`).
        warmup_s: the warm-up the rows were filtered with (the window starts there).

    Returns:
        group -> {"ttft_ms", "e2e_ms", "tpot_ms", "itl_ms", "itl_ms_request_p50",
        "output_tokens_per_s"} arrays: one value per successful request, except `itl_ms` (one
        per token gap), `itl_ms_request_p50` (each request's median gap) and
        `output_tokens_per_s` (per-second bins, `regression.throughput_bins`).
    """
    durations = dict(zip(summary["group"], summary["duration_s"], strict=True))
    out = {}
    for _, label, group in _groups(measured, by):
        ok = group[group["ok"]]
        done_offset = ok["done_s"] - (ok["intended_s"] - ok["offset_s"]) - warmup_s
        out[label] = {
            "ttft_ms": ok["ttft_ms"].to_numpy(float), "e2e_ms": ok["e2e_ms"].to_numpy(float),
            "tpot_ms": ok["tpot_ms"].dropna().to_numpy(float),
            "itl_ms": np.asarray([x for xs in ok["itl_ms"] for x in xs], dtype=float),
            ITL_PER_REQUEST: np.asarray([np.median(xs) for xs in ok["itl_ms"] if len(xs)],
                                        dtype=float),
            "output_tokens_per_s": throughput_bins(done_offset.to_numpy(float),
                                                   ok["output_tokens"].to_numpy(float),
                                                   durations[label])}
    return out


@dataclass(frozen=True)
class AnalysisOptions:
    """Everything `analyze` needs besides the records."""

    by: tuple[str, ...] = DEFAULT_BY
    warmup_s: float = 0.0
    slos: tuple[SloSet, ...] = DEFAULT_SLOS
    pods: tuple[str, ...] = ()
    schedule: Schedule = field(default_factory=Schedule)
    bounds: ValidityBounds = field(default_factory=ValidityBounds)
    pairing: PairingSettings = field(default_factory=PairingSettings)
    step_s: float = 1.0
    sweep: bool = False  # rate levels in `by`: breached levels are saturation, not invalidity
    baseline: str = ""  # strategy the others are compared with ("": `choose_baseline`)


@dataclass(frozen=True)
class BenchmarkResult:
    """All summaries of one benchmark run, ready for plots, reports and the history."""

    options: AnalysisOptions
    summary: pd.DataFrame
    errors: pd.DataFrame
    pods: pd.DataFrame
    cdfs: dict[str, pd.DataFrame]
    series: pd.DataFrame
    validity: Validity
    comparisons: list[PairedDifference]
    samples: dict[str, dict[str, np.ndarray]]
    telemetry: TelemetrySummary = field(default_factory=TelemetrySummary)
    baseline: str = ""  # the strategy `versus_baseline` compares with
    versus_baseline: list[PairedDifference] = field(default_factory=list)


def _balance_from_engines(summary: pd.DataFrame, engine_pods: pd.DataFrame) -> None:
    """Groups whose responses named no pod (a router without `target-pod`) take their request
    balance from the engines' own finished-request counters, where telemetry has them."""
    if engine_pods.empty:
        return
    for index, row in summary[summary["pods"] == 0].iterrows():
        counts = engine_pods.loc[engine_pods["group"] == row["group"], "requests"].dropna()
        if len(counts) and counts.sum() > 0:
            indices = balance_indices(counts)
            summary.loc[index, ["pods", "pod_requests_max_over_mean", "pod_requests_cv"]] = (
                len(counts), indices["max_over_mean"], indices["cv"])


def analyze(frame: pd.DataFrame, options: AnalysisOptions | None = None,
            telemetry_samples: pd.DataFrame | None = None) -> BenchmarkResult:
    """Summarize a run's request frame into everything a report shows.

    Args:
        frame: the request frame.
        options: grouping, warm-up, SLOs, schedule, validity bounds, pairing.
        telemetry_samples: engine/GPU samples (`telemetry.load_telemetry`) labelled with the
            `by` columns; None or empty when the run was not sampled.

    Returns:
        The summaries; `validity` also fails when there are no measured requests. The summary
        gains `engine_prefix_cache_hit_rate` (NaN without telemetry) beside the client-side
        `prefix_cache_hit_rate`.
    """
    options = options or AnalysisOptions()
    by, warmup = options.by, options.warmup_s
    measured = window.measured(frame, by, warmup)
    summary = summarize(frame, by, warmup_s=warmup, slos=options.slos, pods=options.pods)
    sampled = (summarize_telemetry(telemetry_samples, frame, by, warmup)
               if telemetry_samples is not None else TelemetrySummary())
    if not summary.empty:
        summary.insert(summary.columns.get_loc("prefix_cache_hit_rate") + 1,
                       "engine_prefix_cache_hit_rate",
                       [sampled.hit_rates.get(g, float("nan")) for g in summary["group"]])
        summary["achieved_rate_per_s"] = [achieved_rate_per_s(r, options.schedule, warmup)
                                          for _, r in summary.iterrows()]
        _balance_from_engines(summary, sampled.pods)
    column = options.pairing.column
    strategies = sorted(measured[column].unique()) if column in measured else []
    baseline = choose_baseline(strategies, options.baseline)
    validity = (check_validity(summary, options.schedule, options.bounds, warmup, options.sweep)
                if not summary.empty else Validity(False, ("no measured requests",)))
    return BenchmarkResult(
        options=options, summary=summary, errors=error_table(measured, by),
        pods=pod_table(measured, by, options.pods),
        cdfs={m: latency_cdf(measured, m, by) for m in ("ttft_ms", "itl_ms", "e2e_ms")},
        series=time_series(frame, by, options.step_s), validity=validity,
        comparisons=paired_comparisons(measured, by, settings=options.pairing),
        samples=request_samples(measured, by, summary, warmup) if not summary.empty else {},
        telemetry=sampled, baseline=baseline,
        versus_baseline=baseline_differences(measured, by, baseline, options.pairing)
        if len(strategies) > 1 else [])


def _formula_sources() -> dict[str, Callable[..., Any]]:
    return {
        "TTFT": frame_module.ttft_ms, "ITL": frame_module.per_token_gaps_ms,
        "TPOT": frame_module.tpot_ms, "E2E": frame_module.e2e_ms,
        "Send lag": frame_module.send_lag_ms, "Measured window": window.measured,
        "Window duration": window.window_duration_s,
        "Percentiles": metrics.latency_percentiles, "Throughput": metrics.throughput,
        "Goodput": metrics.goodput, "Error rate": metrics.error_rate,
        "Per-pod counts": metrics.pod_counts, "Pod balance": metrics.balance_indices,
        "Prefix-cache hit rate": metrics.prefix_cache_hit_rate,
        "Engine prefix-cache hit rate": telemetry.engine_prefix_cache_hit_rate,
        "Engine load per pod": telemetry.engine_pod_load,
        "Achieved rate": validity_module.achieved_rate_per_s,
        "Paired difference": paired.paired_difference,
        "Paired percentile difference": paired.paired_quantile_difference,
        "Mann-Whitney U": stats.mann_whitney_u,
        "Quantile shift test": stats.quantile_shift,
        "Holm adjustment": stats.holm_adjust,
    }


def formula_of(function: Callable[..., Any]) -> str:
    """The "Formula:" paragraph of a function's docstring, on one line.

    Args:
        function: a documented analysis function.

    Returns:
        The paragraph's text after "Formula:".
    """
    doc = inspect.getdoc(function) or ""
    paragraph = next((p for p in doc.split("\n\n") if p.startswith("Formula:")), "")
    if not paragraph:
        raise ValueError(f"{function.__qualname__} documents no formula")
    return " ".join(paragraph.removeprefix("Formula:").split())


def metric_formulas() -> dict[str, str]:
    """Every metric's formula, taken from the docstring of the function that computes it.

    Returns:
        Metric name -> formula text, in report order.
    """
    return {name: formula_of(fn) for name, fn in _formula_sources().items()}
