"""brixcheck's own generator as a row of the peer comparison (same harness, same truth).

Runs `locustfiles/streaming_chat.py` open loop (constant arrivals, the level's rate, as many
requests as the peers get) from the project venv, pinned like the peers, and turns its
per-request records into `PeerRecord`s: TTFT from the intended send time, per-token gaps, E2E,
and the server's request id (`chatcmpl-brixcheck-...`) for exact pairing with the truth.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from benchmarks.peers.common import PeerRecord, ToolRun, Workload, execute
from benchmarks.peers.paths import REPO
from brixcheck.load.run_spec import RUN_OPTION, OpenLoop, RunSpec, write_run
from brixcheck.load.run_spec import Workload as RunWorkload
from brixcheck.load.schedule import Arrival

TOOL = "brixcheck"
DRAIN_S = 30


def command(work: Workload, out_dir: Path) -> list[str]:
    """The Locust command for one load level (open loop only)."""
    if work.load.kind != "rate":
        raise ValueError("brixcheck's comparison row runs open loop; use --rates")
    duration = work.num_requests / work.load.value
    spec = RunSpec(workload=RunWorkload(model=work.model, prompt_words=work.prompt_tokens,
                                        output_tokens=work.output_tokens),
                   open_loop=OpenLoop(rate_per_s=work.load.value, arrival=Arrival.CONSTANT,
                                      duration_s=duration),
                   records_dir=str(out_dir / "records"))
    return [sys.executable, "-m", "locust", "-f", str(REPO / "locustfiles/streaming_chat.py"),
            "--headless", "--only-summary", "-H", work.base_url, RUN_OPTION,
            str(write_run(spec, out_dir / "run.json")), "--run-time",
            f"{int(duration + DRAIN_S)}s", "OpenLoopUser"]


def _record(line: dict) -> PeerRecord:
    times, intended = line["token_times_s"], line["intended_s"]
    ok = line["status"] == 200 and not line["error"] and bool(times)
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)]
    return PeerRecord(
        tool=TOOL, ok=ok, ttft_ms=(times[0] - intended) * 1000 if times else None,
        itl_ms=sum(gaps) / len(gaps) if gaps else None, itl_gaps_ms=gaps or None,
        e2e_ms=((line["done_s"] or times[-1]) - intended) * 1000 if times else None,
        start_s=intended, output_tokens=line["output_tokens"], error=line["error"] or None,
        request_id=f"chatcmpl-brixcheck-{line['request_id']}")


def parse(out_dir: Path) -> list[PeerRecord]:
    """Every record the run wrote."""
    return [_record(json.loads(text)) for path in sorted((out_dir / "records").glob("*.jsonl"))
            for text in path.read_text().splitlines() if text.strip()]


def execute_load(work: Workload, out_dir: Path) -> ToolRun:
    """Run one level; the harness pins, bounds and CPU-samples it like the peers."""
    return execute(TOOL, command(work, out_dir), work, out_dir, parse)
