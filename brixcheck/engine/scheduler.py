"""Continuous-batching scheduler in model time, modelled on vLLM V1.

Every step schedules up to `max_num_batched_tokens` tokens: running sequences first (one token
each when decoding, a chunk when still prefilling), then waiting ones while fewer than
`max_num_seqs` run and KV blocks are available. A sequence whose context is fully computed after
a step emits one token. When a running sequence needs a block and none is free, the most
recently admitted one is preempted (its blocks freed, recomputed later), as vLLM V1 does.

The scheduler knows nothing of wall-clock time or sockets: the caller says when a step ends.
That keeps it deterministic and lets tests run it in virtual time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from brixcheck.engine.kvcache import Block, BlockPool
from brixcheck.engine.latency import LatencyModel


@dataclass(eq=False)
class Sequence:
    """One request inside the engine."""

    request_id: str
    prompt_ids: list[int]
    block_hashes: list[int]
    max_output: int
    stop_reason: str
    arrival_s: float
    prompt_hash: int = 0
    max_tokens: int = 0
    num_computed: int = 0
    num_output: int = 0
    num_cached: int = 0
    num_registered: int = 0
    blocks: list[Block] = field(default_factory=list)
    first_scheduled_s: float | None = None
    token_times_s: list[float] = field(default_factory=list)
    finished: bool = False
    admitted: bool = False
    # The prompt's KV arrives from a prefill engine (KV connector); cleared once admitted, so a
    # preempted sequence recomputes locally, as vLLM's does.
    remote_prefill: bool = False
    finished_block_ids: list[int] = field(default_factory=list)  # what a KV connector offers

    @property
    def context_len(self) -> int:
        """Prompt plus generated tokens so far."""
        return len(self.prompt_ids) + self.num_output


@dataclass
class SchedulerStats:
    """Counters behind the engine's Prometheus metrics."""

    preemptions: int = 0
    prefix_queries: int = 0
    prefix_hits: int = 0
    prompt_tokens: int = 0
    generation_tokens: int = 0


@dataclass
class StepPlan:
    """What one step computes and how long it takes in model time."""

    scheduled: list[tuple[Sequence, int]]
    duration_s: float

    @property
    def num_tokens(self) -> int:
        """Tokens computed in this step (the `iteration_tokens_total` observation)."""
        return sum(n for _, n in self.scheduled)


