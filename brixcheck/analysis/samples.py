"""One telemetry sample as it is written: a JSON object per line, flushed as it is taken.

Times are CLOCK_MONOTONIC seconds (`time.monotonic()`, the clock of the load generator's
records, so a sample can be placed in a run's measured window) plus Unix wall time (to line up
with logs and other hosts). A failed scrape is written as a gap, not skipped, so "no data" and
"idle" stay distinguishable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ENGINE = "engine"
GPU = "gpu"


@dataclass(frozen=True)
class Sample:
    """A value of one metric series at one moment (or, with `gap`, why there is none)."""

    source: str  # ENGINE (a pod's /metrics) or GPU (NVML on the sampling host)
    instance: str  # the pod name, or the GPU index
    metric: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    value: float | None = None
    gap: str = ""  # non-empty: the scrape failed, and why

    def line(self, t_s: float, wall_s: float) -> str:
        """The JSON line of this sample taken at `t_s` (monotonic) and `wall_s` (Unix)."""
        row: dict[str, Any] = {"t_s": round(t_s, 6), "wall_s": round(wall_s, 6),
                               "source": self.source, "instance": self.instance}
        if self.gap:
            row["gap"] = self.gap
        else:
            row.update(metric=self.metric, labels=self.labels, value=self.value)
        return json.dumps(row, separators=(",", ":")) + "\n"
