"""Run a Scheduler in virtual time: no clock, no sockets, exact and fast."""

from __future__ import annotations

from brixcheck.engine.kvcache import BlockPool, block_hashes
from brixcheck.engine.latency import LatencyModel
from brixcheck.engine.profiles import get_profile
from brixcheck.engine.scheduler import Scheduler, Sequence


def make_scheduler(num_blocks: int = 4000, max_num_seqs: int = 256,
                   profile: str = "rtx4060-8gb", block_size: int = 16) -> Scheduler:
    pool = BlockPool(num_blocks, block_size)
    return Scheduler(pool, LatencyModel(get_profile(profile)), max_num_seqs, 2048)


def make_seq(name: str, prompt: list[int], output: int, arrival: float = 0.0,
             block_size: int = 16) -> Sequence:
    return Sequence(request_id=name, prompt_ids=prompt,
                    block_hashes=block_hashes(prompt, block_size), max_output=output,
                    stop_reason="length", arrival_s=arrival)


def run(scheduler: Scheduler, seqs: list[Sequence]) -> float:
    """Feed sequences at their arrival times and step until all finish; return the end time."""
    pending = sorted(seqs, key=lambda s: s.arrival_s)
    now = 0.0
    while pending or scheduler.has_work():
        while pending and pending[0].arrival_s <= now:
            scheduler.add(pending.pop(0))
        plan = scheduler.plan(admit_until_s=now)
        if plan is None:
            now = pending[0].arrival_s
            continue
        now += plan.duration_s
        scheduler.complete(plan, now)
    return now


def ttft(seq: Sequence) -> float:
    return seq.token_times_s[0] - seq.arrival_s


def mean_itl(seq: Sequence) -> float:
    times = seq.token_times_s
    return (times[-1] - times[0]) / (len(times) - 1)
