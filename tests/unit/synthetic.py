"""Synthetic per-request records shaped like the load generator's (docs/loadgen.md).

The generator draws every request's schedule and base latency from the request index and the
seed only, so two strategies given the same seed replay the same requests (as real runs do);
a strategy differs by its latency scale, pod weights and errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brixcheck.analysis import records_to_frame


@dataclass(frozen=True)
class RunSpec:
    """One strategy's run."""

    strategy: str
    pods: tuple[str, ...] = ("pod-a", "pod-b", "pod-c")
    pod_weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    rate_per_s: float = 20.0
    duration_s: float = 15.0
    ttft_scale: float = 1.0  # multiplies the base TTFT
    itl_ms: float = 10.0
    output_tokens: int = 16
    error_every: int = 0  # every n-th request fails with 503 + x-error header
    send_lag_ms: float = 0.3
    start_s: float = 1000.0
    seed: int = 7
    cached_fraction: float = 0.25
    constant: bool = False  # constant arrivals: exactly rate x duration requests
    extra: dict[str, Any] = field(default_factory=dict)


def _arrivals(spec: RunSpec) -> np.ndarray:
    if spec.constant:
        return np.arange(round(spec.rate_per_s * spec.duration_s)) / spec.rate_per_s
    rng = np.random.default_rng(spec.seed)
    gaps = rng.exponential(1 / spec.rate_per_s, size=int(spec.rate_per_s * spec.duration_s * 2))
    offsets = np.cumsum(gaps)
    return offsets[offsets < spec.duration_s]


def _token_times(first_s: float, spec: RunSpec, rng: np.random.Generator) -> tuple[list, list]:
    times, chunks, now, produced = [first_s], [1], first_s, 1
    while produced < spec.output_tokens:
        k = 2 if rng.random() < 0.1 and produced + 2 <= spec.output_tokens else 1
        now += k * spec.itl_ms / 1000 * rng.uniform(0.8, 1.2)
        times.append(now)
        chunks.append(k)
        produced += k
    return times, chunks


def _record(spec: RunSpec, index: int, offset: float, base_ttft_ms: float) -> dict[str, Any]:
    rng = np.random.default_rng([spec.seed, index, sum(map(ord, spec.strategy))])
    intended = spec.start_s + offset
    sent = intended + spec.send_lag_ms / 1000 * rng.uniform(0.5, 1.5)
    pod = spec.pods[rng.choice(len(spec.pods), p=np.array(spec.pod_weights) /
                               sum(spec.pod_weights))]
    record: dict[str, Any] = {
        "request_id": f"0-{index}", "scenario": "streaming-chat", "strategy": spec.strategy,
        "intended_s": intended, "sent_s": sent, "headers_s": sent + 0.002, "status": 200,
        "error": "", "error_header": "", "target_pod": pod, "token_times_s": [],
        "chunk_tokens": [], "done_s": None, "prompt_tokens": None, "output_tokens": None,
        "cached_tokens": None, "truth": None}
    if spec.error_every and index % spec.error_every == spec.error_every - 1:
        record.update(status=503, target_pod="", error='{"error": "no ready pods"}',
                      error_header="x-error-no-model-backends: true")
        return record
    times, chunks = _token_times(intended + base_ttft_ms * spec.ttft_scale / 1000, spec, rng)
    prompt = 120
    record.update(token_times_s=times, chunk_tokens=chunks, done_s=times[-1] + 0.001,
                  prompt_tokens=prompt, output_tokens=spec.output_tokens,
                  cached_tokens=int(prompt * spec.cached_fraction))
    return record


def make_records(spec: RunSpec) -> list[dict[str, Any]]:
    """Records of one run; request i has the same arrival and base TTFT for a given seed."""
    offsets = _arrivals(spec)
    base = np.random.default_rng(spec.seed + 1).lognormal(np.log(50), 0.3, size=offsets.size)
    return [_record(spec, i, float(o), float(b)) for i, (o, b) in
            enumerate(zip(offsets, base, strict=True))]


def two_strategies(**overrides: Any) -> list[dict[str, Any]]:
    """`random` (even pods, a few 503s) and `least-request` (20% lower TTFT, skewed pods)."""
    return (make_records(RunSpec("random", error_every=25, **overrides))
            + make_records(RunSpec("least-request", ttft_scale=0.8,
                                   pod_weights=(2.0, 1.0, 1.0), start_s=5000.0, **overrides)))


SHOOTOUT = (  # strategy, TTFT scale, pod weights, prefix-cache hit fraction
    ("random", 1.0, (1.0, 1.0, 1.0), 0.25),
    ("least-request", 0.8, (1.0, 1.0, 1.1), 0.25),
    ("prefix-cache", 0.7, (2.0, 1.0, 1.0), 0.6),
    ("throughput", 1.02, (1.0, 1.0, 1.0), 0.25),
)


def shootout_frame(repeats: int = 2, strategies: tuple = SHOOTOUT) -> pd.DataFrame:
    """Several strategies, each repeat replaying the same schedule, labelled with `strategy`
    and `repeat`: `prefix-cache` and `least-request` faster than `random`, `throughput` no
    different from it but for noise."""
    frames = []
    for repeat in range(repeats):
        for n, (name, scale, weights, cached) in enumerate(strategies):
            spec = RunSpec(name, ttft_scale=scale, pod_weights=weights, cached_fraction=cached,
                           start_s=1000.0 + 100 * (repeat * len(strategies) + n))
            frames.append(records_to_frame(make_records(spec), {"repeat": repeat}))
    return pd.concat(frames, ignore_index=True)


ELEVEN = (  # 8 AIBrix strategies and 3 vllm-router policies, as a shoot-out lists them
    *SHOOTOUT, ("least-kv-cache", 0.95, (1.0, 1.0, 1.0), 0.25),
    ("least-busy-time", 0.9, (1.0, 1.2, 1.0), 0.25), ("least-latency", 0.85, (1, 1, 1), 0.25),
    ("prefix-cache-preble", 0.75, (1.5, 1.0, 1.0), 0.5), ("vllm-router:random", 1.0, (1, 1, 1),
                                                           0.25),
    ("vllm-router:power_of_two", 0.82, (1, 1, 1), 0.25),
    ("vllm-router:cache_aware", 0.72, (1.8, 1, 1), 0.55),
)
