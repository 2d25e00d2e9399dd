"""Streaming chat load for brixcheck: open loop (precomputed arrivals) or closed loop (N users).

Open loop: one scheduler user per process sends every request of its share of a seeded arrival
schedule at its intended time, each in its own greenlet, and latency counts from the intended
time, so a slow server is not flattered. Closed loop: each user sends the next request when its
last one ended (intended = actual send time). Every request becomes a record on disk
(brixcheck.load.records); Locust's own statistics are only a live view.

Distributed (Locust's master and workers, e.g. `--processes 4`): every worker gets exactly one
OpenLoopUser and sends every N-th arrival; it tells the master when its share is done, and the
master quits once every worker has (brixcheck.load.distributed). With --bc-records-stdout a
worker also prints its records, framed, when it stops (brixcheck.load.framing: in-cluster runs).

Run: locust -f locustfiles/streaming_chat.py --headless -H http://127.0.0.1:8000 \
        --bc-rate 50 --bc-duration 30 --run-time 40s OpenLoopUser
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
from pathlib import Path

import gevent
from gevent.pool import Pool
from geventhttpclient import HTTPClient

from brixcheck.load.distributed import DONE_MESSAGE, DoneTracker, global_index, worker_count
from brixcheck.load.framing import clock_offset_s, frame
from brixcheck.load.records import RecordWriter, RequestRecord
from brixcheck.load.schedule import Arrival, arrival_offsets, share
from brixcheck.load.sse_client import GROUND_TRUTH_HEADER, stream_chat
from brixcheck.load.workload import ChatWorkload

# Each request is a greenlet; recording who spawned it (a stack capture per spawn) buys nothing.
gevent.config.track_greenlet_tree = False

LEAD_IN_S = 0.5
# gevent's timers fire up to a millisecond late (epoll waits in whole ms); the scheduler wakes
# this much early and yields to other greenlets until the exact intended time.
SPIN_S = 0.001


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("brixcheck")
    group.add_argument("--bc-rate", type=float, default=10.0, help="open-loop requests/s")
    group.add_argument("--bc-arrival", default="poisson", choices=[a.value for a in Arrival])
    group.add_argument("--bc-duration", type=float, default=30.0, help="schedule length (s)")
    group.add_argument("--bc-workers", type=int, default=1,
                       help="workers sharing the schedule (default: --processes, else 1)")
    group.add_argument("--bc-model", default="deepseek-r1-qwen-1b5")
    group.add_argument("--bc-prompt-words", type=int, default=100)
    group.add_argument("--bc-output-tokens", type=int, default=64)
    group.add_argument("--bc-strategy", default="", help="routing-strategy header value")
    group.add_argument("--bc-path", default="/v1/chat/completions")
    group.add_argument("--bc-records", default="reports/records", help="directory for JSONL")
    group.add_argument("--bc-scenario", default="streaming-chat")
    group.add_argument("--bc-ground-truth", action="store_true",
                       help="ask the engine emulator for its own timings")
    group.add_argument("--bc-seed", type=int, default=0)
    group.add_argument("--bc-prefix-groups", type=int, default=0,
                       help="requests share one of N prompt prefixes (0: none)")
    group.add_argument("--bc-prefix-words", type=int, default=0, help="words per shared prefix")
    group.add_argument("--bc-sessions", type=int, default=0,
                       help="multi-turn chat: N interleaved conversations (0: single turns)")
    group.add_argument("--bc-turns", type=int, default=8, help="turns per conversation")
    group.add_argument("--bc-header", action="append", default=[],
                       help="extra request header NAME=VALUE (repeatable)")
    group.add_argument("--bc-records-stdout", action="store_true",
                       help="also print the records, framed, when the run stops (in-cluster)")
    group.add_argument("--bc-start-wall", type=float, default=0.0,
                       help="wall-clock start of the schedule (the master sets it for its workers)")


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_index(environment: Environment) -> int:
    return getattr(environment.runner, "worker_index", 0) or 0


@events.init.add_listener
def _distributed(environment: Environment, runner: Runner | None = None, **_: object) -> None:
    """One OpenLoopUser per worker; the master quits when every worker's share is done."""
    options = environment.parsed_options
    if options is None:
        return
    workers = worker_count(getattr(options, "processes", None), options.bc_workers)
    options.bc_workers = workers
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
        environment.parsed_options.bc_start_wall = time.time() + LEAD_IN_S
        return  # the master sends nothing; its workers write the records
    options = environment.parsed_options
    name = f"{options.bc_scenario}-{options.bc_strategy or 'none'}-{_worker_index(environment)}"
    environment.brixcheck_records = RecordWriter(
        Path(options.bc_records) / f"{name}-{os.getpid()}.jsonl")
    # Everything imported so far lives for the whole run: keep the collector from rescanning it.
    gc.freeze()


@events.test_stop.add_listener
def _close_records(environment: Environment, **_: object) -> None:
    writer: RecordWriter | None = getattr(environment, "brixcheck_records", None)
    if writer is None:
        return
    environment.brixcheck_records = None
    writer.close()
    if environment.parsed_options.bc_records_stdout:
        lines = frame(_worker_index(environment), writer.path.read_text().splitlines(),
                      clock_offset_s())
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


class _StreamingUser(User):
    abstract = True

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.workload = ChatWorkload(options.bc_model, options.bc_prompt_words,
                                     options.bc_output_tokens, options.bc_seed,
                                     prefix_groups=options.bc_prefix_groups,
                                     prefix_words=options.bc_prefix_words,
                                     sessions=options.bc_sessions, turns=options.bc_turns)
        self.headers = {"content-type": "application/json"}
        self.headers.update(h.split("=", 1) for h in options.bc_header)
        if options.bc_strategy:
            self.headers["routing-strategy"] = options.bc_strategy
        if options.bc_ground_truth:
            self.headers[GROUND_TRUTH_HEADER] = "1"
        self.client = HTTPClient.from_url(self.host, concurrency=2000, network_timeout=300,
                                          connection_timeout=10)

    def send(self, index: int, intended_s: float) -> None:
        options = self.environment.parsed_options
        record = RequestRecord(request_id=f"{_worker_index(self.environment)}-{index}",
                               scenario=options.bc_scenario, strategy=options.bc_strategy,
                               intended_s=intended_s)
        # The engine names the request after x-request-id, so records pair with server logs.
        headers = {**self.headers, "x-request-id": f"brixcheck-{record.request_id}"}
        stream_chat(self.client, options.bc_path, self.workload.body(index), headers, record)
        self.environment.brixcheck_records.write(record)
        end = record.done_s or time.monotonic()
        self.environment.events.request.fire(
            request_type="SSE", name=options.bc_scenario,
            response_time=(end - intended_s) * 1000, response_length=record.output_tokens or 0,
            exception=record.error or None, context={})


class OpenLoopUser(_StreamingUser):
    """Sends a precomputed arrival schedule; latency counts from intended send times."""

    fixed_count = 1
    wait_time = constant(3600)

    @task
    def run_schedule(self) -> None:
        options = self.environment.parsed_options
        worker, workers = _worker_index(self.environment), options.bc_workers
        offsets = share(arrival_offsets(options.bc_rate, options.bc_duration,
                                        Arrival(options.bc_arrival), options.bc_seed),
                        worker, workers)
        pool = Pool()
        lead_in = options.bc_start_wall - time.time() if options.bc_start_wall else LEAD_IN_S
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
