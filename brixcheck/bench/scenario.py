"""Benchmark scenarios as strict data: adding one is a YAML file, not Python.

Unknown keys are errors (a renamed key must not silently stop working), every field says what
it means, and a bad file is reported with the field path and the rule it broke.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from brixcheck.aibrix.v0_5 import STRATEGY_NAMES
from brixcheck.errors import BrixcheckError
from brixcheck.load.run_spec import Workload
from brixcheck.resources import data_path
from brixcheck.routers.vllm_router import POLICIES

SCENARIO_DIR = data_path("suites", "benchmark", "scenarios")
SCENARIO_DIR_ENV = "BRIXCHECK_SCENARIO_DIR"


def shootout_dir() -> Path:
    """The strategy shoot-out's scenarios (`brixcheck bench --compare-strategies`)."""
    return data_path("suites", "shootout")


# `baseline` is the suite's own: the model's plain Service, no routing-strategy header.
VALID_STRATEGIES = ("baseline", *STRATEGY_NAMES)
ROUTER_PREFIX = "vllm-router:"  # a third-party router's policy in place of an AIBrix strategy


def is_router(strategy: str) -> bool:
    """Whether a scenario strategy names a vllm-router policy (`vllm-router:cache_aware`)."""
    return strategy.startswith(ROUTER_PREFIX) and strategy[len(ROUTER_PREFIX):] in POLICIES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Load(_Strict):
    """How requests arrive: an open-loop rate or closed-loop users."""

    mode: Literal["open", "closed"] = Field("open", description="open loop or closed loop")
    arrival: Literal["poisson", "constant"] = Field("poisson", description="open-loop spacing")
    rate_per_s: float | None = Field(None, gt=0, description="open-loop requests per second")
    sweep_rates_per_s: list[float] | None = Field(
        None, min_length=2, description="open-loop rate levels, rising, instead of rate_per_s; "
        "each strategy climbs them and stops at the first level the target does not sustain")
    users: int | None = Field(None, gt=0, description="closed-loop concurrent users")
    duration_s: float = Field(30, gt=0, description="length of the measured schedule")
    warmup_s: float = Field(3, ge=0, description="requests intended before this are excluded")
    processes: int | Literal["auto"] = Field(
        1, description="Locust processes sharing the load: 1 = one process; N > 1 = a master "
        "and N workers (Locust's distributed mode); 'auto' or -1 = one worker per core")
    where: Literal["local", "cluster"] = Field(
        "local", description="local: Locust on this machine; cluster: Locust as Kubernetes Jobs "
        "next to the target (manifests/loadgen)")

    @model_validator(mode="after")
    def _one_of_rate_or_users(self) -> Load:
        sweep = self.sweep_rates_per_s
        if self.mode == "open" and (self.rate_per_s is None) == (sweep is None):
            raise ValueError("open-loop load needs rate_per_s or sweep_rates_per_s (one of them)")
        if self.mode == "closed" and (self.users is None or sweep is not None):
            raise ValueError("closed-loop load needs users (and no sweep)")
        if sweep is not None and (min(sweep) <= 0 or sweep != sorted(set(sweep))):
            raise ValueError("sweep_rates_per_s must be positive and strictly rising")
        return self

    def levels(self) -> list[float | None]:
        """The open-loop rates to run, in order ([None] for closed loop)."""
        return list(self.sweep_rates_per_s or [self.rate_per_s])

    @field_validator("processes")
    @classmethod
    def _process_count(cls, value: int | str) -> int | str:
        if value != "auto" and (value == 0 or int(value) < -1):
            raise ValueError("must be a positive count, 'auto' or -1")
        return value

    def worker_count(self, cores: int | None = None) -> int:
        """Processes (workers) that share the load; 'auto'/-1 is one per core."""
        if self.processes in ("auto", -1):
            return max(cores or os.cpu_count() or 1, 1)
        return int(self.processes)


