"""inference-perf 0.7 (`inference-perf -c config.yaml`, Python >= 3.12): YAML in, JSON out.

`per_request_lifecycle_metrics.json` holds one entry per request with `start_time`/`end_time`
(CLOCK_MONOTONIC, the emulator's clock) and, with `per_request_fields.computed_metrics`,
`time_to_first_token`, `time_per_output_token`, `inter_token_latency` and
`inter_token_latencies` (per *client* token: the response text is re-tokenized, so a chunk that
re-tokenizes into k tokens gives one gap and k-1 zeros), all in seconds, plus `error`.

Workload difference, recorded in the report: inference-perf's synthetic generators do not build
chat payloads; with `api.type: chat` the `shared_prefix` generator still sends streamed
`/v1/completions` requests (no role chunk). Unique system prompts per request keep the prefix
cache out of play. `server.ignore_eos: true` fixes the output length.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks.peers.common import PeerRecord, ToolRun, Workload, execute
from benchmarks.peers.paths import tool_bin

TOOL = "inference-perf"
SYSTEM_PROMPT_TOKENS = 10


def config(work: Workload, out_dir: Path) -> dict[str, Any]:
    """inference-perf's config for one load level (JSON is valid YAML)."""
    if work.load.kind == "rate":
        duration = max(1, math.ceil(work.num_requests / work.load.value))
        load: dict[str, Any] = {"type": "constant",
                                "stages": [{"rate": work.load.value, "duration": duration}]}
    else:
        load = {"type": "concurrent", "stages": [{"num_requests": work.num_requests,
                                                  "concurrency_level": int(work.load.value)}]}
    load.update(num_workers=1, request_timeout=work.timeout_s, stage_teardown_grace_seconds=10)
    return {
        "api": {"type": "chat", "streaming": True},
        "data": {"type": "shared_prefix", "shared_prefix": {
            "num_groups": work.num_requests, "num_prompts_per_group": 1,
            "system_prompt_len": SYSTEM_PROMPT_TOKENS,
            "question_len": max(1, work.prompt_tokens - SYSTEM_PROMPT_TOKENS),
            "output_len": work.output_tokens, "seed": 7}},
        "load": load,
        "server": {"type": "vllm", "model_name": work.model, "base_url": work.base_url,
                   "ignore_eos": True},
        "tokenizer": {"pretrained_model_name_or_path": str(work.tokenizer)},
        "report": {"request_lifecycle": {
            "summary": True, "per_stage": True, "per_request": True,
            "use_server_output_tokens": True,
            "per_request_fields": {"request": False, "response": False, "info": False,
                                   "response_chunks": False, "computed_metrics": True}}},
        "storage": {"local_storage": {"path": str(out_dir / "report")}},
    }


def command(work: Workload, out_dir: Path) -> list[str]:
    path = out_dir / "config.yaml"
    path.write_text(json.dumps(config(work, out_dir), indent=1))
    return [str(tool_bin(TOOL, "inference-perf")), "-c", str(path)]


def _ms(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    return None if value is None else value * 1e3


def _record(item: dict[str, Any]) -> PeerRecord:
    metrics = item.get("computed_metrics") or {}
    error = item.get("error")
    gaps = metrics.get("inter_token_latencies")
    return PeerRecord(
        tool=TOOL, ok=error is None, ttft_ms=_ms(metrics, "time_to_first_token"),
        itl_ms=_ms(metrics, "time_per_output_token"),
        itl_gaps_ms=[g * 1e3 for g in gaps] if isinstance(gaps, list) else None,
        e2e_ms=_ms(metrics, "request_latency"), start_s=item.get("start_time"),
        error=None if error is None else json.dumps(error)[:300],
    )


def parse(out_dir: Path) -> list[PeerRecord]:
    path = out_dir / "report/per_request_lifecycle_metrics.json"
    return [_record(item) for item in json.loads(path.read_text())]


def execute_load(work: Workload, out_dir: Path) -> ToolRun:
    return execute(TOOL, command(work, out_dir), work, out_dir, parse)

