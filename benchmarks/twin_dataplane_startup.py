"""Measure start-up and stop times of the twin's data-plane programs on this machine.

For each program, N runs of: spawn -> ready (Envoy: admin /ready answers LIVE; Redis: PING; the
metadata service: /healthz and /readyz answer 200), then SIGTERM -> exit. Also the time from an
atomic rewrite of the model endpoint files to Envoy's admin /clusters showing the new endpoint.
Every port is a free loopback port; every process is stopped by PID. Timing of the spawn-to-ready
wait comes from ``ManagedProcess.wait_ready`` (20 ms polls, so figures are +0-20 ms).

Usage: python benchmarks/twin_dataplane_startup.py [--runs 5] [--skip-metadata]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from brixcheck.twin.envoy import EnvoyProcess, envoy_version, find_envoy
from brixcheck.twin.envoy_xds import Ports
from brixcheck.twin.ports import free_port
from brixcheck.twin.services import MetadataService, RedisServer

Run = Callable[[Path], tuple[float, float]]


def timed_stop(stop: Callable[[], object]) -> float:
    started = time.monotonic()
    stop()
    return time.monotonic() - started


def run_envoy(work: Path) -> tuple[float, float]:
    envoy = EnvoyProcess(work, Ports(free_port(), free_port(), free_port(), free_port()))
    try:
        ready = envoy.start()
    finally:
        stop = timed_stop(envoy.stop)
    return ready, stop


def run_redis(work: Path) -> tuple[float, float]:
    redis = RedisServer(work, free_port())
    try:
        ready = redis.start()
    finally:
        stop = timed_stop(redis.stop)
    return ready, stop


def run_metadata(work: Path) -> tuple[float, float]:
    with RedisServer(work / "redis", free_port()) as redis:
        redis.start()
        service = MetadataService(work / "metadata", redis.port, free_port())
        try:
            ready = service.start()
        finally:
            stop = timed_stop(service.stop)
    return ready, stop


def endpoint_update_latency(work: Path, runs: int) -> list[float]:
    latencies = []
    with EnvoyProcess(work, Ports(free_port(), free_port(), free_port(), free_port())) as envoy:
        envoy.start({"m": [("127.0.9.1", 8000)]})
        for i in range(runs):
            target = ("127.0.9.2", 8000 + i)
            started = time.monotonic()
            envoy.update_endpoints({"m": [target]})
            while envoy.cluster_endpoints("model-m") != {target}:
                time.sleep(0.001)
            latencies.append(time.monotonic() - started)
    return latencies


def describe(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return (f"{label:<34} median {statistics.median(ms):7.1f} ms   min {ms[0]:7.1f}   "
            f"max {ms[-1]:7.1f}   (n={len(ms)}, first {values[0] * 1000:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-metadata", action="store_true")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, "
          f"{os.cpu_count()} CPUs, envoy {envoy_version(find_envoy())}")
    runs: dict[str, Run] = {"envoy": run_envoy, "redis": run_redis}
    if not args.skip_metadata:
        runs["metadata service"] = run_metadata
    with tempfile.TemporaryDirectory(prefix="brixcheck-dp-") as tmp:
        for name, run in runs.items():
            results = [run(Path(tmp) / f"{name}-{i}") for i in range(args.runs)]
            print(describe(f"{name}: spawn -> ready", [r[0] for r in results]))
            print(describe(f"{name}: SIGTERM -> exit", [r[1] for r in results]))
        print(describe("envoy: endpoint file -> /clusters",
                       endpoint_update_latency(Path(tmp) / "update", args.runs * 4)))


if __name__ == "__main__":
    main()
