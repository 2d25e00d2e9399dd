"""guidellm 0.8 (`guidellm run -c scenario.json`): scenario in, JSON report out.

Per request the report (`benchmarks[0].requests.{successful,errored,incomplete}`) gives
`time_to_first_token_ms`, `inter_token_latency_ms` (per-request mean over tokens after the first),
`time_per_output_token_ms`, `request_start_time` (time.time) and `response_id` (the server's id).
Fixed output length: guidellm itself sends `max_completion_tokens`, `ignore_eos: true` and
`stream_options.continuous_usage_stats` when the synthetic data sets `output_tokens`.
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

TOOL = "guidellm"


def scenario(work: Workload, report: Path) -> dict[str, Any]:
    """guidellm's scenario file for one load level."""
    if work.load.kind == "rate":
        profile: dict[str, Any] = {"kind": "constant", "rate": [work.load.value]}
    else:
        profile = {"kind": "concurrent", "streams": [int(work.load.value)]}
    return {"spec": {
        "backend": {"kind": "openai_http", "target": work.base_url, "model": work.model,
                    "request_format": "/v1/chat/completions", "validate_backend": False,
                    "stream": True},
        "profile": profile,
        "constraints": [{"kind": "max_requests", "count": work.num_requests},
                        {"kind": "max_duration", "seconds": work.timeout_s * 0.8}],
        "tokenizer": {"kind": "huggingface_auto", "model": str(work.tokenizer)},
        "data": [{"kind": "synthetic_text", "prompt_tokens": work.prompt_tokens,
                  "output_tokens": work.output_tokens}],
        "outputs": [{"kind": "json", "path": str(report)}],
        "metrics": {"kind": "generative", "sample_size": None},
    }}


def command(work: Workload, out_dir: Path) -> list[str]:
    path = out_dir / "scenario.json"
    path.write_text(json.dumps(scenario(work, out_dir / "report.json"), indent=1))
    return [str(tool_bin(TOOL, "guidellm")), "run", "-c", str(path),
            "--disable-console-interactive"]


def _record(item: dict[str, Any], ok: bool) -> PeerRecord:
    info = item.get("info") or {}
    return PeerRecord(
        tool=TOOL, ok=ok, ttft_ms=item.get("time_to_first_token_ms"),
        itl_ms=item.get("inter_token_latency_ms"),
        e2e_ms=None if item.get("request_latency") is None else item["request_latency"] * 1e3,
        start_s=epoch_to_monotonic(item.get("request_start_time")),
        output_tokens=item.get("output_tokens"), error=None if ok else str(info.get("error")),
        request_id=item.get("response_id"),
    )


def parse(out_dir: Path) -> list[PeerRecord]:
    """Every request of the (single) benchmark in guidellm's JSON report."""
    report = json.loads((out_dir / "report.json").read_text())
    records: list[PeerRecord] = []
    for bench in report["benchmarks"]:
        groups = bench["requests"]
        records += [_record(r, True) for r in groups.get("successful") or []]
        for name in ("errored", "incomplete"):
            records += [_record(r, False) for r in groups.get(name) or []]
    return records


def execute_load(work: Workload, out_dir: Path) -> ToolRun:
    return execute(TOOL, command(work, out_dir), work, out_dir, parse)

