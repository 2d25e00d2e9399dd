"""A GPU-optimizer profile of one model on one deployment (AIBrix v0.5.0
``pkg/cache/model_gpu_profile.go``), as the slo* strategies read it from Redis
(``aibrix:profile_<model>_<deployment>``), and the request output predictor they need
(``pkg/cache/output_predictor.go``).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SIGNATURE_TOLERANCE = 0.5  # a value halfway between two indexes goes to the upper one
REDIS_KEY_TEMPLATE = "aibrix:profile_{model}_{deployment}"


class ProfileError(ValueError):
    """The profile cannot answer for this request (missing table, out of range)."""


@dataclass(frozen=True)
class ModelGPUProfile:
    """Throughput and latency per (output, input) token-length bucket, with the model's SLOs."""

    deployment: str
    indexes: tuple[tuple[float, ...], ...]  # log2 of [output tokens], [input tokens]
    tputs: tuple[tuple[float, ...], ...] | None
    e2e: tuple[tuple[float, ...], ...] | None
    ttft: tuple[tuple[float, ...], ...] | None
    tpot: tuple[tuple[float, ...], ...] | None
    slos: Mapping[str, float]
    created: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelGPUProfile:
        """Parse the GPU optimizer's JSON; indexes are stored as log2, as v0.5.0 does on load."""
        def table(key: str) -> tuple[tuple[float, ...], ...] | None:
            rows = data.get(key)
            return None if rows is None else tuple(tuple(float(v) for v in r) for r in rows)
        indexes = tuple(tuple(math.log2(float(v)) for v in row) for row in data.get("indexes", ()))
        return cls(deployment=str(data.get("gpu", "")), indexes=indexes, tputs=table("tputs"),
                   e2e=table("e2e"), ttft=table("ttft"), tpot=table("tpot"),
                   slos={k: float(v) for k, v in (data.get("slos") or {}).items()},
                   created=float(data.get("created", 0.0)))

    def signature(self, features: Sequence[float]) -> tuple[int, ...]:
        """Bucket index per feature (GetSignature, including its single-step search)."""
        if not features:
            raise ProfileError("missing values on getting profile signature")
        return tuple(_bucket(self.indexes[i], math.log2(max(v, 1e-12)))
                     for i, v in enumerate(features))

    def throughput_rps(self, signature: Sequence[int]) -> float:
        return _lookup(self.tputs, signature, "throughput")

    def latency_seconds(self, signature: Sequence[int]) -> float:
        return _lookup(self.e2e, signature, "E2E latency")


def _bucket(index: Sequence[float], value: float) -> int:
    if not index:
        raise ProfileError("profile index size mismatch, at least 1")
    size = len(index)
    if size == 1 or value < index[0]:
        return 0
    if value > index[-1]:
        return size - 1
    left, right = 0, size - 1
    if left < right - 1:  # v0.5.0's search loop runs once only (it ends in `break`)
        mid = (left + right) // 2
        if value < index[mid]:
            right = mid
        elif value > index[mid]:
            left = mid
        else:
            return mid
    threshold = index[left] + (index[right] - index[left]) * SIGNATURE_TOLERANCE
    return left if value < threshold else right


def _lookup(ref: Sequence[Sequence[float]] | None, signature: Sequence[int], what: str) -> float:
    if ref is None:
        raise ProfileError(f"profile has no {what} data")
    if len(signature) < 2 or signature[0] >= len(ref) or signature[1] >= len(ref[signature[0]]):
        raise ProfileError(f"signature out of bound: {list(signature)}")
    return ref[signature[0]][signature[1]]


class OutputPredictor:
    """Predicts a request's output length from past (input, output) pairs in log2 buckets; with
    no history for the input bucket it predicts 1 token (v0.5.0's optimistic cold prediction).
    v0.5.0 also ages pairs out after 240 s; this keeps them (the twin's runs are short)."""

    MAX_TOKENS = 1024 * 1024

    def __init__(self, rng: random.Random | None = None) -> None:
        self._buckets = math.ceil(math.log2(self.MAX_TOKENS + 1))
        self._counts: dict[int, list[int]] = {}
        self._lock = threading.Lock()
        self._rng = rng or random.Random()

    def _bucket(self, tokens: int) -> int:
        bucket = round(math.log2(tokens)) if tokens > 0 else 0
        return min(bucket, self._buckets - 1)

    def add_trace(self, input_tokens: int, output_tokens: int) -> None:
        with self._lock:
            row = self._counts.setdefault(self._bucket(input_tokens), [0] * self._buckets)
            row[self._bucket(output_tokens)] += 1

    def predict(self, input_tokens: int) -> int:
        with self._lock:
            row = self._counts.get(self._bucket(input_tokens))
            if not row:
                return 1
            cursor = self._rng.randrange(sum(row))
            for bucket, count in enumerate(row):
                cursor -= count
                if cursor < 0:
                    return 2 ** bucket
        return 2 ** (self._buckets - 1)
