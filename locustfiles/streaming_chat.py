"""Streaming chat load for brixcheck: open loop (precomputed arrivals) or closed loop (N users).

Open loop: one scheduler user per process sends every request of its share of a seeded arrival
schedule at its intended time, each in its own greenlet, and latency counts from the intended
time, so a slow server is not flattered. Closed loop: each user sends the next request when its
last one ended (intended = actual send time). Every request becomes a record on disk
(brixcheck.load.records); Locust's own statistics are only a live view.

Distributed (Locust's master and workers, e.g. `--processes 4`): every worker gets exactly one
OpenLoopUser and sends every N-th arrival; it tells the master when its share is done, and the
master quits once every worker has (brixcheck.load.distributed). With `records_stdout` a
worker also prints its records, framed, when it stops (brixcheck.load.framing: in-cluster runs).

Every setting of the run comes from one JSON file validated by brixcheck.load.run_spec.RunSpec
(`--brixcheck-run FILE`; brixcheck writes it from the scenario). Workers of a distributed run get
the file's path, and the master's start instant, with the master's options.

Run: locust -f locustfiles/streaming_chat.py --headless -H http://127.0.0.1:8000 \
        --brixcheck-run run.json --run-time 40s OpenLoopUser
"""

# Locust first: importing it patches the process with gevent.
from locust import User, constant, events, task
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner, Runner, WorkerRunner

import gc
import logging
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gevent
from gevent.pool import Pool
from geventhttpclient import HTTPClient

from brixcheck.load.distributed import DONE_MESSAGE, DoneTracker, global_index, worker_count
from brixcheck.load.framing import clock_offset_s, frame
from brixcheck.load.records import RecordWriter, RequestRecord
from brixcheck.load.run_spec import RUN_OPTION, RunSpec, read_run
from brixcheck.load.schedule import arrival_offsets, share
from brixcheck.load.sse_client import GROUND_TRUTH_HEADER, stream_chat
from brixcheck.load.workload import ChatWorkload

# Each request is a greenlet; recording who spawned it (a stack capture per spawn) buys nothing.
gevent.config.track_greenlet_tree = False

LEAD_IN_S = 0.5
# gevent's timers fire up to a millisecond late (epoll waits in whole ms); the scheduler wakes
# this much early and yields to other greenlets until the exact intended time.
SPIN_S = 0.001


@dataclass
class _RunState:
    """This process's run: the validated run file and, while it runs, its record writer."""

    spec: RunSpec | None = None
    records: RecordWriter | None = None


_RUN = _RunState()


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    parser.add_argument_group("brixcheck").add_argument(
        RUN_OPTION, dest="brixcheck_run", default=None, metavar="FILE",
        help="the run's settings: a JSON file of brixcheck.load.run_spec.RunSpec")


def _spec(environment: Environment) -> RunSpec:
    """The run file, read once (a worker learns its path from the master's spawn job)."""
    if _RUN.spec is None:
        path = getattr(environment.parsed_options, "brixcheck_run", None)
        if not path:
            raise ValueError(f"no run file: pass {RUN_OPTION} FILE (brixcheck writes one per run)")
        _RUN.spec = read_run(path)
    return _RUN.spec


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_index(environment: Environment) -> int:
    return getattr(environment.runner, "worker_index", 0) or 0


@events.init.add_listener
def _distributed(environment: Environment, runner: Runner | None = None, **_: object) -> None:
    """One OpenLoopUser per worker; the master quits when every worker's share is done."""
    options = environment.parsed_options
    if options is None or (isinstance(runner, WorkerRunner) and not options.brixcheck_run):
        return  # a remote worker: the run file's path comes with the master's spawn job
    try:
        workers = worker_count(getattr(options, "processes", None), _spec(environment).workers)
    except ValueError as exc:
        sys.stderr.write(f"brixcheck: {exc}\n")
        sys.exit(2)
    OpenLoopUser.fixed_count = workers
    if not isinstance(runner, MasterRunner):
        return
    if "OpenLoopUser" in (options.user_classes or []) and (options.num_users or 0) < workers:
        options.num_users = options.spawn_rate = workers
    tracker = DoneTracker(workers)

    def share_done(environment: Environment, msg: Message, **_: object) -> None:
        if tracker.report(int(msg.data["worker"]), msg.data):
            logging.info("all %d workers sent their share (%d requests); workers' CPU %.3f s, "
                         "master's CPU %.3f s; quitting", workers, tracker.sent,
                         tracker.cpu_s, _cpu_s())
            gevent.spawn(environment.runner.quit)

    runner.register_message(DONE_MESSAGE, share_done)


