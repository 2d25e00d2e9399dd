"""Per-request derived columns and error labels, against hand-computed values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from brixcheck.analysis import load_records, records_to_frame
from brixcheck.load.records import RecordWriter, RequestRecord


def _record(**fields) -> dict:
    base = {"request_id": "0-0", "scenario": "s", "strategy": "random", "intended_s": 100.0,
            "sent_s": 100.0005, "headers_s": 100.002, "status": 200, "error": "",
            "error_header": "", "target_pod": "pod-a",
            "token_times_s": [100.050, 100.060, 100.080], "chunk_tokens": [1, 1, 2],
            "done_s": 100.081, "prompt_tokens": 10, "output_tokens": 4, "cached_tokens": 5}
    return base | fields


def test_frame_derives_latencies_from_intended_time():
    row = records_to_frame([_record()]).iloc[0]
    assert row["ttft_ms"] == pytest.approx(50.0)
    assert row["e2e_ms"] == pytest.approx(81.0)
    assert row["tpot_ms"] == pytest.approx((81.0 - 50.0) / 3)
    assert row["send_lag_ms"] == pytest.approx(0.5)
    assert bool(row["ok"]) is True
    assert row["error_label"] == ""


def test_frame_itl_splits_a_bundled_event_into_per_token_gaps():
    row = records_to_frame([_record()]).iloc[0]
    assert row["itl_ms"] == pytest.approx([10.0, 10.0, 10.0])


def test_frame_tpot_is_undefined_for_one_output_token():
    row = records_to_frame([_record(token_times_s=[100.05], chunk_tokens=[1],
                                    output_tokens=1)]).iloc[0]
    assert math.isnan(row["tpot_ms"])
    assert row["itl_ms"] == []


def test_frame_without_chunk_counts_assumes_one_token_per_event():
    row = records_to_frame([_record(chunk_tokens=[], output_tokens=None)]).iloc[0]
    assert row["output_tokens"] == 3
    assert row["itl_ms"] == pytest.approx([10.0, 20.0])


@pytest.mark.parametrize(("fields", "label"), [
    ({"status": 503, "error_header": "x-error-no-model-backends: m", "token_times_s": [],
      "done_s": None}, "503 x-error-no-model-backends"),
    ({"status": 0, "error": "ConnectionRefusedError: [Errno 111] refused", "token_times_s": [],
      "done_s": None}, "0 ConnectionRefusedError"),
    ({"status": 429, "token_times_s": [], "done_s": None}, "429"),
    ({"error": "{'message': 'boom'}"}, "200 stream-error"),
    ({"error": "stream ended without a token", "token_times_s": [], "chunk_tokens": []},
     "200 no-token"),
    ({"done_s": None}, "200 no-done"),
])
def test_frame_labels_failures_by_status_and_error_header(fields, label):
    row = records_to_frame([_record(**fields)]).iloc[0]
    assert bool(row["ok"]) is False
    assert row["error_label"] == label


def test_frame_names_a_header_less_run_none():
    assert records_to_frame([_record(strategy="")]).iloc[0]["strategy"] == "none"


def test_load_records_reads_the_load_generators_files(tmp_path: Path):
    writer = RecordWriter(tmp_path / "run" / "a.jsonl")
    writer.write(RequestRecord("0-0", "s", "random", intended_s=1.0, sent_s=1.001, status=200,
                               token_times_s=[1.05, 1.06], chunk_tokens=[1, 1], done_s=1.07,
                               output_tokens=2))
    writer.close()
    with (tmp_path / "run" / "a.jsonl").open("a") as f:
        f.write('{"request_id": "0-1", "trunc')
    (tmp_path / "run" / "b.jsonl").write_text(json.dumps(_record(request_id="0-9")) + "\n")
    frame = load_records([tmp_path / "run"], labels={"rate_per_s": 20})
    assert sorted(frame["request_id"]) == ["0-0", "0-9"]
    assert set(frame["source"]) == {"a.jsonl", "b.jsonl"}
    assert (frame["rate_per_s"] == 20).all()
    assert frame.set_index("request_id").loc["0-0", "ttft_ms"] == pytest.approx(50.0)


def test_load_records_of_nothing_is_an_empty_frame(tmp_path: Path):
    frame = load_records([tmp_path])
    assert frame.empty
    assert "ttft_ms" in frame.columns
