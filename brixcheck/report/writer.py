"""Write a run's report files: JSON, CSV, HTML and the strategy comparison in Markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from brixcheck.analysis import BenchmarkResult, pod_share_matrix
from brixcheck.analysis.intervals import BAR_METRICS, strategy_intervals
from brixcheck.files import write_atomic
from brixcheck.plots import (
    engine_series_figure,
    figure_png,
    goodput_rate_figure,
    interval_bars_figure,
    latency_cdf_figure,
    latency_throughput_figure,
    pod_heatmap_figure,
    time_series_figure,
)
from brixcheck.report.comparison import comparison_markdown
from brixcheck.report.document import RunInfo, benchmark_document, summary_csv
from brixcheck.report.html import render_html


@dataclass(frozen=True)
class ReportPaths:
    """The files one report consists of."""

    json: Path
    csv: Path
    html: Path
    comparison: Path


def _level_figures(result: BenchmarkResult, series: str) -> list[tuple[str, bytes]]:
    """Several rate levels: curves across them; one level: bars with CIs per strategy."""
    summary, options = result.summary, result.options
    levels = summary["rate_per_s"].nunique() if "rate_per_s" in summary.columns else 1
    if levels > 1:
        return [
            ("Latency vs throughput across rate levels", figure_png(latency_throughput_figure(
                summary, series=series))),
            ("Goodput vs offered rate", figure_png(goodput_rate_figure(
                summary, [s.name for s in options.slos], series=series))),
        ]
    if summary.empty or "strategy" not in summary.columns:
        return []
    intervals = strategy_intervals(result.samples, dict(zip(summary["group"],
                                                            summary["strategy"], strict=True)))
    return [("Latency and throughput per strategy with 95% confidence intervals",
             figure_png(interval_bars_figure(intervals, [m for m, _, _ in BAR_METRICS],
                                             result.baseline)))]


def report_figures(result: BenchmarkResult) -> list[tuple[str, bytes]]:
    """The report's figures as (caption, PNG bytes), drawn from the result's summaries.

    Args:
        result: the analysis.

    Returns:
        Latency CDFs; across several rate levels latency vs throughput and goodput vs rate,
        at one level bars with CIs per strategy; pod heatmap, time series, and the engine time
        series when the run was sampled.
    """
    options = result.options
    series = "strategy" if "strategy" in result.summary.columns else "group"
    engine = result.telemetry.series
    sampled = [("Engine metrics over time per strategy run: running and waiting requests and "
                "KV-cache usage per pod", figure_png(engine_series_figure(
                    engine, options.warmup_s)))] if not engine.empty else []
    return [
        ("Latency CDFs per strategy (TTFT, ITL, E2E)", figure_png(latency_cdf_figure(
            result.cdfs))),
        *_level_figures(result, series),
        ("Request share per pod (strategy x pod)", figure_png(pod_heatmap_figure(
            pod_share_matrix(result.pods)))),
        ("Requests in flight and output tokens/s over time", figure_png(time_series_figure(
            result.series, options.warmup_s))),
        *sampled,
    ]


def write_benchmark_report(result: BenchmarkResult, info: RunInfo, out_dir: Path) -> ReportPaths:
    """Write `benchmark-<run id>.{json,csv,html}` and `-comparison.md` into `out_dir`.

    Args:
        result: the analysis.
        info: run identity, environment, configuration and completeness.
        out_dir: the report directory (created if needed).

    Returns:
        The paths written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"benchmark-{info.run_id}"
    paths = ReportPaths(out_dir / f"{stem}.json", out_dir / f"{stem}.csv",
                        out_dir / f"{stem}.html", out_dir / f"{stem}-comparison.md")
    doc = benchmark_document(result, info)
    write_atomic(paths.json, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    write_atomic(paths.csv, summary_csv(result))
    write_atomic(paths.html, render_html(doc, report_figures(result)))
    pairing = result.options.pairing
    write_atomic(paths.comparison, comparison_markdown(result.comparisons, pairing.n_resamples,
                                                       pairing.seed))
    return paths
