"""The vllm-router half of the shoot-out without the twin: every vllm-router policy in front of
three emulated engines on loopback (`brixcheck engine run`, free ports), the shoot-out's two
scenarios, repeats interleaved, prefix caches reset and engine telemetry sampled per run, then
the report (first screen: the strategy table) and the terminal table. Prints the wall time.

Usage: python -m benchmarks.router_shootout_loopback [OUT_DIR]   (default reports/router-loopback)
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from brixcheck.bench.reporting import report_scenario, run_info
from brixcheck.bench.runner import RunResult, records_dir, run_once
from brixcheck.bench.scenario import ROUTER_PREFIX, Scenario, discover_all, shootout_dir
from brixcheck.bench.session import plan
from brixcheck.bench.telemetry import TelemetrySampler, telemetry_path
from brixcheck.bench.terminal import leaderboard_table
from brixcheck.routers import vllm_router

PODS = 3


def _engines(stack: ExitStack, logs: Path, model: str) -> dict[str, str]:
    """Three emulated engines serving `model`, stopped (by PID) when the stack closes."""
    urls = {}
    for n in range(PODS):
        port = vllm_router.free_port()
        proc = subprocess.Popen([sys.executable, "-m", "brixcheck.cli", "engine", "run", "--log",
                                 str(logs / f"engine-{n}.log"), "--model", "m",
                                 "--served-model-name", model, "--host", "127.0.0.1", "--port",
                                 str(port), "--max-model-len", "8192",
                                 "--gpu-memory-utilization", "0.7", "--emu-load-time-s", "0",
                                 "--enable-prefix-caching"])
        stack.callback(proc.wait, 10)
        stack.callback(proc.terminate)
        urls[f"engine-{n}"] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    for url in urls.values():
        while not _healthy(url):
            if time.monotonic() > deadline:
                raise SystemExit(f"engine {url} did not answer /health in 60 s")
            time.sleep(0.2)  # poll interval of a bounded readiness wait
    return urls


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _run(scenario: Scenario, strategy: str, repeat: int, engines: dict[str, str],
         out: Path) -> RunResult:
    for url in engines.values():
        httpx.post(f"{url}/reset_prefix_cache", timeout=5)
    records = records_dir(scenario, strategy, repeat, out)
    samples = telemetry_path(records)
    with vllm_router.running(list(engines.values()), strategy.removeprefix(ROUTER_PREFIX),
                             records.with_suffix(".router.log")) as router, \
            TelemetrySampler(samples, lambda: engines, 1.0, gpu=False):
        result = run_once(scenario, strategy, repeat, router.url, out, {}, None, print)
    return dataclasses.replace(result, telemetry=samples)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("reports/router-loopback")
    policies = [f"{ROUTER_PREFIX}{p}" for p in vllm_router.POLICIES]
    started = time.monotonic()
    scenarios = [s.model_copy(update={"strategies": policies})
                 for s in discover_all(shootout_dir())[0]]
    with ExitStack() as stack:
        (out / "logs").mkdir(parents=True, exist_ok=True)
        engines = _engines(stack, out / "logs", scenarios[0].workload.model)
        for scenario in scenarios:
            runs = [_run(scenario, p.strategy, p.repeat, engines, out) for p in plan([scenario])]
            stamp = {"target": "loopback engines (brixcheck engine emulator, 3)",
                     "engine": "brixcheck engine emulator (emulated GPU)",
                     "vllmRouter": f"vllm-router {vllm_router.installed_version()} (PyPI)",
                     "model": scenario.workload.model, "scenario": scenario.id}
            paths = report_scenario(scenario, runs, run_info("loopback", scenario, stamp), out,
                                    None)
            board = json.loads(paths.json.read_text())["leaderboard"]
            print("\n".join(leaderboard_table(scenario.id, board, paths.html)))
    print(f"wall time {time.monotonic() - started:.0f} s for {len(scenarios)} scenarios x "
          f"{len(policies)} policies x {scenarios[0].repeats} repeats")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
