"""The report's figures. Each takes summaries (frames from `brixcheck.analysis`) and draws.

Figures are built with `matplotlib.figure.Figure` and attached to the Agg canvas explicitly,
so no pyplot, no global backend switch and no display are involved, and figures are
garbage-collected normally.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

# Axis labels people read, with units, for summary columns.
LABELS = {"ttft_ms_p50": "TTFT p50 (ms)", "ttft_ms_p99": "TTFT p99 (ms)",
          "e2e_ms_p50": "E2E p50 (ms)", "output_tokens_per_s": "output tokens/s",
          "rate_per_s": "offered rate (requests/s)", "requests_per_s": "achieved requests/s"}
CDF_TITLES = {"ttft_ms": "TTFT", "itl_ms": "ITL (per token)", "e2e_ms": "E2E",
              "tpot_ms": "TPOT"}


def _figure(rows: int, cols: int, width: float = 5.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _empty(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render a figure to PNG bytes.

    Args:
        fig: the figure.
        dpi: resolution.

    Returns:
        The PNG file's bytes.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def latency_cdf_figure(cdfs: dict[str, pd.DataFrame]) -> Figure:
    """Latency CDFs, one panel per metric, one line per group.

    Args:
        cdfs: metric -> frame with `group`, `quantile`, `value_ms` (`analysis.latency_cdf`).

    Returns:
        The figure.
    """
    fig = _figure(1, max(1, len(cdfs)))
    for ax, (metric, cdf) in zip(fig.subplots(1, max(1, len(cdfs)), squeeze=False)[0],
                                 cdfs.items(), strict=False):
        if cdf.empty:
            _empty(ax, "samples")
            continue
        for group, rows in cdf.groupby("group", sort=True):
            ax.plot(rows["value_ms"], rows["quantile"], label=str(group))
        ax.set(title=CDF_TITLES.get(metric, metric), xlabel="ms", ylabel="fraction of samples",
               ylim=(0, 1))
        low, high = cdf["value_ms"].min(), cdf["value_ms"].max()
        if low > 0 and high / low > 10:  # log only where the samples span a decade
            ax.set_xscale("log")
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    _side_legend(fig, fig.axes[0])
    return fig


def _side_legend(fig: Figure, ax: Axes) -> None:
    """One legend beside the panels, in columns: many strategy runs must not squash the axes."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside right upper", fontsize="x-small",
                   ncol=1 + len(labels) // 12)


def _curves(ax: Axes, summary: pd.DataFrame, x: str, y: str, series: str) -> None:
    for name, rows in summary.sort_values(x).groupby(series, sort=True):
        ax.plot(rows[x], rows[y], marker="o", label=str(name))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")


def latency_throughput_figure(summary: pd.DataFrame, x: str = "output_tokens_per_s",
                              metrics: Sequence[str] = ("ttft_ms_p50", "ttft_ms_p99",
                                                        "e2e_ms_p50"),
                              series: str = "strategy") -> Figure:
    """Latency against achieved throughput, one point per rate level, one curve per strategy.

    Args:
        summary: `analysis.summarize` rows (one per strategy and rate level).
        x: throughput column.
        metrics: latency columns, one panel each.
        series: the column that makes one curve.

    Returns:
        The figure.
    """
    fig = _figure(1, len(metrics))
    for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics, strict=True):
        if summary.empty:
            _empty(ax, "summary")
            continue
        _curves(ax, summary, x, metric, series)
        ax.set(title=f"{LABELS.get(metric, metric)} vs {LABELS.get(x, x)}",
               xlabel=LABELS.get(x, x), ylabel=LABELS.get(metric, metric))
        ax.set_ylim(bottom=0)
    return fig


def goodput_rate_figure(summary: pd.DataFrame, slos: Sequence[str], x: str = "rate_per_s",
                        series: str = "strategy") -> Figure:
    """Goodput fraction against offered rate, one panel per SLO set, one curve per strategy.

    Args:
        summary: `analysis.summarize` rows.
        slos: SLO set names (columns `goodput_<name>_fraction`).
        x: the offered-rate column (falls back to `requests_per_s` when absent).
        series: the column that makes one curve.

    Returns:
        The figure.
    """
    x = x if x in summary.columns else "requests_per_s"
    fig = _figure(1, max(1, len(slos)))
    for ax, slo in zip(fig.subplots(1, max(1, len(slos)), squeeze=False)[0], slos, strict=False):
        if summary.empty:
            _empty(ax, "summary")
            continue
        _curves(ax, summary, x, f"goodput_{slo}_fraction", series)
        ax.set(title=f"goodput ({slo} SLOs)", xlabel=LABELS.get(x, x),
               ylabel="fraction of requests meeting the SLOs", ylim=(0, 1.05))
    return fig


