"""Schedules, SSE event timing and records of the load generator (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from geventhttpclient.response import HTTPSocketResponse

from brixcheck.load.records import RecordWriter, RequestRecord, read_records
from brixcheck.load.schedule import Arrival, arrival_offsets, share
from brixcheck.load.sse_client import _read_stream
from brixcheck.load.workload import ChatWorkload


def test_poisson_schedule_is_seeded_and_near_the_rate():
    first = arrival_offsets(100, 30, Arrival.POISSON, seed=7)
    assert first == arrival_offsets(100, 30, Arrival.POISSON, seed=7)
    assert 2700 < len(first) < 3300
    assert first == sorted(first)


def test_constant_schedule_and_worker_shares_cover_it_once():
    offsets = arrival_offsets(10, 2, Arrival.CONSTANT)
    assert offsets == [i / 10 for i in range(20)]
    shares = [share(offsets, w, 3) for w in range(3)]
    assert sorted(x for s in shares for x in s) == offsets


def test_schedule_rejects_non_positive_rate():
    with pytest.raises(ValueError, match="must be positive"):
        arrival_offsets(0, 10)


class _ScriptedSocket:
    """Hands out one scripted read per recv(), then end of stream; always readable.

    It stands for a gevent socket and the OS socket under it (`_sock`), as the reader uses both.
    """

    def __init__(self, reads: list[bytes]) -> None:
        self.reads = reads
        self.timeout: float | None = 5.0
        self._sock = self
        self._read_event = None

    def _wait(self, _event: None) -> None:
        return None

    def recv(self, _size: int) -> bytes:
        return self.reads.pop(0) if self.reads else b""

    def gettimeout(self) -> float | None:
        return self.timeout

    def settimeout(self, value: float | None) -> None:
        self.timeout = value


def _sse_response(lines: list[bytes], split_at: int = 0) -> HTTPSocketResponse:
    """A real geventhttpclient response reading a chunked SSE body, one chunk per line.

    With `split_at`, the body's reads are cut every `split_at` bytes instead, so lines and
    chunks straddle socket reads.
    """
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
    body = [b"%x\r\n%s\r\n" % (len(line), line) for line in lines] + [b"0\r\n\r\n"]
    if split_at:
        joined = b"".join(body)
        body = [joined[i:i + split_at] for i in range(0, len(joined), split_at)]
    return HTTPSocketResponse(_ScriptedSocket([head, *body]))


def _chunk(delta: dict, usage: dict | None = None, choices: bool = True) -> bytes:
    event = {"choices": [{"index": 0, "delta": delta}] if choices else []}
    if usage is not None:
        event["usage"] = usage
    return b"data: " + json.dumps(event).encode() + b"\n"


def test_role_and_usage_events_are_not_tokens_and_usage_counts_chunk_tokens():
    lines = [_chunk({"role": "assistant", "content": ""}, {"completion_tokens": 0}), b"\n",
             _chunk({"content": "a"}, {"completion_tokens": 1}), b"\n",
             _chunk({"content": "bc"}, {"completion_tokens": 3}), b"\n",
             _chunk({}, {"prompt_tokens": 9, "completion_tokens": 3,
                         "prompt_tokens_details": {"cached_tokens": 4}}, choices=False),
             b"data: [DONE]\n", b": brixcheck-ground-truth {\"arrival_s\": 1.0}\n"]
    record = RequestRecord("r", "s", "", intended_s=0.0)
    _read_stream(record, _sse_response(lines))
    assert len(record.token_times_s) == 2
    assert record.chunk_tokens == [1, 2]
    assert (record.prompt_tokens, record.output_tokens, record.cached_tokens) == (9, 3, 4)
    assert record.done_s is not None
    assert record.truth == {"arrival_s": 1.0}


def test_error_event_inside_a_200_stream_is_a_failure():
    record = RequestRecord("r", "s", "", intended_s=0.0)
    _read_stream(record, _sse_response([b'data: {"error": {"message": "boom"}}\n']))
    assert "boom" in record.error


def test_records_survive_a_truncated_last_line(tmp_path: Path):
    writer = RecordWriter(tmp_path / "r.jsonl")
    writer.write(RequestRecord("a", "s", "", intended_s=1.0))
    writer.close()
    with (tmp_path / "r.jsonl").open("a") as f:
        f.write('{"request_id": "b", "trunc')
    assert [r["request_id"] for r in read_records(tmp_path / "r.jsonl")] == ["a"]


def test_workload_bodies_are_deterministic_and_fixed_length():
    workload = ChatWorkload("m", prompt_words=5, output_tokens=7, seed=1)
    body = json.loads(workload.body(3))
    assert body == json.loads(workload.body(3))
    assert body["max_tokens"] == 7
    assert body["ignore_eos"] is True
    assert len(body["messages"][0]["content"].split()) == 5


def test_fast_path_reads_compact_vllm_events_like_the_json_path():
    head = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":['
    lines = [head + b'{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,'
             b'"finish_reason":null}],"usage":{"prompt_tokens":5,"total_tokens":5,'
             b'"completion_tokens":0}}\n',
             head + b'{"index":0,"delta":{"content":"hi"},"logprobs":null,"finish_reason":null,'
             b'"token_ids":null}],"usage":{"prompt_tokens":5,"total_tokens":7,'
             b'"completion_tokens":2}}\n',
             head + b'{"index":0,"delta":{"content":"\\"q\\""},"logprobs":null,'
             b'"finish_reason":"length"}],"usage":{"prompt_tokens":5,"total_tokens":8,'
             b'"completion_tokens":3}}\n', b"data: [DONE]\n"]
    record = RequestRecord("r", "s", "", intended_s=0.0)
    _read_stream(record, _sse_response(lines))
    assert record.chunk_tokens == [2, 1]
    assert record.output_tokens == 3


@pytest.mark.parametrize("split_at", [0, 7, 50])
def test_lines_straddling_socket_reads_are_read_whole(split_at: int):
    lines = [_chunk({"content": "a"}, {"completion_tokens": 1}), b"\n",
             _chunk({"content": "b"}, {"completion_tokens": 2}), b"\n", b"data: [DONE]\n"]
    record = RequestRecord("r", "s", "", intended_s=0.0)
    _read_stream(record, _sse_response(lines, split_at))
    assert record.chunk_tokens == [1, 1]
    assert record.done_s is not None
    assert not record.error
