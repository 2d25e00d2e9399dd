"""Runs one scenario for one strategy: Locust headless as a subprocess, records on disk.

pytest never imports Locust (it patches the process with gevent); it drives it as a process.
The generator's CPU time is measured from the child's resource usage, so a run whose generator
saturated a core can be reported as such. With `load.processes` > 1 the child is Locust's master,
which forks one worker per process and waits for them; a waited-for grandchild's CPU time is
part of its parent's children usage, so the figure includes every worker. The run's settings
reach Locust as one JSON file beside its records (`run.json`, brixcheck.load.run_spec), not flags.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from brixcheck.aibrix.v0_5 import HEADER_ROUTING_STRATEGY
from brixcheck.bench.scenario import Scenario, is_router
from brixcheck.bench.terminal import STATS_PREFIX, locust_counts, progress_line
from brixcheck.children import die_with_parent
from brixcheck.interrupts import CURRENT as INTERRUPTS
from brixcheck.load.run_spec import RUN_OPTION, OpenLoop, RunSpec, write_run
from brixcheck.resources import data_path

LOCUSTFILE = data_path("locustfiles", "streaming_chat.py")
DRAIN_S = 30
PROGRESS_S = 5.0  # seconds between progress lines of a running load
Progress = Callable[[str], None]
LOG_NAME = "locust.log"
RUN_FILE = "run.json"  # the run's settings as the locustfile reads them (brixcheck.load.run_spec)


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
    stopped: str = ""  # non-empty: why the run did not reach its end (records are what survived)


class RunInterrupted(KeyboardInterrupt):
    """The run was interrupted; `result` holds what it measured until then."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(result.stopped)
        self.result = result


def run_spec(scenario: Scenario, strategy: str, headers: dict[str, str], records: str,
             workers: int, rate_per_s: float | None = None,
             records_stdout: bool = False) -> RunSpec:
    """The locustfile's run file for one run (local or in-cluster; `rate_per_s`: a sweep level).

    A strategy routed by header gets AIBrix's routing-strategy header; `baseline` and a router
    send none (the router is the strategy)."""
    load = scenario.load
    routed = strategy != "baseline" and not is_router(strategy)
    open_loop = OpenLoop(rate_per_s=rate_per_s or load.rate_per_s, arrival=load.arrival,
                         duration_s=load.duration_s) if load.mode == "open" else None
    return RunSpec(scenario=scenario.id, strategy=strategy if routed else "",
                   workload=scenario.workload, open_loop=open_loop, workers=workers,
                   headers={**headers, **({HEADER_ROUTING_STRATEGY: strategy} if routed else {})},
                   records_dir=records, records_stdout=records_stdout)


def locust_options(scenario: Scenario, workers: int) -> list[str]:
    """Locust's own options for one run (local or in-cluster): its length, users, user class."""
    load = scenario.load
    opts = ["--run-time", f"{int(load.duration_s + DRAIN_S)}s", "--stop-timeout", str(DRAIN_S)]
    if load.mode == "open":
        users = ["-u", str(workers), "-r", str(workers)] if workers > 1 else []
        return [*opts, *users, "OpenLoopUser"]
    return [*opts, "-u", str(load.users), "-r", str(load.users), "ClosedLoopUser"]


def locust_command(scenario: Scenario, host: str, records: Path, run_file: Path) -> list[str]:
    """The Locust command line for one local run, reading its run file."""
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--only-summary", "-H", host, RUN_OPTION, str(run_file),
           "--csv", str(records / STATS_PREFIX)]
    workers = scenario.load.worker_count()
    if workers > 1:
        # Locust's own distributed mode: this process is the master, forking the workers.
        cmd += ["--processes", str(workers)]
    return cmd + locust_options(scenario, workers)


def records_dir(scenario: Scenario, strategy: str, repeat: int, out: Path,
                rate_per_s: float | None = None) -> Path:
    """The directory one run's records are written to (`rate_per_s`: a sweep level)."""
    level = f"-{rate_per_s:g}rps" if rate_per_s else ""
    return out / f"{scenario.id}" / f"{strategy}-r{repeat}{level}"


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """End Locust and every worker it forked (its own process group) at once.

    SIGKILL, not SIGTERM: Locust answers SIGTERM by letting its users finish (up to
    --stop-timeout), so load would go on after the run ended. Nothing measured is lost: each
    record is on disk when its request finishes; only requests still in flight are dropped.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers whose master had already exited


def died(returncode: int) -> str:
    """Why a Locust exit code means the generator died (empty: it finished; 1 = failed requests)."""
    if returncode < 0:
        return f"the load generator was killed by {signal.Signals(-returncode).name}"
    if returncode > 1:
        return f"the load generator exited with code {returncode}"
    return ""


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, progress: Progress | None,
          describe: Callable[[float], str]) -> int:
    """Wait for Locust, reporting progress every PROGRESS_S; end its process group however the
    wait ends (done, timed out, interrupted)."""
    start = time.monotonic()
    next_report = start + PROGRESS_S
    try:
        while True:
            try:
                return proc.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now - start > timeout_s:
                raise subprocess.TimeoutExpired(proc.args, timeout_s)
            if progress is not None and now >= next_report:
                progress(describe(now - start))
                next_report = now + PROGRESS_S
    finally:
        _stop_group(proc)


def run_once(scenario: Scenario, strategy: str, repeat: int, host: str, out: Path,
             headers: dict[str, str] | None = None,
             rate_per_s: float | None = None, progress: Progress | None = None) -> RunResult:
    """Run the scenario once for a strategy (at a sweep level); records go under `out`.

    Locust runs in its own process group, so a Ctrl-C reaches brixcheck only and brixcheck
    stops the whole group; the records it wrote until then are kept (RunInterrupted).
    """
    records = records_dir(scenario, strategy, repeat, out, rate_per_s)
    records.mkdir(parents=True, exist_ok=True)
    spec = run_spec(scenario, strategy, headers or {}, str(records),
                    scenario.load.worker_count(), rate_per_s)
    command = locust_command(scenario, host, records, write_run(spec, records / RUN_FILE))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = scenario.load
    rate = f"{rate_per_s or load.rate_per_s:g} req/s" if load.mode == "open" \
        else f"{load.users} users"
    label = f"{scenario.id}[{strategy}]-r{repeat}"
    stopped, interrupted = "", False
    with (records / LOG_NAME).open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent())
        INTERRUPTS.groups.add(proc.pid)
        try:
            _wait(proc, load.duration_s + 2 * DRAIN_S + 30, progress,
                  lambda elapsed: progress_line(label, rate, elapsed, load.duration_s,
                                                locust_counts(records)))
        except subprocess.TimeoutExpired:
            stopped = "the load generator did not finish in time (the target may hang)"
        except KeyboardInterrupt:
            stopped, interrupted = INTERRUPTS.reason or "interrupted", True
        finally:
            INTERRUPTS.groups.discard(proc.pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = RunResult(scenario.id, strategy, repeat, records, cpu, proc.returncode, rate_per_s,
                       stopped=stopped or died(proc.returncode))
    if interrupted:
        raise RunInterrupted(result)
    return result


def with_telemetry(result: RunResult, samples: Path) -> RunResult:
    """The run with its telemetry file attached."""
    return dataclasses.replace(result, telemetry=samples)