def interval_bars_figure(intervals: pd.DataFrame, metrics: Sequence[str],
                         baseline: str = "") -> Figure:
    """One rate level: a bar per strategy with its 95% CI, one panel per metric, the value axis
    from zero (so small differences are not blown up), the baseline's bar hatched.

    Args:
        intervals: `analysis.intervals.strategy_intervals` rows.
        metrics: which metrics, one panel each.
        baseline: the strategy the others are compared with.

    Returns:
        The figure.
    """
    strategies = sorted(intervals["strategy"].unique()) if not intervals.empty else []
    fig = _figure(1, len(metrics), width=max(3.2, 0.45 * len(strategies) + 1.5), height=3.8)
    for ax, metric in zip(fig.subplots(1, len(metrics), squeeze=False)[0], metrics, strict=True):
        rows = intervals[intervals["metric"] == metric].set_index("strategy").reindex(strategies)
        if rows["estimate"].isna().all():
            _empty(ax, metric)
            continue
        errors = [rows["estimate"] - rows["low"], rows["high"] - rows["estimate"]]
        bars = ax.bar(range(len(strategies)), rows["estimate"], yerr=errors, capsize=3,
                      color="#4c72b0")
        for bar, name in zip(bars, strategies, strict=True):
            if name == baseline:
                bar.set(hatch="//", facecolor="#bbbbbb", label=f"baseline ({baseline})")
        ax.set_xticks(range(len(strategies)), strategies, rotation=45, ha="right",
                      fontsize="small")
        ax.set(title=LABELS.get(metric, metric), ylabel=LABELS.get(metric, metric))
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("per strategy, repeats pooled; error bars: 95% bootstrap CI", fontsize="small")
    return fig


def pod_heatmap_figure(matrix: pd.DataFrame, title: str = "request share per pod") -> Figure:
    """Heatmap of groups (rows) x pods (columns), cells annotated.

    Args:
        matrix: `analysis.pod_share_matrix` output.
        title: the figure title.

    Returns:
        The figure.
    """
    fig = _figure(1, 1, width=max(5.0, 1.2 * len(matrix.columns) + 3),
                  height=max(2.5, 0.6 * len(matrix.index) + 1.5))
    ax = fig.subplots()
    if matrix.empty:
        _empty(ax, "pods")
        return fig
    image = ax.imshow(matrix.to_numpy(float), cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(len(matrix.columns)), [str(c) for c in matrix.columns], rotation=30,
                  ha="right")
    ax.set_yticks(range(len(matrix.index)), [str(i) for i in matrix.index])
    for (row, col), value in pd.DataFrame(matrix.to_numpy(float)).stack().items():
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", color="w", fontsize="small")
    fig.colorbar(image, ax=ax)
    ax.set_title(title)
    return fig


def time_series_figure(series: pd.DataFrame, warmup_s: float = 0.0) -> Figure:
    """Requests in flight and output tokens/s over time, one line per group.

    Args:
        series: `analysis.time_series` output.
        warmup_s: where the warm-up ends (a dashed line).

    Returns:
        The figure.
    """
    fig = _figure(2, 1, width=9.0, height=2.8)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, column, label in zip(axes, ("in_flight", "output_tokens_per_s"),
                                 ("requests in flight", "output tokens/s"), strict=True):
        if series.empty:
            _empty(ax, "data")
            continue
        for group, rows in series.groupby("group", sort=True):
            ax.plot(rows["t_s"], rows[column], label=str(group), drawstyle="steps-post")
        if warmup_s:
            ax.axvline(warmup_s, linestyle="--", color="grey", label="end of warm-up")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    _side_legend(fig, axes[0])
    axes[-1].set_xlabel("seconds since start")
    return fig


POD_STYLES = ("-", "--", ":", "-.")
POD_MARKERS = ("o", "s", "^", "x", "d")
ENGINE_PANELS = (("running", "running requests"), ("waiting", "waiting requests"),
                 ("kv_usage", "KV-cache usage"))