@events.test_start.add_listener
def _open_records(environment: Environment, **_: object) -> None:
    if isinstance(environment.runner, MasterRunner):
        # Workers get the master's options with their spawn job: one start instant for all, so
        # the shares interleave as the schedule says (to the hosts' clock sync in a cluster).
        # Not a flag: Locust hands every non-default option attribute to the workers.
        environment.parsed_options.brixcheck_start_wall = time.time() + LEAD_IN_S
        return  # the master sends nothing; its workers write the records
    spec = _spec(environment)
    name = f"{spec.scenario}-{spec.strategy or 'none'}-{_worker_index(environment)}"
    _RUN.records = RecordWriter(Path(spec.records_dir) / f"{name}-{os.getpid()}.jsonl")
    # Everything imported so far lives for the whole run: keep the collector from rescanning it.
    gc.freeze()


@events.test_stop.add_listener
def _close_records(environment: Environment, **_: object) -> None:
    writer, _RUN.records = _RUN.records, None
    if writer is None:
        return
    writer.close()
    if _spec(environment).records_stdout:
        lines = frame(_worker_index(environment), writer.path.read_text().splitlines(),
                      clock_offset_s())
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


class _StreamingUser(User):
    abstract = True

    def on_start(self) -> None:
        self.spec = _spec(self.environment)
        self.workload = ChatWorkload(**self.spec.workload.model_dump())
        self.headers = {"content-type": "application/json", **self.spec.headers}
        if self.spec.ground_truth:
            self.headers[GROUND_TRUTH_HEADER] = "1"
        self.client = HTTPClient.from_url(self.host, concurrency=2000, network_timeout=300,
                                          connection_timeout=10)

    def send(self, index: int, intended_s: float) -> None:
        spec = self.spec
        record = RequestRecord(request_id=f"{_worker_index(self.environment)}-{index}",
                               scenario=spec.scenario, strategy=spec.strategy,
                               intended_s=intended_s)
        # The engine names the request after x-request-id, so records pair with server logs.
        headers = {**self.headers, "x-request-id": f"brixcheck-{record.request_id}"}
        stream_chat(self.client, spec.path, self.workload.body(index), headers, record)
        if _RUN.records is not None:  # None: the run stopped while this request was in flight
            _RUN.records.write(record)
        end = record.done_s or time.monotonic()
        self.environment.events.request.fire(
            request_type="SSE", name=spec.scenario,
            response_time=(end - intended_s) * 1000, response_length=record.output_tokens or 0,
            exception=record.error or None, context={})


class OpenLoopUser(_StreamingUser):
    """Sends a precomputed arrival schedule; latency counts from intended send times."""

    fixed_count = 1
    wait_time = constant(3600)

    @task
    def run_schedule(self) -> None:
        schedule, worker = self.spec.open_loop, _worker_index(self.environment)
        if schedule is None:
            raise ValueError("OpenLoopUser needs the run file's open_loop schedule")
        workers = worker_count(getattr(self.environment.parsed_options, "processes", None),
                               self.spec.workers)
        offsets = share(arrival_offsets(schedule.rate_per_s, schedule.duration_s,
                                        schedule.arrival, self.spec.workload.seed),
                        worker, workers)
        pool = Pool()
        start_wall = getattr(self.environment.parsed_options, "brixcheck_start_wall", 0.0)
        lead_in = start_wall - time.time() if start_wall else LEAD_IN_S
        start = time.monotonic() + lead_in
        for position, offset in enumerate(offsets):
            intended = start + offset
            delay = intended - time.monotonic() - SPIN_S
            if delay > 0:
                gevent.sleep(delay)
            while time.monotonic() < intended:
                gevent.sleep(0)
            # The schedule's own index: the same prompt as in a one-process run of the schedule.
            pool.spawn(self.send, global_index(worker, workers, position), intended)
            gevent.sleep(0)  # let the new request go out now, not after the next wait
        pool.join()
        # The schedule is the test: end the run now instead of idling until --run-time.
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(DONE_MESSAGE, {"worker": worker, "sent": len(offsets),
                                               "cpu_s": _cpu_s()})
        else:
            gevent.spawn(runner.quit)


class ClosedLoopUser(_StreamingUser):
    """Each user sends its next request when the last one ended."""

    wait_time = constant(0)

    @task
    def loop(self) -> None:
        index = id(self) % 100_000 * 100_000 + int(time.monotonic() * 1000) % 100_000
        self.send(index, time.monotonic())
