"""One Locust run as one validated JSON file: what each request asks for, when requests arrive,
which headers they carry and where their records go.

brixcheck writes the file from a validated scenario (`brixcheck.bench.runner`) and the locustfile
reads it back with the same model (`--brixcheck-run FILE`), so no setting is re-parsed from
command-line text on the far side. The scenario's `workload` section is this module's `Workload`.
Only pydantic and the standard library are imported: in-cluster pods ship this package.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brixcheck.load.schedule import Arrival

RUN_OPTION = "--brixcheck-run"  # the locustfile's one option: the run file's path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Workload(_Strict):
    """What each request asks for."""

    model: str = Field(description="model name requests use (the model.aibrix.ai/name value)")
    prompt_words: int = Field(100, gt=0, description="words per prompt")
    output_tokens: int = Field(64, gt=0, description="tokens generated per request (ignore_eos)")
    seed: int = Field(0, description="seed of prompts and arrivals")
    prefix_groups: int = Field(0, ge=0, description="requests share one of N prompt prefixes")
    prefix_words: int = Field(0, ge=0, description="words in each shared prefix")
    sessions: int = Field(0, ge=0, description="multi-turn chat: N interleaved conversations, "
                          "each turn re-sending the conversation so far (0: single turns)")
    turns: int = Field(8, gt=0, description="turns per conversation before a new one starts")


class OpenLoop(_Strict):
    """The seeded arrival schedule of an open-loop run (the seed is the workload's)."""

    rate_per_s: float = Field(gt=0, description="requests per second (a sweep's level)")
    arrival: Arrival = Field(Arrival.POISSON, description="poisson or constant spacing")
    duration_s: float = Field(gt=0, description="length of the schedule")


class RunSpec(_Strict):
    """Everything the locustfile needs for one run; Locust's own options stay Locust flags."""

    scenario: str = Field("streaming-chat", description="scenario id: names records and stats")
    strategy: str = Field("", description="strategy the records carry ('' : none)")
    workload: Workload
    open_loop: OpenLoop | None = Field(
        None, description="the arrival schedule; none: closed loop (users from Locust's -u)")
    workers: int = Field(1, ge=1, description="processes sharing the schedule (Locust workers)")
    headers: dict[str, str] = Field(
        default_factory=dict, description="request headers beyond content-type, the "
        "routing-strategy header included when a strategy is routed by header")
    path: str = Field("/v1/chat/completions", description="the chat completions path")
    ground_truth: bool = Field(False, description="ask the engine emulator for its own timings")
    records_dir: str = Field(description="directory the JSON-lines records are written to")
    records_stdout: bool = Field(
        False, description="also print the records, framed, when the run stops (in-cluster)")


def write_run(spec: RunSpec, path: Path) -> Path:
    """Write the run file (JSON) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.model_dump_json(indent=2) + "\n")
    return path


def read_run(path: str | Path) -> RunSpec:
    """The run file, validated; a missing or bad file is one ValueError saying what is wrong."""
    try:
        return RunSpec.model_validate_json(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"run file {path} cannot be read ({exc.strerror}); pass "
                         f"{RUN_OPTION} FILE with a file brixcheck wrote") from None
    except ValidationError as exc:
        mistakes = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"run file {path} is not a brixcheck run: {mistakes}") from None
