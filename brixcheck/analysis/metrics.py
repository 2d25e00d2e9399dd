"""Summary metrics of one group of measured requests (one strategy, one rate level).

Each function takes the measured rows of one group (see `window.measured`) and returns plain
numbers; its docstring's "Formula:" paragraph is the metric's definition, copied verbatim into
every report. Nothing here reads files or draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

PERCENTILES = (50, 90, 99)
LATENCY_METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")


@dataclass(frozen=True)
class SloSet:
    """A named set of latency thresholds (ms); None leaves that metric unconstrained."""

    name: str
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    def thresholds(self) -> dict[str, float]:
        """The set thresholds by metric column (unset ones left out)."""
        limits = {"ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms, "e2e_ms": self.e2e_ms}
        return {k: v for k, v in limits.items() if v is not None}


# Examples only: a scenario should state the SLOs its model and hardware are judged by.
DEFAULT_SLOS = (
    SloSet("strict", ttft_ms=200, tpot_ms=25, e2e_ms=2000),
    SloSet("interactive", ttft_ms=500, tpot_ms=50, e2e_ms=5000),
    SloSet("relaxed", ttft_ms=2000, tpot_ms=100, e2e_ms=20000),
)


def latency_samples(group: pd.DataFrame, metric: str) -> np.ndarray:
    """The samples a latency percentile is taken over: successful requests only.

    Args:
        group: measured rows of one group.
        metric: one of `LATENCY_METRICS` or `send_lag_ms`.

    Returns:
        A float array; ITL pools every per-token gap of every successful request.
    """
    rows = group if metric == "send_lag_ms" else group[group["ok"]]
    if metric == "itl_ms":
        lists = [np.asarray(x, dtype=float) for x in rows["itl_ms"]]
        return np.concatenate(lists) if lists else np.empty(0)
    values: np.ndarray = rows[metric].to_numpy(dtype=float)
    kept: np.ndarray = values[~np.isnan(values)]
    return kept


def latency_percentiles(group: pd.DataFrame, metric: str,
                        percentiles: Sequence[int] = PERCENTILES) -> dict[str, float]:
    """Percentiles of one latency metric over the measured, successful requests of a group.

    Formula: p-th percentile with linear interpolation between closest ranks (numpy's default
    "linear" method) of the metric's samples: TTFT, TPOT and E2E one sample per successful
    request; ITL one sample per output token after the first event (pooled across requests);
    send lag one sample per sent request, failed ones included. Failed requests are counted in
    the error rate, not in latency percentiles.

    Args:
        group: measured rows of one group.
        metric: column name, e.g. `ttft_ms`.
        percentiles: which percentiles.

    Returns:
        `{f"{metric}_p{p}": value}`; NaN when there are no samples.
    """
    samples = latency_samples(group, metric)
    if samples.size == 0:
        return {f"{metric}_p{p}": float("nan") for p in percentiles}
    values = np.percentile(samples, list(percentiles))
    return {f"{metric}_p{p}": float(v) for p, v in zip(percentiles, values, strict=True)}


def throughput(group: pd.DataFrame, duration_s: float) -> dict[str, float]:
    """Request and output-token rates over the measured window.

    Formula: requests/s = successful measured requests / window duration; output tokens/s =
    sum of `usage.completion_tokens` of successful measured requests / window duration. The
    window starts at run start + warm-up and ends when the last measured request ended.

    Args:
        group: measured rows of one group.
        duration_s: the window's length (`window.window_duration_s`).

    Returns:
        `requests_per_s` and `output_tokens_per_s`.
    """
    ok = group[group["ok"]]
    if not duration_s or np.isnan(duration_s) or duration_s <= 0:
        return {"requests_per_s": float("nan"), "output_tokens_per_s": float("nan")}
    return {"requests_per_s": len(ok) / duration_s,
            "output_tokens_per_s": float(ok["output_tokens"].sum()) / duration_s}


def meets_slo(group: pd.DataFrame, slo: SloSet) -> pd.Series:
    """Which requests are good under an SLO set (see `goodput`).

    Args:
        group: measured rows.
        slo: the thresholds.

    Returns:
        A boolean Series aligned with `group`.
    """
    good = group["ok"].astype(bool).copy()
    for metric, limit in slo.thresholds().items():
        holds = group[metric] <= limit
        if metric == "tpot_ms":
            holds |= group[metric].isna()
        good &= holds
    return good


def goodput(group: pd.DataFrame, duration_s: float, slo: SloSet) -> dict[str, float]:
    """Goodput under one SLO set.

    Formula: a request is good iff it succeeded and every threshold of the set holds
    (TTFT <= ttft_ms, TPOT <= tpot_ms, E2E <= e2e_ms; an unset threshold always holds, and an
    undefined TPOT (one output token) holds). goodput/s = good requests / window duration;
    goodput fraction = good requests / all measured requests (failures count as not good).

    Args:
        group: measured rows of one group.
        duration_s: the window's length.
        slo: the thresholds.

    Returns:
        `goodput_<name>_per_s` and `goodput_<name>_fraction`.
    """
    good = int(meets_slo(group, slo).sum())
    rate = good / duration_s if duration_s and duration_s > 0 else float("nan")
    fraction = good / len(group) if len(group) else float("nan")
    return {f"goodput_{slo.name}_per_s": rate, f"goodput_{slo.name}_fraction": fraction}


def error_rate(group: pd.DataFrame) -> dict[str, float]:
    """Failed share of the measured requests.

    Formula: error rate = failed / measured requests; a request fails unless it got status
    200, no error (an `{"error": ...}` event inside a 200 stream is one), at least one token
    and `[DONE]`. Failures are labelled "<status> <x-error-* header | cause>".

    Args:
        group: measured rows of one group.

    Returns:
        `requests`, `ok_requests`, `failed_requests`, `error_rate`.
    """
    total, ok = len(group), int(group["ok"].sum())
    return {"requests": total, "ok_requests": ok, "failed_requests": total - ok,
            "error_rate": (total - ok) / total if total else float("nan")}


def balance_indices(counts: Sequence[float]) -> dict[str, float]:
    """How unevenly work is spread over pods.

    Formula: imbalance index = max / mean of the per-pod counts (1.0 = perfectly even);
    coefficient of variation = population standard deviation / mean (0.0 = even). Pods are
    those that served a measured request, plus any pods the caller lists as expected.

    Args:
        counts: one count per pod (requests or output tokens).

    Returns:
        `max_over_mean` and `cv`; NaN without pods.
    """
    values = np.asarray(counts, dtype=float)
    if values.size == 0 or values.mean() == 0:
        return {"max_over_mean": float("nan"), "cv": float("nan")}
    mean = values.mean()
    return {"max_over_mean": float(values.max() / mean), "cv": float(values.std() / mean)}


def pod_counts(group: pd.DataFrame, pods: Sequence[str] = ()) -> pd.DataFrame:
    """Requests and output tokens per `target-pod` of one group.

    Formula: requests = measured requests whose response named the pod in `target-pod`;
    tokens = output tokens of the successful ones; shares are each pod's fraction of the
    group's total.

    Args:
        group: measured rows of one group.
        pods: pods expected to serve (listed with zero counts when they got nothing).

    Returns:
        Columns `target_pod`, `requests`, `output_tokens`, `request_share`, `token_share`.
    """
    routed = group[group["target_pod"].astype(bool)]
    tokens = routed["output_tokens"].where(routed["ok"], 0).astype(float)
    table = pd.DataFrame({"requests": routed.groupby("target_pod").size(),
                          "output_tokens": tokens.groupby(routed["target_pod"]).sum()})
    table = table.reindex(sorted(set(table.index) | set(pods)), fill_value=0)
    table.index.name = "target_pod"
    table = table.reset_index()
    table["request_share"] = table["requests"] / max(table["requests"].sum(), 1)
    table["token_share"] = table["output_tokens"] / max(table["output_tokens"].sum(), 1)
    return table


def prefix_cache_hit_rate(group: pd.DataFrame) -> float:
    """Share of prompt tokens the engine served from its prefix cache.

    Formula: hit rate = sum(`usage.prompt_tokens_details.cached_tokens`) /
    sum(`usage.prompt_tokens`) over successful measured requests that reported both; NaN when
    none reported cached tokens (the engine does not expose them).

    Args:
        group: measured rows of one group.

    Returns:
        A fraction in [0, 1], or NaN.
    """
    rows = group[group["ok"] & group["cached_tokens"].notna() & group["prompt_tokens"].notna()]
    prompt = float(rows["prompt_tokens"].sum())
    return float(rows["cached_tokens"].sum()) / prompt if prompt > 0 else float("nan")
