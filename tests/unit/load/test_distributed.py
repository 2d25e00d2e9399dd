from __future__ import annotations

import pytest

from brixcheck.load.distributed import DoneTracker, global_index, worker_count
from brixcheck.load.framing import frame, merged, unframe
from brixcheck.load.schedule import arrival_offsets, share


def test_processes_decide_the_worker_count():
    assert worker_count(None, 1) == 1
    assert worker_count(0, 3) == 3
    assert worker_count(4, 1) == worker_count(4, 4) == 4
    with pytest.raises(ValueError, match="disagrees"):
        worker_count(4, 2)


def test_global_index_inverts_share():
    offsets = arrival_offsets(20, 3, seed=5)
    seen = sorted(global_index(w, 3, p) for w in range(3) for p in range(len(share(offsets, w, 3))))
    assert seen == list(range(len(offsets)))
    assert all(offsets[global_index(1, 3, p)] == o for p, o in enumerate(share(offsets, 1, 3)))


def test_tracker_is_done_only_when_every_worker_reported():
    tracker = DoneTracker(2)
    assert not tracker.report(1, {"sent": 3, "cpu_s": 0.5})
    assert not tracker.report(1, {"sent": 3, "cpu_s": 0.5})  # a repeat counts once
    assert tracker.report(0, {"sent": 4, "cpu_s": 0.25})
    assert (tracker.sent, tracker.cpu_s) == (7, 0.75)


def _record(i: int, t: float) -> str:
    return (f'{{"request_id":"0-{i}","intended_s":{t},"sent_s":{t + 0.001},"headers_s":null,'
            f'"done_s":{t + 1},"token_times_s":[{t + 0.5}]}}')


def test_framed_records_come_back_from_a_noisy_log_on_one_clock():
    log = "\n".join(["[INFO] Starting Locust", *frame(1, [_record(1, 10.0)], 1000.0),
                     "[INFO] Shutting down", *frame(0, [_record(0, 50.0), ""], 1040.0)])
    shares = unframe(log)
    assert [(s.worker, len(s.records)) for s in shares] == [(1, 1), (0, 1)]
    records = {r["request_id"]: r for r in merged(shares)}
    # Worker 1's monotonic clock is 40 s behind worker 0's: it moves onto worker 0's.
    assert records["0-1"]["intended_s"] == pytest.approx(-30.0)
    assert records["0-1"]["token_times_s"] == [pytest.approx(-29.5)]
    assert records["0-1"]["headers_s"] is None
    assert records["0-0"]["done_s"] == 51.0


def test_a_cut_log_is_an_error_not_a_smaller_sample():
    lines = list(frame(0, [_record(0, 1.0), _record(1, 2.0)], 0.0))
    with pytest.raises(ValueError, match="1 of 2 records"):
        unframe("\n".join([lines[0], lines[1], lines[3]]))
    with pytest.raises(ValueError, match="never end"):
        unframe("\n".join(lines[:2]))
