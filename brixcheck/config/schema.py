"""Run options as one strict model: where the cluster is, the twin, the stack, the benchmarks.

pytest's options and the `brixcheck` flags are generated from these fields (brixcheck.config.
flags), so a name, default or help text is written once, here. Unknown keys are errors
(`extra="forbid"`): a renamed option must not silently stop working. This module reads no
environment and touches no cluster.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from brixcheck.resources import HISTORY_NAME
from brixcheck.twin.cluster import DEFAULT_TWIN_NODES


class Options(BaseModel):
    """One group of options; `flag_prefix` starts each field's flag (`twin-` gives `--twin-nodes`).

    A field's `json_schema_extra` may name a `metavar` for its flag.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    flag_prefix: ClassVar[str] = ""


class TargetOptions(Options):
    """Which cluster a run checks."""

    kubeconfig: Path | None = Field(
        None, description="kubeconfig of the cluster (default: the first entry of $KUBECONFIG, "
                          "else the running twin's, K3s's, ~/.kube/config; a suite run starts "
                          "the twin when none is found)")
    port_forward: bool = Field(
        False, description="reach the AIBrix gateway through a port-forward to an Envoy pod "
                           "even when its LoadBalancer or ClusterIP address answers")


class TwinOptions(Options):
    """How the twin is started when a run uses it."""

    flag_prefix: ClassVar[str] = "twin-"

    nodes: str | None = Field(
        None, description="node profile in manifests/twin/nodes (default: the running twin's, "
                          f"else {DEFAULT_TWIN_NODES})")
    time_factor: float | None = Field(
        None, description="scales model load times, probe periods and back-offs together "
                          "(default 0.1 with the emulator, 1.0 with the real engine, whose "
                          "start-up takes real time)")
    engine: Literal["emulator", "vllm"] = Field(
        "emulator", description="what serves model pods: the emulator, or the real vLLM server "
                                "on CPU with a tiny model (`make twin-vllm`; docs/twin-vllm.md)")
    gateway_plugin: str = Field(
        "", description="run this AIBrix gateway-plugins executable instead of the emulator "
                        "(docs/gateway-plugin.md)", json_schema_extra={"metavar": "PATH"})

    @field_validator("time_factor", mode="before")
    @classmethod
    def _finite_above_zero(cls, value: Any) -> float | None:
        """A factor of 0 or less would never wait; infinity never ends."""
        if value is None:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a number") from None
        if not 0 < number < math.inf:
            raise ValueError(f"must be a finite number above 0, got {value}")
        return number


class RunOptions(Options):
    """What a suite run deploys and keeps."""

    keep: bool = Field(False, description="keep what the suite created in the cluster "
                                          "(for debugging)")
    model_ready_timeout: float | None = Field(
        None, gt=0, description="seconds to wait for the model pod to be Ready (default 600, "
                                "scaled by the twin's time factor)")
    model_manifest: str | None = Field(
        None, description="model Deployment (+ Service) the suite deploys and checks (default: "
                          "the suite's manifests/models/deepseek-r1-qwen-1b5.yaml)")


class StackOptions(Options):
    """Installing AIBrix from its own release files."""

    flag_prefix: ClassVar[str] = "aibrix-"

    install: bool = Field(False, description="install the AIBrix stack before the stack cases "
                                             "(idempotent; an install brixcheck did not make is "
                                             "left alone)")
    release: str | None = Field(
        None, description="AIBrix's release files: its release page URL or a directory "
                          "(default: $BRIXCHECK_AIBRIX_RELEASE, else ../shared/aibrix/v0.5.0 "
                          "beside the checkout, else the URL)",
        json_schema_extra={"metavar": "URL|DIR"})
    small: bool = Field(False, description="apply the K3s-small overrides "
                                           "(manifests/aibrix/k3s-small)")
    uninstall: bool = Field(False, description="at the end, remove what this run's "
                                               "--aibrix-install installed")


class BenchOptions(Options):
    """Benchmark runs: where load starts, telemetry, the results history."""

    history_db: str = Field(f"reports/{HISTORY_NAME}",
                            description="results history (SQLite path) that benchmark runs are "
                                        "stored in")
    telemetry_interval: float = Field(
        1.0, ge=0, description="seconds between scrapes of the model pods' /metrics (and NVML) "
                               "during a benchmark run; 0 turns telemetry off")
    load_where: Literal["local", "cluster"] | None = Field(
        None, description="where benchmark load starts: local (Locust here) or cluster (Locust "
                          "Jobs next to the target); default: each scenario's load.where")
    loadgen_image: str | None = Field(
        None, description="image of the in-cluster Locust pods (default: a public Python image "
                          "that pip-installs Locust at start)")
    loadgen_no_install: bool = Field(False, description="the --loadgen-image already holds "
                                                        "Locust: skip the pip install")


class BrixcheckConfig(Options):
    """Every run option, one group per concern; the flags of a group are its fields'."""

    target: TargetOptions = TargetOptions()
    twin: TwinOptions = TwinOptions()
    run: RunOptions = RunOptions()
    stack: StackOptions = StackOptions()
    bench: BenchOptions = BenchOptions()
