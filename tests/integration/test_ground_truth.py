"""The emulator's ground-truth timings agree with what a client measures on loopback.

A raw-socket client stamps `time.monotonic()` when it sends and when each SSE event arrives; the
emulator reports the same clock's intended emit time and write time per token. On loopback the
client should see each token within a few milliseconds of its write (tolerances below), and its
TTFT should equal the emulator's TTFT plus that small transport delay.
"""

from __future__ import annotations

import json
import socket
import statistics
import time

import httpx

from tests.integration.conftest import MODEL

TRANSPORT_TOLERANCE_MS = 5.0


def _stream(url: str, body: dict[str, object]) -> tuple[float, list[float], dict]:
    host, port = url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: "
            f"application/json\r\nx-brixcheck-ground-truth: 1\r\ncontent-length: "
            f"{len(payload)}\r\n\r\n").encode()
    arrivals: list[float] = []
    buffer = b""
    with socket.create_connection((host, int(port))) as sock:
        sent = time.monotonic()
        sock.sendall(head + payload)
        while not buffer.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            now = time.monotonic()
            arrivals.extend(now for _ in range(data.count(b'"delta":{"content"')))
            buffer += data
    mark = b": brixcheck-ground-truth "
    start = buffer.index(mark) + len(mark)
    return sent, arrivals, json.loads(buffer[start:buffer.index(b"\n", start)])


def test_client_ttft_and_token_arrivals_match_ground_truth(engine_url: str):
    body = {"model": MODEL, "stream": True, "max_tokens": 40, "ignore_eos": True,
            "messages": [{"role": "user", "content": "measure me " * 30}]}
    sent, arrivals, truth = _stream(engine_url, body)
    assert len(arrivals) == len(truth["token_intended_s"]) == 40
    client_ttft_ms = (arrivals[0] - sent) * 1000
    truth_ttft_ms = (truth["token_intended_s"][0] - truth["arrival_s"]) * 1000
    assert 0 <= client_ttft_ms - truth_ttft_ms < TRANSPORT_TOLERANCE_MS
    lateness_ms = [(a - w) * 1000 for a, w in zip(arrivals, truth["token_written_s"],
                                                  strict=True)]
    assert max(lateness_ms) < TRANSPORT_TOLERANCE_MS
    assert min(lateness_ms) >= 0


def test_emit_times_follow_the_intended_schedule(engine_url: str):
    body = {"model": MODEL, "stream": True, "max_tokens": 30, "ignore_eos": True,
            "messages": [{"role": "user", "content": "schedule"}]}
    _, _, truth = _stream(engine_url, body)
    errors_ms = [(w - i) * 1000 for i, w in zip(truth["token_intended_s"],
                                                truth["token_written_s"], strict=True)]
    assert statistics.median(errors_ms) < 2.0
    gaps = [b - a for a, b in zip(truth["token_intended_s"], truth["token_intended_s"][1:],
                                  strict=False)]
    assert 0.010 < statistics.median(gaps) < 0.030, "RTX 4060 decode step is ~18 ms"


def test_whole_response_carries_ground_truth(engine_url: str):
    reply = httpx.post(f"{engine_url}/v1/completions", headers={"x-brixcheck-ground-truth": "1"},
                       json={"model": MODEL, "prompt": "x", "max_tokens": 3, "ignore_eos": True})
    truth = reply.json()["brixcheck_ground_truth"]
    assert truth["clock"] == "CLOCK_MONOTONIC"
    assert len(truth["token_intended_s"]) == 3