class Scheduler:
    """Admission, chunked prefill, decode and preemption over a `BlockPool`."""

    def __init__(
        self,
        pool: BlockPool,
        latency: LatencyModel,
        max_num_seqs: int,
        max_num_batched_tokens: int,
    ) -> None:
        self.pool = pool
        self.latency = latency
        self.max_num_seqs = max_num_seqs
        self.max_num_batched_tokens = max_num_batched_tokens
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.stats = SchedulerStats()

    def add(self, seq: Sequence) -> None:
        """Queue a new sequence."""
        self.waiting.append(seq)

    def has_work(self) -> bool:
        """True while any sequence waits or runs."""
        return bool(self.waiting or self.running)

    def abort(self, seq: Sequence) -> None:
        """Remove a sequence (client gone) and free its blocks."""
        if seq.finished:
            return
        seq.finished = True
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        self._free(seq)

    def plan(self, admit_until_s: float = float("inf")) -> StepPlan | None:
        """Choose the next step's work, admitting only requests that arrived by `admit_until_s`.

        Returns None when nothing can be scheduled.
        """
        budget = self.max_num_batched_tokens
        scheduled: list[tuple[Sequence, int]] = []
        budget, preempted = self._schedule_running(budget, scheduled)
        if not preempted:
            self._schedule_waiting(budget, scheduled, admit_until_s)
        if not scheduled:
            return None
        tokens = sum(n for _, n in scheduled)
        context = sum(seq.num_computed + n for seq, n in scheduled)
        return StepPlan(scheduled, self.latency.step_s(tokens, context))

    def complete(self, plan: StepPlan, end_s: float) -> list[Sequence]:
        """Apply a finished step at model time `end_s`; return sequences that emitted a token."""
        emitted = []
        for seq, n in plan.scheduled:
            if seq.finished:
                continue
            if seq.first_scheduled_s is None:
                seq.first_scheduled_s = end_s - plan.duration_s
            seq.num_computed += n
            self._register_full_blocks(seq)
            if seq.num_computed == seq.context_len:
                seq.num_output += 1
                seq.token_times_s.append(end_s)
                self.stats.generation_tokens += 1
                emitted.append(seq)
                if seq.num_output >= seq.max_output:
                    self._finish(seq)
        return emitted

    def _schedule_running(
        self, budget: int, scheduled: list[tuple[Sequence, int]]
    ) -> tuple[int, bool]:
        preempted = False
        index = 0
        while index < len(self.running) and budget > 0:
            seq = self.running[index]
            n = min(seq.context_len - seq.num_computed, budget)
            if self._grow(seq, seq.num_computed + n):
                scheduled.append((seq, n))
                budget -= n
                index += 1
                continue
            victim = self.running.pop()
            self._preempt(victim)
            preempted = True
            if victim is seq:
                break
        return budget, preempted

    def _schedule_waiting(
        self, budget: int, scheduled: list[tuple[Sequence, int]], admit_until_s: float
    ) -> None:
        while self.waiting and budget > 0 and len(self.running) < self.max_num_seqs:
            seq = self.waiting[0]
            if seq.arrival_s > admit_until_s:
                return
            hits = self._acquire_prefix(seq)
            n = min(seq.context_len - seq.num_computed, budget)
            if not self._grow(seq, seq.num_computed + n):
                self._free(seq)
                return
            self.waiting.popleft()
            self.running.append(seq)
            seq.remote_prefill = False
            self._count_admission(seq, hits)
            scheduled.append((seq, n))
            budget -= n

    def _acquire_prefix(self, seq: Sequence) -> int:
        """Reuse cached blocks; at least one token is always recomputed, as in vLLM.

        Returns the tokens found in the local prefix cache. A remote-prefilled sequence has its
        whole prompt but the last token computed already (vLLM's scheduler recomputes that one
        when the connector delivered every prompt token).
        """
        usable = (seq.context_len - 1) // self.pool.block_size
        hits = self.pool.cached_prefix(seq.block_hashes[:usable])
        self.pool.acquire(hits)
        seq.blocks = list(hits)
        seq.num_computed = len(hits) * self.pool.block_size
        seq.num_registered = len(hits)
        local = seq.num_computed
        if seq.remote_prefill:
            seq.num_computed = seq.context_len - 1
        return local

    def _count_admission(self, seq: Sequence, hit_tokens: int) -> None:
        self.stats.prefix_queries += seq.context_len
        self.stats.prefix_hits += hit_tokens
        if not seq.admitted:
            seq.admitted = True
            seq.num_cached = hit_tokens
            self.stats.prompt_tokens += len(seq.prompt_ids)

    def _grow(self, seq: Sequence, tokens: int) -> bool:
        needed = -(-tokens // self.pool.block_size) - len(seq.blocks)
        if needed <= 0:
            return True
        fresh = self.pool.allocate(needed)
        if fresh is None:
            return False
        seq.blocks.extend(fresh)
        return True

    def _register_full_blocks(self, seq: Sequence) -> None:
        full = min(len(seq.block_hashes), seq.num_computed // self.pool.block_size)
        for index in range(seq.num_registered, full):
            self.pool.register(seq.blocks[index], seq.block_hashes[index])
        seq.num_registered = max(seq.num_registered, full)

    def _preempt(self, seq: Sequence) -> None:
        self._free(seq)
        self.waiting.appendleft(seq)
        self.stats.preemptions += 1

    def _finish(self, seq: Sequence) -> None:
        seq.finished = True
        self.running.remove(seq)
        seq.finished_block_ids = [block.block_id for block in seq.blocks]
        self._free(seq)

    def _free(self, seq: Sequence) -> None:
        self.pool.release(seq.blocks)
        seq.blocks = []
        seq.num_computed = 0
        seq.num_registered = 0
