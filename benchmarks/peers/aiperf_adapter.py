"""aiperf 0.13 (`aiperf profile`): command-line flags in, `profile_export.jsonl` out.

One JSON line per request: `metrics.time_to_first_token`, `metrics.inter_token_latency`
((E2E - TTFT) / (OSL - 1), with the server's token count thanks to `--use-server-token-count`),
`metrics.inter_chunk_latency` (every SSE gap), `metadata.request_start_ns` (time.time_ns),
`metadata.x_request_id` (sent as x-request-id, so the server's id is `chatcmpl-<it>`) and an
`error` object for failed requests. Fixed output length through `--osl` (sent as
`max_completion_tokens`) plus `--extra-inputs ignore_eos:true min_tokens:N`.

Tokenizer: with HF_HUB_OFFLINE=1 aiperf resolves names only through the HF cache
(`snapshot_download(local_files_only=True)`) and rejects a folder path, so it gets the model
name and HF_HOME pointing at the cache entry that `benchmarks.peers.tokenizer` lays out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.peers.common import (
    PeerRecord,
    ToolRun,
    Workload,
    epoch_to_monotonic,
    execute,
)
from benchmarks.peers.paths import tool_bin

TOOL = "aiperf"


def command(work: Workload, out_dir: Path) -> list[str]:
    """aiperf's argv for one load level; workers capped for a 2-core machine."""
    load = (["--request-rate", f"{work.load.value:g}", "--arrival-pattern", "constant"]
            if work.load.kind == "rate" else ["--concurrency", str(int(work.load.value))])
    return [
        str(tool_bin(TOOL, "aiperf")), "profile", "--model", work.model,
        "--url", work.base_url, "--endpoint-type", "chat", "--streaming",
        "--tokenizer", work.model, "--use-server-token-count",
        *load, "--request-count", str(work.num_requests),
        "--isl", str(work.prompt_tokens), "--isl-stddev", "0", "--osl", str(work.output_tokens),
        "--extra-inputs", "ignore_eos:true", "--extra-inputs",
        f"min_tokens:{work.output_tokens}",
        "--request-timeout-seconds", f"{work.timeout_s:g}",
        "--artifact-dir", str(out_dir / "artifacts"), "--ui", "none",
        "--workers-max", "2", "--record-processors", "1", "--random-seed", "7",
    ]


def _metric(metrics: dict[str, Any], name: str) -> Any:
    item = metrics.get(name)
    return None if item is None else item.get("value")


def _record(line: dict[str, Any]) -> PeerRecord:
    metrics, meta = line.get("metrics") or {}, line.get("metadata") or {}
    error = line.get("error")
    start_ns = meta.get("request_start_ns")
    gaps = _metric(metrics, "inter_chunk_latency")
    return PeerRecord(
        tool=TOOL, ok=error is None, ttft_ms=_metric(metrics, "time_to_first_token"),
        itl_ms=_metric(metrics, "inter_token_latency"),
        itl_gaps_ms=list(gaps) if isinstance(gaps, list) else None,
        e2e_ms=_metric(metrics, "request_latency"),
        start_s=None if start_ns is None else epoch_to_monotonic(start_ns / 1e9),
        output_tokens=_metric(metrics, "usage_completion_tokens"),
        error=None if error is None else json.dumps(error)[:300],
        request_id=f"chatcmpl-{meta['x_request_id']}" if meta.get("x_request_id") else None,
    )


def parse(out_dir: Path) -> list[PeerRecord]:
    """Profiling-phase lines of profile_export.jsonl."""
    path = out_dir / "artifacts/profile_export.jsonl"
    records = []
    for text in path.read_text().splitlines():
        line = json.loads(text)
        if (line.get("metadata") or {}).get("benchmark_phase", "profiling") == "profiling":
            records.append(_record(line))
    return records


def execute_load(work: Workload, out_dir: Path) -> ToolRun:
    return execute(TOOL, command(work, out_dir), work, out_dir, parse)

