"""Locust's distributed mode (a master and 2 workers) through the benchmark runner, on loopback.

The schedule is shared by worker index; every scheduled request must appear exactly once across
the workers' records, and the master must end the run once both workers report their share done
(not at --run-time, which the runner sets to the schedule plus 30 s of drain).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from brixcheck.bench.runner import DRAIN_S, LOG_NAME, run_once
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.load.records import read_records
from brixcheck.load.schedule import Arrival, arrival_offsets
from tests.integration.conftest import MODEL, EngineHostHandle

RATE, DURATION = 4.0, 3.0


def test_two_workers_share_the_schedule_and_end_with_it(engine_host: EngineHostHandle,
                                                        tmp_path: Path):
    url = engine_host.start("distributed")
    scenario = Scenario(
        id="distributed", description="two workers", strategies=["baseline"],
        workload=Workload(model=MODEL, prompt_words=20, output_tokens=8, seed=3),
        load=Load(rate_per_s=RATE, duration_s=DURATION, warmup_s=0, processes=2))
    began = time.monotonic()
    result = run_once(scenario, "baseline", 0, url, tmp_path)
    elapsed = time.monotonic() - began
    log = (result.records / LOG_NAME).read_text()
    assert result.returncode == 0, log[-2000:]

    files = sorted(result.records.glob("*.jsonl"))
    indices = {int(re.search(r"-(\d+)-\d+\.jsonl$", f.name).group(1)) for f in files}
    assert len(files) == 2
    assert indices == {0, 1}
    records = [r for f in files for r in read_records(f)]
    scheduled = len(arrival_offsets(RATE, DURATION, Arrival.POISSON, seed=3))
    ids = sorted(int(r["request_id"].split("-")[1]) for r in records)
    assert ids == list(range(scheduled)), "each scheduled request exactly once"
    assert all(r["request_id"] == f"{i % 2}-{i}" for r in records
               for i in [int(r["request_id"].split("-")[1])])
    assert all(r["status"] == 200 and r["output_tokens"] == 8 for r in records)
    # One start instant for both workers: sends keep the schedule's order across workers.
    assert max(r["sent_s"] - r["intended_s"] for r in records) < 0.05

    assert f"all 2 workers sent their share ({scheduled} requests)" in log
    assert elapsed < DURATION + 12 < DURATION + DRAIN_S, f"run took {elapsed:.1f} s"
    # The master waits for its forked workers, so their CPU time is in the runner's figure.
    found = re.search(r"workers' CPU ([\d.]+) s, master's CPU ([\d.]+) s", log)
    assert found, log[-2000:]
    workers_cpu, master_cpu = float(found.group(1)), float(found.group(2))
    assert result.generator_cpu_s >= master_cpu + 0.9 * workers_cpu
