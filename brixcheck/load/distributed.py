"""Bookkeeping for Locust's distributed mode (a master and N workers sharing one schedule).

Each worker sends its share of the open-loop schedule (`schedule.share`) and reports "done" to
the master with a custom message; the master ends the run when every worker has reported, not
at --run-time. Nothing here imports Locust: the locustfile wires these pieces to its runners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DONE_MESSAGE = "brixcheck_share_done"


def worker_count(processes: int | None, run_workers: int) -> int:
    """How many processes share the schedule: `--processes N` wins over the run file's `workers`.

    Locust resolves `--processes -1` to the core count before it forks, so both master and
    workers see the same number here.
    """
    if processes and processes > 0:
        if run_workers not in (1, processes):
            raise ValueError(f"the run file's workers {run_workers} disagrees with "
                             f"--processes {processes}")
        return processes
    if run_workers < 1:
        raise ValueError(f"the run file's workers must be at least 1, got {run_workers}")
    return run_workers


def global_index(worker: int, workers: int, position: int) -> int:
    """The schedule index of a worker's `position`-th request (inverse of `schedule.share`)."""
    return worker + position * workers


@dataclass
class DoneTracker:
    """The master's view of which workers have finished their share."""

    expected: int
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)

    def report(self, worker: int, data: dict[str, Any]) -> bool:
        """Note one worker's report; true once every expected worker has reported."""
        self.reports[worker] = data
        return self.all_done

    @property
    def all_done(self) -> bool:
        """Every worker index 0..expected-1 has reported."""
        return all(w in self.reports for w in range(self.expected))

    @property
    def sent(self) -> int:
        """Requests the workers say they sent, together."""
        return sum(int(r.get("sent", 0)) for r in self.reports.values())

    @property
    def cpu_s(self) -> float:
        """CPU seconds the workers say they had used when they reported, together."""
        return sum(float(r.get("cpu_s", 0.0)) for r in self.reports.values())
