"""Runs one scenario for one strategy: Locust headless as a subprocess, records on disk.

pytest never imports Locust (it patches the process with gevent); it drives it as a process.
The generator's CPU time is measured from the child's resource usage, so a run whose generator
saturated a core can be reported as such. With `load.processes` > 1 the child is Locust's master,
which forks one worker per process and waits for them; a waited-for grandchild's CPU time is
part of its parent's children usage, so the figure includes every worker.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from brixcheck.bench.scenario import Scenario
from brixcheck.errors import BrixcheckError
from brixcheck.resources import data_path

LOCUSTFILE = data_path("locustfiles", "streaming_chat.py")
DRAIN_S = 30
LOG_NAME = "locust.log"


@dataclass(frozen=True)
class RunResult:
    """Where one run's records are, and what the generator cost."""

    scenario: str
    strategy: str
    repeat: int
    records: Path
    generator_cpu_s: float
    returncode: int
    rate_per_s: float | None = None
    telemetry: Path | None = None  # engine/GPU samples taken during the run, if sampled


def scenario_options(scenario: Scenario, strategy: str, headers: dict[str, str],
                     workers: int, rate_per_s: float | None = None) -> list[str]:
    """The locustfile's options and the user class for one run (local or in-cluster)."""
    work, load = scenario.workload, scenario.load
    opts = ["--bc-scenario", scenario.id, "--bc-model", work.model,
            "--bc-prompt-words", str(work.prompt_words), "--bc-output-tokens",
            str(work.output_tokens), "--bc-seed", str(work.seed), "--bc-prefix-groups",
            str(work.prefix_groups), "--bc-prefix-words", str(work.prefix_words),
            "--run-time", f"{int(load.duration_s + DRAIN_S)}s", "--stop-timeout", str(DRAIN_S)]
    if strategy != "baseline":
        opts += ["--bc-strategy", strategy]
    opts += [arg for name, value in headers.items() for arg in ("--bc-header", f"{name}={value}")]
    if workers > 1:
        opts += ["--bc-workers", str(workers)]
    if load.mode == "open":
        users = ["-u", str(workers), "-r", str(workers)] if workers > 1 else []
        rate = rate_per_s or load.rate_per_s
        return [*opts, *users, "--bc-rate", str(rate), "--bc-arrival", load.arrival,
                "--bc-duration", str(load.duration_s), "OpenLoopUser"]
    return [*opts, "-u", str(load.users), "-r", str(load.users), "ClosedLoopUser"]


def locust_command(scenario: Scenario, strategy: str, host: str, records: Path,
                   headers: dict[str, str], rate_per_s: float | None = None) -> list[str]:
    """The Locust command line for one local run (`rate_per_s`: a sweep level)."""
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--only-summary", "-H", host, "--bc-records", str(records)]
    workers = scenario.load.worker_count()
    if workers > 1:
        # Locust's own distributed mode: this process is the master, forking the workers.
        cmd += ["--processes", str(workers)]
    return cmd + scenario_options(scenario, strategy, headers, workers, rate_per_s)


def records_dir(scenario: Scenario, strategy: str, repeat: int, out: Path,
                rate_per_s: float | None = None) -> Path:
    """The directory one run's records are written to (`rate_per_s`: a sweep level)."""
    level = f"-{rate_per_s:g}rps" if rate_per_s else ""
    return out / f"{scenario.id}" / f"{strategy}-r{repeat}{level}"


def run_once(scenario: Scenario, strategy: str, repeat: int, host: str, out: Path,
             headers: dict[str, str] | None = None,
             rate_per_s: float | None = None) -> RunResult:
    """Run the scenario once for a strategy (at a sweep level); records go under `out`."""
    records = records_dir(scenario, strategy, repeat, out, rate_per_s)
    records.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = locust_command(scenario, strategy, host, records, headers or {}, rate_per_s)
    try:
        done = subprocess.run(command,
                              capture_output=True, text=True, check=False,
                              timeout=scenario.load.duration_s + 2 * DRAIN_S + 30)
    except subprocess.TimeoutExpired:
        raise BrixcheckError(f"Locust did not finish scenario {scenario.id} ({strategy})",
                             "the target may hang; partial records are kept in "
                             f"{records}") from None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    (records / LOG_NAME).write_text(done.stdout + done.stderr)
    return RunResult(scenario.id, strategy, repeat, records, cpu, done.returncode, rate_per_s)
