"""Store synthetic runs in a results database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brixcheck.analysis import AnalysisOptions, Schedule, ValidityBounds, analyze, records_to_frame
from brixcheck.history.record import record_run
from brixcheck.history.store import StoredRun
from brixcheck.report import RunInfo
from tests.unit.synthetic import RunSpec, make_records

ENVIRONMENT = {"target": "twin", "gpuProduct": "NVIDIA-H100-80GB-HBM3", "driver": "580.159.04",
               "engineImage": "vllm/vllm-openai:v0.11.0", "engineVersion": "0.11.0",
               "model": "deepseek-r1-qwen-1b5", "aibrixVersion": "v0.5.0",
               "scenario": "streaming-chat"}


def store_run(db: Path, run_id: str, started_at: str, *, ttft_scale: float = 1.0, seed: int = 7,
              environment: dict[str, Any] | None = None, send_lag_ms: float = 0.3) -> StoredRun:
    """Analyse a 300-request constant-rate run of `random` and store it."""
    spec = RunSpec("random", rate_per_s=20, duration_s=15, constant=True, ttft_scale=ttft_scale,
                   seed=seed, send_lag_ms=send_lag_ms)
    options = AnalysisOptions(schedule=Schedule(20, 15), bounds=ValidityBounds())
    result = analyze(records_to_frame(make_records(spec)), options)
    info = RunInfo(run_id, started_at, environment or ENVIRONMENT, {"rate_per_s": 20})
    return record_run(db, result, info)
