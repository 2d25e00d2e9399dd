"""Measure the engine emulator's streamed tokens/s on one core and its emit-time error.

Starts one emulator process (`brixcheck engine host`) pinned to CPU 0 with several engines on
loopback, and a lean asyncio client pinned to CPU 1 that keeps N streams open per engine
(`ignore_eos`, fixed output length, ground truth on). Each response's ground truth gives, per
token, the intended emit time (end of the engine step) and when the emulator wrote it; the emit
error is written - intended. Tokens/s counts tokens written inside the measurement window (after
a warm-up). The emulator's CPU time over the window is read from /proc to show it used one core.

Goal (issue "Foundation"): >= 10,000 streamed tokens/s in total, emit error p99 <= 2 ms.
Usage: python benchmarks/engine_throughput.py [--engines 4] [--streams 12] [--duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brixcheck.twin.ports import free_port


@functools.cache
def work_dir() -> Path:
    """Scratch directory of this run (made on first use, not at import)."""
    return Path(tempfile.mkdtemp(prefix="brixcheck-bench-"))


GT_MARK = b": brixcheck-ground-truth "
CONTROL = "127.0.0.1:7391"
MODEL = "deepseek-r1-qwen-1b5"


def start_host(engines: int, port: int, profile: str) -> subprocess.Popen[bytes]:
    spec = {
        f"e{i}": {"host": f"127.0.2.{i + 1}", "log": str(work_dir() / f"engine-{i}.log"), "args": [
            "--model", MODEL, "--port", str(port), "--emu-profile", profile,
            "--emu-load-time-factor", "0", "--max-model-len", "4096",
            "--max-num-seqs", "512"]}
        for i in range(engines)
    }
    spec_path = work_dir() / "spec.json"
    spec_path.write_text(json.dumps(spec))
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "brixcheck.cli", "engine", "host",
           "--control", CONTROL, "--spec", str(spec_path)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE)


async def wait_ready(hosts: list[str], port: int) -> None:
    for host in hosts:
        for _ in range(500):
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
                line = await reader.readline()
                writer.close()
                if b" 200 " in line:
                    break
            except OSError:
                pass
            await asyncio.sleep(0.02)
        else:
            raise SystemExit(f"engine {host}:{port} never became ready")


async def one_stream(host: str, port: int, max_tokens: int, prompt: str) -> dict[str, object]:
    body = json.dumps({"model": MODEL, "max_tokens": max_tokens, "ignore_eos": True,
                       "stream": True, "messages": [{"role": "user", "content": prompt}]})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
               f"content-type: application/json\r\nx-brixcheck-ground-truth: 1\r\n"
               f"content-length: {len(body)}\r\n\r\n{body}").encode()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    data = bytearray()
    while not data.endswith(b"0\r\n\r\n"):
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
    writer.close()
    start = data.rindex(GT_MARK) + len(GT_MARK)
    return json.loads(data[start:data.index(b"\n", start)])


async def stream_loop(host: str, port: int, max_tokens: int, until: float, worker: int,
                      results: list[dict[str, object]]) -> None:
    count = 0
    while time.monotonic() < until:
        count += 1
        results.append(await one_stream(host, port, max_tokens, f"user {worker} turn {count}"))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(results: list[dict[str, object]], t0: float, t1: float) -> dict[str, float]:
    errors, tokens = [], 0
    for truth in results:
        for intended, written in zip(truth["token_intended_s"], truth["token_written_s"],
                                     strict=True):
            if t0 <= written <= t1:
                tokens += 1
                errors.append((written - intended) * 1000)
    return {"tokens_per_s": tokens / (t1 - t0), "tokens": tokens,
            "emit_error_ms_p50": percentile(errors, 0.50),
            "emit_error_ms_p99": percentile(errors, 0.99),
            "emit_error_ms_max": max(errors)}


async def run(args: argparse.Namespace) -> dict[str, float]:
    port = free_port()
    proc = start_host(args.engines, port, args.profile)
    hosts = [f"127.0.2.{i + 1}" for i in range(args.engines)]
    try:
        await wait_ready(hosts, port)
        start = time.monotonic()
        until = start + args.warmup + args.duration
        results: list[dict[str, object]] = []
        cpu0 = None
        tasks = [asyncio.create_task(stream_loop(h, port, args.max_tokens, until, w, results))
                 for h in hosts for w in range(args.streams)]
        await asyncio.sleep(args.warmup)
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.sleep(args.duration)
        cpu1, t1 = cpu_seconds(proc.pid), time.monotonic()
        await asyncio.gather(*tasks)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    summary = summarize(results, t0, t1)
    summary["emulator_cpu_cores"] = (cpu1 - cpu0) / (t1 - t0)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=4)
    parser.add_argument("--streams", type=int, default=12, help="concurrent streams per engine")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--profile", default="h100-80gb")
    parser.add_argument("--out", default="reports/engine_throughput.json")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    summary = asyncio.run(run(args))
    record = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.node(),
              "cpus": os.cpu_count(), "load_avg": os.getloadavg(), "args": vars(args), **summary}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2))
    print(f"engines={args.engines} streams/engine={args.streams} profile={args.profile}")
    print(f"streamed tokens/s (one emulator process): {summary['tokens_per_s']:,.0f}")
    print(f"emulator CPU over the window: {summary['emulator_cpu_cores']:.2f} cores")
    print(f"emit error ms: p50 {summary['emit_error_ms_p50']:.3f}  "
          f"p99 {summary['emit_error_ms_p99']:.3f}  max {summary['emit_error_ms_max']:.3f}")
    goal = summary["tokens_per_s"] >= 10_000 and summary["emit_error_ms_p99"] <= 2.0
    print(f"goal (>= 10,000 tokens/s and p99 <= 2 ms): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
