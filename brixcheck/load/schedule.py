"""Arrival schedules computed before a run starts, so sending never waits on the server.

Open-loop load must not slow down when the server does (coordinated omission): every request
has an intended send time fixed in advance, and latency is measured from it. A schedule is a
sorted list of offsets in seconds from the start; it is deterministic for a seed.
"""

from __future__ import annotations

import random
from enum import StrEnum


class Arrival(StrEnum):
    """How requests are spaced."""

    POISSON = "poisson"
    CONSTANT = "constant"


def arrival_offsets(rate_per_s: float, duration_s: float, kind: Arrival = Arrival.POISSON,
                    seed: int = 0) -> list[float]:
    """Offsets (s) of requests arriving at `rate_per_s` for `duration_s`."""
    if rate_per_s <= 0 or duration_s <= 0:
        raise ValueError(f"rate and duration must be positive, got {rate_per_s}, {duration_s}")
    if kind is Arrival.CONSTANT:
        count = int(rate_per_s * duration_s)
        return [i / rate_per_s for i in range(count)]
    rng = random.Random(seed)
    offsets, now = [], rng.expovariate(rate_per_s)
    while now < duration_s:
        offsets.append(now)
        now += rng.expovariate(rate_per_s)
    return offsets


def share(offsets: list[float], worker: int, workers: int) -> list[float]:
    """The part of a schedule one of `workers` processes sends (every workers-th arrival)."""
    return offsets[worker::workers]
