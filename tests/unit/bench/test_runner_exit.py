"""Which Locust exit codes mean the load generator died (and the run is partial)."""

from __future__ import annotations

import pytest

from brixcheck.bench.reporting import partial_reason
from brixcheck.bench.runner import RunResult, died


@pytest.mark.parametrize(("code", "reason"), [
    (0, ""),
    (1, ""),  # Locust's code for "some requests failed": the guards judge that, not this
    (2, "the load generator exited with code 2"),
    (-9, "the load generator was killed by SIGKILL"),
    (-15, "the load generator was killed by SIGTERM"),
])
def test_locust_exit_codes(code: int, reason: str):
    assert died(code) == reason


def test_partial_reason_names_each_unfinished_run_and_the_runs_not_started(tmp_path):
    runs = [RunResult("s", "baseline", 0, tmp_path, 0.0, 0),
            RunResult("s", "random", 0, tmp_path, 0.0, -9, stopped=died(-9))]
    assert partial_reason(runs, 2) == ("random-r0: the load generator was killed by SIGKILL; "
                                       "2 runs did not start")
    assert partial_reason(runs[:1]) == ""
