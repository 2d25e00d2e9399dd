"""Properties of the latency model, checked in virtual time.

Each test compares two runs that differ in one thing (a cached prefix, the batch size, the KV
capacity) and asserts the direction and rough size the physics implies, not exact numbers.
"""

from __future__ import annotations

from tests.unit.engine.vtime import make_scheduler, make_seq, mean_itl, run, ttft

LONG_PROMPT = list(range(1, 1601))


def test_scheduler_prefix_hit_lowers_ttft_and_reports_cached_tokens():
    scheduler = make_scheduler()
    first = make_seq("a", LONG_PROMPT, output=4, arrival=0.0)
    second = make_seq("b", LONG_PROMPT, output=4, arrival=10.0)
    run(scheduler, [first, second])
    assert first.num_cached == 0
    assert second.num_cached == 1600 - 16  # every full block but the last is reused
    assert ttft(second) < ttft(first) / 3
    assert scheduler.stats.prefix_hits == second.num_cached


def test_scheduler_different_prefix_gets_no_hit():
    scheduler = make_scheduler()
    first = make_seq("a", LONG_PROMPT, output=4, arrival=0.0)
    other = make_seq("b", [7, *LONG_PROMPT[1:]], output=4, arrival=10.0)
    run(scheduler, [first, other])
    assert other.num_cached == 0


def test_scheduler_bigger_batch_raises_inter_token_latency():
    alone = make_seq("solo", list(range(500)), output=64)
    run(make_scheduler(), [alone])
    crowd = [make_seq(f"s{i}", [i, *range(1000, 1499)], output=64) for i in range(128)]
    run(make_scheduler(), crowd)
    assert mean_itl(crowd[0]) > 1.3 * mean_itl(alone)


def test_scheduler_full_kv_cache_makes_requests_wait():
    # 40 blocks x 16 tokens = 640 slots; each request needs 10 prompt blocks + output.
    scheduler = make_scheduler(num_blocks=40)
    seqs = [make_seq(f"s{i}", [i, *range(100, 259)], output=32) for i in range(8)]
    run(scheduler, seqs)
    waited = [s for s in seqs if s.first_scheduled_s and s.first_scheduled_s > s.arrival_s]
    assert waited, "some requests must queue while the KV cache is full"
    assert all(s.num_output == 32 for s in seqs)


def test_scheduler_preempts_when_decode_outgrows_kv_cache():
    scheduler = make_scheduler(num_blocks=24)
    seqs = [make_seq(f"s{i}", [i, *range(100, 147)], output=120) for i in range(4)]
    run(scheduler, seqs)
    assert scheduler.stats.preemptions > 0
    assert all(s.num_output == 120 for s in seqs)
    assert scheduler.pool.usage() == 0.0


def test_scheduler_caps_running_sequences_at_max_num_seqs():
    scheduler = make_scheduler(max_num_seqs=2)
    seqs = [make_seq(f"s{i}", [i, 1, 2, 3], output=8) for i in range(5)]
    for seq in seqs:
        scheduler.add(seq)
    plan = scheduler.plan()
    assert plan is not None
    assert len(plan.scheduled) == 2


def test_scheduler_abort_frees_blocks():
    scheduler = make_scheduler()
    seq = make_seq("a", LONG_PROMPT, output=50)
    scheduler.add(seq)
    plan = scheduler.plan()
    assert plan is not None
    scheduler.complete(plan, plan.duration_s)
    assert scheduler.pool.usage() > 0
    scheduler.abort(seq)
    assert scheduler.pool.usage() == 0.0
    assert not scheduler.has_work()


def test_scheduler_does_not_admit_requests_from_the_future():
    scheduler = make_scheduler()
    scheduler.add(make_seq("later", [1, 2, 3], output=2, arrival=5.0))
    assert scheduler.plan(admit_until_s=1.0) is None
