"""Per-request records (JSON lines, docs/loadgen.md) as a pandas DataFrame with derived columns.

This is the analysis package's only input boundary: `load_records` reads the record files the
load generator wrote, and everything downstream is a pure function of the frame it returns.
It deliberately re-reads the JSON-lines format instead of importing `brixcheck.load` (analysis
never imports load). It computes per-request quantities only; summaries live in the sibling
modules.

Derived columns (all latencies in ms, from CLOCK_MONOTONIC seconds):

- `ttft_ms`  = (first token event time - `intended_s`) x 1000
- `e2e_ms`   = (`done_s` - `intended_s`) x 1000
- `tpot_ms`  = (`e2e_ms` - `ttft_ms`) / (`output_tokens` - 1), when `output_tokens` > 1
- `send_lag_ms` = (`sent_s` - `intended_s`) x 1000
- `itl_ms`   = per-token gaps: an event arriving `gap` after the previous token event and
  carrying `k` tokens (`chunk_tokens`) contributes `k` samples of `gap / k`
- `ok`       = status 200, no error, at least one token event and `[DONE]` seen
- `error_label` = short label "<status> <x-error-* header name | cause>" for failures
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brixcheck.load.records import read_records

NO_STRATEGY = "none"
RECORD_COLUMNS = (
    "request_id", "scenario", "strategy", "intended_s", "sent_s", "headers_s", "status", "error",
    "error_header", "target_pod", "token_times_s", "chunk_tokens", "done_s", "prompt_tokens",
    "output_tokens", "cached_tokens",
)


def _record_files(paths: Iterable[Path | str]) -> list[Path]:
    files: list[Path] = []
    for item in map(Path, paths):
        files.extend(sorted(item.glob("*.jsonl")) if item.is_dir() else [item])
    return files


def load_records(paths: Iterable[Path | str],
                 labels: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read record files (or directories of `*.jsonl`) into one frame, one row per request.

    Args:
        paths: JSON-lines record files, or directories whose `*.jsonl` files are read.
        labels: constant columns to add to every row (e.g. `{"rate_per_s": 20}` for a sweep).

    Returns:
        The frame of `records_to_frame`, plus a `source` column naming each row's file.
    """
    frames = []
    for path in _record_files(paths):
        frame = records_to_frame(read_records(path), labels)
        frame["source"] = path.name
        frames.append(frame)
    if not frames:
        return records_to_frame([], labels).assign(source=pd.Series(dtype=str))
    return pd.concat(frames, ignore_index=True)


