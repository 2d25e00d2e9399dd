"""Carrying out one planned run against the target.

Every model pod's prefix cache is flushed first, so no strategy inherits another's warm cache.
Locally, Locust runs on this machine through the gateway, or through a vllm-router started in
front of the same model pods, while every pod's /metrics (and NVML, where present) is sampled
beside the records (docs/benchmarks.md, Telemetry). In the cluster, Locust runs as Jobs next to
the model (only the model's plain Service path is known there).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from brixcheck.bench.incluster import DEFAULT_IMAGE, LoadgenSpec
from brixcheck.bench.incluster_run import run_in_cluster
from brixcheck.bench.runner import (
    Progress,
    RunInterrupted,
    RunResult,
    records_dir,
    run_once,
    with_telemetry,
)
from brixcheck.bench.scenario import ROUTER_PREFIX, is_router
from brixcheck.bench.session import PlannedRun
from brixcheck.bench.telemetry import TelemetrySampler, telemetry_path
from brixcheck.model import ModelDeployment
from brixcheck.routers import vllm_router
from brixcheck.target import Target


@dataclass(frozen=True)
class RunContext:
    """What every run of a session shares: where it runs, where its files go, how it samples."""

    target: Target
    model: ModelDeployment
    run_id: str
    out: Path  # the session's report directory; each run's records go below it
    telemetry_interval_s: float = 1.0  # 0: no telemetry
    loadgen_image: str = DEFAULT_IMAGE
    loadgen_install: bool = True
    progress: Progress | None = None


def engine_urls(target: Target, model: ModelDeployment) -> dict[str, str]:
    """Every model pod with an address: pod name -> engine base URL."""
    return {pod.metadata.name: f"http://{pod.status.pod_ip}:8000" for pod in
            target.core.list_namespaced_pod(model.namespace, label_selector=model.selector).items
            if pod.status.pod_ip}


def reset_caches(target: Target, model: ModelDeployment) -> None:
    """Flush every model pod's prefix cache."""
    for url in engine_urls(target, model).values():
        httpx.post(f"{url}/reset_prefix_cache", timeout=5)


def run_in_pods(ctx: RunContext, planned: PlannedRun) -> RunResult:
    """The run as Locust Jobs next to the model, through the model's Service."""
    reset_caches(ctx.target, ctx.model)
    model = ctx.model
    spec = LoadgenSpec(planned.scenario, planned.strategy,
                       f"http://{model.name}.{model.namespace}.svc:8000", ctx.run_id,
                       model.namespace, f"bc-load-{ctx.run_id}-{planned.repeat}"[:52].rstrip("-"),
                       ctx.loadgen_image, ctx.loadgen_install)
    return run_in_cluster(ctx.target.api_client, spec, planned.repeat, ctx.out)


def run_here(ctx: RunContext, planned: PlannedRun, gateway_url: str) -> RunResult:
    """Locust on this machine through the gateway (or a router), telemetry sampled beside it."""
    target, model, scenario = ctx.target, ctx.model, planned.scenario
    strategy, repeat, level = planned.strategy, planned.repeat, planned.level
    # The gateway plugin sets `model` for header-less requests; the twin has no plugin.
    headers = {"model": model.name} if strategy == "baseline" and target.kind == "twin" else {}
    reset_caches(target, model)
    records = records_dir(scenario, strategy, repeat, ctx.out, level)
    with ExitStack() as stack:
        host = gateway_url
        if is_router(strategy):  # the router in front of the same pods, instead of the gateway
            router = stack.enter_context(vllm_router.running(
                list(engine_urls(target, model).values()),
                strategy.removeprefix(ROUTER_PREFIX), records.with_suffix(".router.log")))
            host, headers = router.url, {}
        if ctx.telemetry_interval_s <= 0:
            return run_once(scenario, strategy, repeat, host, ctx.out, headers, level,
                            ctx.progress)
        samples = telemetry_path(records)
        try:
            with TelemetrySampler(samples, lambda: engine_urls(target, model),
                                  ctx.telemetry_interval_s):
                result = run_once(scenario, strategy, repeat, host, ctx.out, headers, level,
                                  ctx.progress)
        except RunInterrupted as stop:
            stop.result = with_telemetry(stop.result, samples)
            raise
    return with_telemetry(result, samples)
