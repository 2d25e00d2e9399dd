"""Figures of benchmark summaries (matplotlib, Agg, no pyplot state).

Every function takes frames already computed by `brixcheck.analysis` and returns a
`matplotlib.figure.Figure`; `figure_png` renders one to PNG bytes. Nothing here computes a
metric or writes a file.
"""

from brixcheck.plots.figures import (
    engine_series_figure,
    figure_png,
    goodput_rate_figure,
    interval_bars_figure,
    latency_cdf_figure,
    latency_throughput_figure,
    pod_heatmap_figure,
    time_series_figure,
    trend_figure,
)

__all__ = [
    "engine_series_figure", "figure_png", "goodput_rate_figure", "interval_bars_figure",
    "latency_cdf_figure", "latency_throughput_figure", "pod_heatmap_figure",
    "time_series_figure", "trend_figure",
]