def records_to_frame(records: Iterable[Mapping[str, Any]],
                     labels: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Records (dicts with the fields of docs/loadgen.md) as a frame with derived columns.

    Args:
        records: record dicts; missing optional fields take the writer's defaults.
        labels: constant columns to add to every row.

    Returns:
        One row per record: the record fields, then the derived columns of the module docstring.
    """
    rows = [_derive(_defaults(record)) for record in records]
    frame = pd.DataFrame(rows, columns=[*RECORD_COLUMNS, *_DERIVED])
    for column in ("intended_s", "sent_s", "headers_s", "done_s", "ttft_ms", "e2e_ms", "tpot_ms",
                   "send_lag_ms"):
        frame[column] = frame[column].astype(float)
    frame["ok"] = frame["ok"].astype(bool)
    for key, value in (labels or {}).items():
        frame[key] = value
    return frame


_DERIVED = ("ttft_ms", "e2e_ms", "tpot_ms", "send_lag_ms", "itl_ms", "ok", "error_label")


def _defaults(record: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": "", "scenario": "", "strategy": "", "intended_s": np.nan, "sent_s": 0.0,
        "headers_s": None, "status": 0, "error": "", "error_header": "", "target_pod": "",
        "token_times_s": [], "chunk_tokens": [], "done_s": None, "prompt_tokens": None,
        "output_tokens": None, "cached_tokens": None,
    }
    row.update({k: v for k, v in record.items() if k in row})
    row["strategy"] = row["strategy"] or NO_STRATEGY
    for key in ("headers_s", "done_s"):
        row[key] = np.nan if row[key] is None else row[key]
    return row


def _derive(row: dict[str, Any]) -> dict[str, Any]:
    times, intended = row["token_times_s"], row["intended_s"]
    chunks = _chunk_counts(row["chunk_tokens"], len(times))
    row["chunk_tokens"] = chunks
    if row["output_tokens"] is None:
        row["output_tokens"] = sum(chunks)
    row["ttft_ms"] = ttft_ms(times, intended)
    row["e2e_ms"] = e2e_ms(row["done_s"], intended)
    row["tpot_ms"] = tpot_ms(row["e2e_ms"], row["ttft_ms"], row["output_tokens"])
    row["send_lag_ms"] = send_lag_ms(row["sent_s"], intended)
    row["itl_ms"] = per_token_gaps_ms(times, chunks)
    row["ok"] = bool(row["status"] == 200 and not row["error"] and times
                     and not np.isnan(row["done_s"]))
    row["error_label"] = "" if row["ok"] else error_label(row)
    return row


def ttft_ms(token_times_s: list[float], intended_s: float) -> float:
    """Time to first token of one request.

    Formula: TTFT = (arrival of the first SSE event with non-empty `delta.content`, or `text`)
    - `intended_s` (the scheduled send time), in ms. Role-only and usage-only events are not
    tokens. Measuring from the intended time (not the actual send) keeps generator or server
    backlog in the number (no coordinated omission).

    Args:
        token_times_s: arrival time of each token event.
        intended_s: scheduled send time.

    Returns:
        TTFT in ms; NaN when no token arrived.
    """
    return (token_times_s[0] - intended_s) * 1000 if token_times_s else float("nan")


def e2e_ms(done_s: float, intended_s: float) -> float:
    """End-to-end latency of one request.

    Formula: E2E = arrival of `data: [DONE]` - `intended_s`, in ms.

    Args:
        done_s: arrival of `[DONE]` (NaN when it never came).
        intended_s: scheduled send time.

    Returns:
        E2E in ms; NaN without `[DONE]`.
    """
    return (done_s - intended_s) * 1000


def tpot_ms(e2e: float, ttft: float, output_tokens: int) -> float:
    """Time per output token after the first, of one request.

    Formula: TPOT = (E2E - TTFT) / (output_tokens - 1), output_tokens from the server's
    `usage`; undefined (NaN) when output_tokens <= 1.

    Args:
        e2e: E2E in ms.
        ttft: TTFT in ms.
        output_tokens: completion tokens the server reported.

    Returns:
        TPOT in ms.
    """
    return (e2e - ttft) / (output_tokens - 1) if output_tokens > 1 else float("nan")


def send_lag_ms(sent_s: float, intended_s: float) -> float:
    """How late the generator sent one request.

    Formula: send lag = `sent_s` - `intended_s`, in ms (the generator's own delay; a large p99
    invalidates an open-loop run).

    Args:
        sent_s: when the request was handed to the socket (0 when never sent).
        intended_s: scheduled send time.

    Returns:
        Send lag in ms; NaN when never sent.
    """
    return (sent_s - intended_s) * 1000 if sent_s else float("nan")


def _chunk_counts(chunk_tokens: list[int], events: int) -> list[int]:
    """Tokens per event; one each when the server gave no per-event usage."""
    if len(chunk_tokens) == events:
        return [max(1, int(k)) for k in chunk_tokens]
    return [1] * events


def per_token_gaps_ms(token_times_s: list[float], chunk_tokens: list[int]) -> list[float]:
    """Inter-token latency samples of one request, per token.

    Formula: for each token event i >= 1, gap_i = t_i - t_(i-1); the event carried k_i tokens
    (server usage), so it contributes k_i samples of gap_i / k_i (ms). Bundled tokens are thus
    not mistaken for one slow token. Tokens of the first event belong to TTFT and give none.

    Args:
        token_times_s: arrival time of each token event.
        chunk_tokens: tokens each event carried (same length).

    Returns:
        The per-token gaps in ms, in arrival order.
    """
    gaps: list[float] = []
    for i in range(1, len(token_times_s)):
        k = chunk_tokens[i]
        gaps.extend([(token_times_s[i] - token_times_s[i - 1]) * 1000 / k] * k)
    return gaps


def error_label(row: Mapping[str, Any]) -> str:
    """Short, countable label of a failed request: "<status> <x-error header name | cause>".

    Args:
        row: a record with `status`, `error`, `error_header`, `token_times_s`, `done_s`.

    Returns:
        e.g. "503 x-error-no-model-backends", "0 ConnectionRefusedError", "200 stream-error".
    """
    status, error = int(row["status"]), str(row["error"] or "")
    header = str(row["error_header"] or "").split(":", 1)[0].strip().lower()
    if header:
        return f"{status} {header}"
    if status == 0:
        return f"0 {error.split(':', 1)[0] or 'no-response'}"
    if status != 200:
        return str(status)
    if error.startswith("stream ended without a token") or not row["token_times_s"]:
        return "200 no-token"
    return "200 stream-error" if error else "200 no-done"