class Guards(_Strict):
    """Bounds past which a run is reported invalid, not slow."""

    max_error_rate: float = Field(0.01, ge=0, le=1, description="failed request fraction")
    max_send_lag_p99_ms: float = Field(10, gt=0, description="generator send lag p99")
    min_achieved_fraction: float = Field(0.95, gt=0, le=1, description="achieved/scheduled rate")
    saturation_ttft_p99_ms: float | None = Field(
        None, gt=0, description="sweeps: a level whose TTFT p99 passes this is saturated too")


class Slo(_Strict):
    """A named set of latency thresholds a request must meet to count as good (goodput)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="kebab-case name")
    ttft_ms: float | None = Field(None, gt=0, description="TTFT limit")
    tpot_ms: float | None = Field(None, gt=0, description="time per output token limit")
    e2e_ms: float | None = Field(None, gt=0, description="end-to-end latency limit")


class Scenario(_Strict):
    """One benchmark scenario."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="stable kebab-case id")
    description: str = Field(description="one sentence: what this measures")
    strategies: list[str] = Field(min_length=1, description="routing-strategy values; "
                                  "'baseline' = the model's plain Service, no strategy header")
    workload: Workload
    load: Load
    repeats: int = Field(1, ge=1, description="runs per strategy, interleaved")
    guards: Guards = Guards()
    slos: list[Slo] = Field(default_factory=list, description="goodput SLO sets, the first "
                            "ranks the strategy table (default: strict, interactive, relaxed)")

    @field_validator("strategies")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        unknown = [n for n in names if n not in VALID_STRATEGIES and not is_router(n)]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} is not a routing strategy of "
                             f"AIBrix v0.5.0; valid: {', '.join(VALID_STRATEGIES)}, or "
                             f"{ROUTER_PREFIX}<policy> with a policy of {', '.join(POLICIES)}")
        return names


def _near_key(error: ErrorDetails) -> str | None:
    """The key of the same section an unknown key was most likely meant as."""
    model: type[BaseModel] = Scenario
    for part in error["loc"][:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not isinstance(field.annotation, type) \
                or not issubclass(field.annotation, BaseModel):
            return None
        model = field.annotation
    close = difflib.get_close_matches(str(error["loc"][-1]), model.model_fields, n=1)
    return close[0] if close else None


def _describe(error: ErrorDetails) -> str:
    """One mistake as `field.path: rule`, an unknown key with the key it was likely meant as."""
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        near = _near_key(error)
        hint = f" (did you mean {near}?)" if near else ""
        return f"{where}: unknown key{hint}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"


def _mistakes(exc: ValidationError) -> list[str]:
    """Every mistake; a 'Field required' explained by a misspelt key of the same name goes."""
    errors = exc.errors()
    misspelt = {(*e["loc"][:-1], _near_key(e)) for e in errors if e["type"] == "extra_forbidden"}
    return [_describe(e) for e in errors
            if not (e["type"] == "missing" and tuple(e["loc"]) in misspelt)]


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file; a bad one is one clear error naming the field."""
    try:
        return Scenario.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as exc:
        mistakes = _mistakes(exc)
        raise BrixcheckError(f"scenario {path.name} has {len(mistakes)} mistake(s): "
                             + "; ".join(mistakes),
                             "fix the file; suites/benchmark/scenarios/*.yaml show the form") \
            from None
    except (OSError, yaml.YAMLError) as exc:
        raise BrixcheckError(f"scenario {path} cannot be read: {exc}",
                             "check the path and the YAML syntax") from None


def scenario_dir() -> Path:
    """$BRIXCHECK_SCENARIO_DIR (a directory of scenario files), else the suite's own."""
    return Path(os.environ.get(SCENARIO_DIR_ENV) or SCENARIO_DIR)


def discover(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario file in the directory, by name; the first bad one raises."""
    return [load_scenario(p) for p in sorted(directory.glob("*.yaml"))]


def discover_all(directory: Path = SCENARIO_DIR) -> tuple[list[Scenario], dict[str, str]]:
    """The good scenarios, and file name -> problem for each bad one (none hides the others)."""
    good, bad = [], {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            good.append(load_scenario(path))
        except BrixcheckError as exc:
            bad[path.name] = str(exc)
    return good, bad