def engine_series_figure(series: pd.DataFrame, warmup_s: float = 0.0) -> Figure:
    """Engine running/waiting requests and KV-cache usage over time: a row per group (strategy
    run), a panel per metric, a line per pod, so a strategy that piles requests on one pod shows.

    Args:
        series: `TelemetrySummary.series` (`group`, `pod`, `t_s`, `running`, `waiting`,
            `kv_usage`); NaN rows are failed scrapes and break the line.
        warmup_s: where the warm-up ends (a dashed line).

    Returns:
        The figure.
    """
    groups = sorted(series["group"].unique()) if not series.empty else []
    fig = _figure(max(1, len(groups)), len(ENGINE_PANELS), width=4.2, height=2.4)
    axes = fig.subplots(max(1, len(groups)), len(ENGINE_PANELS), squeeze=False, sharex=True)
    if not groups:
        for ax in axes[0]:
            _empty(ax, "engine telemetry")
        return fig
    for row, group in zip(axes, groups, strict=True):
        rows = series[series["group"] == group]
        for ax, (column, label) in zip(row, ENGINE_PANELS, strict=True):
            for n, (pod, points) in enumerate(rows.groupby("pod", sort=True)):
                # dashes and markers per pod: equal loads overlap and stay distinguishable
                ax.plot(points["t_s"], points[column], label=str(pod), drawstyle="steps-post",
                        linestyle=POD_STYLES[n % len(POD_STYLES)], marker=POD_MARKERS[
                            n % len(POD_MARKERS)], markevery=max(1, len(points) // 10), alpha=0.85)
            if warmup_s:
                ax.axvline(warmup_s, linestyle="--", color="grey")
            ax.set_title(f"{group}: {label}", fontsize="small")
            ax.set_ylim(0, 1.05 if column == "kv_usage" else None)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize="x-small")
    for ax in axes[-1]:
        ax.set_xlabel("seconds since start")
    return fig


TREND_LABELS = {"ttft_ms_p50": "TTFT p50 (ms)", "ttft_ms_p99": "TTFT p99 (ms)",
                "e2e_ms_p50": "E2E p50 (ms)", "itl_ms_p50": "ITL p50 (ms)",
                "output_tokens_per_s": "output tokens/s"}


def trend_figure(trend: pd.DataFrame, metrics: Sequence[str],
                 flagged: set[str] | frozenset[str] = frozenset()) -> Figure:
    """Metrics across nights: one panel per metric, one line per group, one point per run,
    runs named on the x axis in order, the value axis from zero (a 3 % drift must not fill the
    panel), and the nights the gate flagged ringed in red and shaded.

    Args:
        trend: rows with `started_at` (datetime), `run_id`, `group` and the metric columns.
        metrics: the columns to draw.
        flagged: run ids the gate flagged as a regression.

    Returns:
        The figure.
    """
    runs = (trend.sort_values("started_at").drop_duplicates("run_id")["run_id"].tolist()
            if not trend.empty else [])
    position = {run: n for n, run in enumerate(runs)}
    fig = _figure(len(metrics), 1, width=max(9.0, 0.5 * len(runs) + 3), height=2.6)
    axes = fig.subplots(len(metrics), 1, squeeze=False, sharex=True)[:, 0]
    for ax, metric in zip(axes, metrics, strict=True):
        if trend.empty or metric not in trend.columns:
            _empty(ax, metric)
            continue
        for group, rows in trend.sort_values("started_at").groupby("group", sort=True):
            x = rows["run_id"].map(position)
            ax.plot(x, rows[metric], marker="o", label=str(group))
            bad = rows["run_id"].isin(flagged)
            ax.scatter(x[bad], rows.loc[bad, metric], s=160, facecolors="none",
                       edgecolors="#c62828", linewidths=2, zorder=3)
        for run in flagged & set(runs):
            ax.axvspan(position[run] - 0.4, position[run] + 0.4, color="#c62828", alpha=0.12)
        ax.set_ylabel(TREND_LABELS.get(metric, metric), fontsize="small")
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
        ax.grid(alpha=0.3)
    if runs:
        axes[-1].set_xticks(range(len(runs)), runs, rotation=45, ha="right", fontsize="small")
        axes[-1].set_xlabel("run id (oldest first); red rings: nights the gate flagged")
        _side_legend(fig, axes[0])
    return fig
