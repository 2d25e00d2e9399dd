"""Figures draw from summaries and render to PNG, empty inputs included."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from brixcheck.analysis import AnalysisOptions, analyze, pod_share_matrix
from brixcheck.plots import (
    engine_series_figure,
    figure_png,
    goodput_rate_figure,
    latency_cdf_figure,
    latency_throughput_figure,
    pod_heatmap_figure,
    time_series_figure,
    trend_figure,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def result(bench_records):
    from brixcheck.analysis import records_to_frame

    return analyze(records_to_frame(bench_records), AnalysisOptions(warmup_s=2.0))


def test_figures_render_to_png(result):
    figures = [latency_cdf_figure(result.cdfs), latency_throughput_figure(result.summary),
               goodput_rate_figure(result.summary, ["strict"]),
               pod_heatmap_figure(pod_share_matrix(result.pods)),
               time_series_figure(result.series, warmup_s=2.0)]
    for figure in figures:
        assert isinstance(figure, Figure)
        assert figure_png(figure, dpi=40).startswith(PNG_MAGIC)


def test_cdf_figure_has_one_line_per_strategy(result):
    axes = latency_cdf_figure(result.cdfs).axes
    assert [ax.get_title() for ax in axes] == ["TTFT", "ITL (per token)", "E2E"]
    assert {line.get_label() for line in axes[0].get_lines()} == {"least-request", "random"}


def test_figures_of_nothing_say_so_instead_of_failing():
    empty = pd.DataFrame()
    figures = [latency_cdf_figure({"ttft_ms": pd.DataFrame(columns=["group"])}),
               latency_throughput_figure(empty), goodput_rate_figure(empty, ["strict"]),
               pod_heatmap_figure(empty), time_series_figure(empty),
               trend_figure(empty, ["ttft_ms_p50"])]
    for figure in figures:
        assert figure_png(figure, dpi=30).startswith(PNG_MAGIC)


def test_trend_figure_plots_one_point_per_run():
    trend = pd.DataFrame({"run_id": ["a", "b", "c"], "group": "random",
                          "started_at": pd.to_datetime(["2026-01-01", "2026-01-02",
                                                        "2026-01-03"], utc=True),
                          "ttft_ms_p50": [50.0, 51.0, 60.0]})
    ax = trend_figure(trend, ["ttft_ms_p50"]).axes[0]
    assert list(ax.get_lines()[0].get_ydata()) == [50.0, 51.0, 60.0]


def test_sweep_curves_have_one_point_per_rate_level(bench_records):
    from brixcheck.analysis import records_to_frame, summarize

    frames = [records_to_frame(bench_records, labels={"rate_per_s": rate}).assign(
        intended_s=lambda f, r=rate: f["intended_s"] + r * 10_000) for rate in (10, 20, 40)]
    summary = summarize(pd.concat(frames), ["strategy", "rate_per_s"])
    ax = goodput_rate_figure(summary, ["strict"]).axes[0]
    assert {line.get_label(): list(line.get_xdata()) for line in ax.get_lines()} == {
        "least-request": [10, 20, 40], "random": [10, 20, 40]}
    assert len(latency_throughput_figure(summary).axes[0].get_lines()) == 2


def test_engine_series_figure_has_a_row_per_group_and_a_line_per_pod():
    series = pd.DataFrame({"group": ["random"] * 4 + ["least-request"] * 2,
                           "pod": ["a", "a", "b", "b", "a", "a"], "t_s": [0, 1, 0, 1, 0, 1],
                           "running": [1, 2, 0, float("nan"), 3, 1],
                           "waiting": [0, 1, 0, 0, 0, 0], "kv_usage": [0.1, 0.2, 0, 0, 0.5, 0.4]})
    fig = engine_series_figure(series, warmup_s=0.5)
    assert len(fig.axes) == 2 * 3
    # Rows in group order; a line per pod plus the warm-up line.
    assert fig.axes[0].get_title() == "least-request: running requests"
    assert len(fig.axes[0].get_lines()) == 1 + 1
    assert len(fig.axes[3].get_lines()) == 2 + 1
    assert figure_png(fig).startswith(PNG_MAGIC)
    assert figure_png(engine_series_figure(series.iloc[0:0])).startswith(PNG_MAGIC)
