"""Measure what the gateway-plugin emulator adds: TTFT through Envoy + plugin against straight to
the pod, at fixed streamed request rates, and the plugin's CPU.

Starts on loopback, with free ports: one engine emulator (`brixcheck engine host`), the plugin
(`python -m brixcheck.gateway_plugin --static-pods`, so no cluster is needed), and the twin's
Envoy configuration pointing ext_proc at it (request body buffered, response body STREAMED: every
SSE chunk passes the plugin). An open-loop client sends streamed chat requests (64 output tokens,
`routing-strategy: random`) at each rate, first straight to the engine, then through Envoy, and
records time to the first SSE event. The plugin's CPU time over each window comes from /proc.

Goals (issue 17): >= 200 req/s sustained; added TTFT p99 <= 5 ms at 50 req/s; <= 0.5 core at
100 req/s. Usage: python benchmarks/gateway_plugin_speed.py [--rates 50 100 200] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from brixcheck.gateway_plugin.loopback import LoopbackGateway

MODEL = "bench-model"
ENGINE_HOST = "127.0.2.1"
OUTPUT_TOKENS = 64


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def ttft_ms(host: str, port: int, routed: bool, n: int) -> float | None:
    body = json.dumps({"model": MODEL, "max_tokens": OUTPUT_TOKENS, "ignore_eos": True,
                       "stream": True, "messages": [{"role": "user", "content": f"q {n}"}]})
    extra = "routing-strategy: random\r\n" if routed else ""
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n{extra}"
               f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
               f"connection: close\r\n\r\n{body}").encode()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    first = None
    data = bytearray()
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        if first is None and b"data:" in chunk:
            first = (time.perf_counter() - started) * 1000
        data += chunk
    writer.close()
    return first if b" 200 " in data[:20] and b"[DONE]" in data else None


async def open_loop(rate: float, duration: float, host: str, port: int, routed: bool
                    ) -> tuple[list[float | None], float]:
    """Send rate x duration requests on schedule; return TTFTs (None: failed) and the wall time."""
    results: list[float | None] = []
    tasks = []

    async def one(index: int) -> None:
        try:
            results.append(await ttft_ms(host, port, routed, index))
        except OSError:
            results.append(None)

    start = time.monotonic()
    for index in range(int(rate * duration)):
        delay = start + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return results, time.monotonic() - start


def summarize(rate: float, via_all: list[float | None], direct_all: list[float | None],
              cores: float, wall: float) -> dict[str, float]:
    via = [v for v in via_all if v is not None]
    direct = [v for v in direct_all if v is not None]
    return {"offered_rps": rate, "sent_via_envoy": len(via_all), "ok_via_envoy": len(via),
            "ok_direct": len(direct), "achieved_rps": len(via) / wall,
            "ttft_direct_p50_ms": percentile(direct, 0.5),
            "ttft_direct_p99_ms": percentile(direct, 0.99),
            "ttft_envoy_p50_ms": percentile(via, 0.5), "ttft_envoy_p99_ms": percentile(via, 0.99),
            "added_p50_ms": percentile(via, 0.5) - percentile(direct, 0.5),
            "added_p99_ms": percentile(via, 0.99) - percentile(direct, 0.99),
            "plugin_cores": cores}


async def measure(rate: float, duration: float, envoy_port: int, engine_port: int,
                  plugin_pid: int) -> dict[str, float]:
    await open_loop(min(rate, 20), 1.0, "127.0.0.1", envoy_port, True)  # warm-up
    direct, _ = await open_loop(rate, duration, ENGINE_HOST, engine_port, False)
    cpu0 = cpu_seconds(plugin_pid)
    via, wall = await open_loop(rate, duration, "127.0.0.1", envoy_port, True)
    return summarize(rate, via, direct, (cpu_seconds(plugin_pid) - cpu0) / wall, wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 200],
                        help="offered streamed req/s, each phase (direct, then via Envoy)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--out", default="reports/gateway_plugin_speed.json")
    args = parser.parse_args()
    gateway = LoopbackGateway(Path(tempfile.mkdtemp(prefix="brixcheck-gw-bench-")), MODEL,
                              [ENGINE_HOST])
    rows = []
    gateway.start()
    try:
        for rate in args.rates:
            rows.append(asyncio.run(measure(rate, args.duration, gateway.ports.listener,
                                            gateway.engine_port, gateway.plugin.pid)))
    finally:
        gateway.stop()
    record = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": platform.node(), "cpus": os.cpu_count(), "args": vars(args),
              "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2))
    print(f"{'offered':>8} {'achieved':>9} {'ok/sent':>9} {'direct p50/p99':>16} "
          f"{'envoy p50/p99':>16} {'added p50/p99':>16} {'plugin cores':>12}")
    for r in rows:
        print(f"{r['offered_rps']:>8.0f} {r['achieved_rps']:>9.1f} "
              f"{r['ok_via_envoy']:>4}/{r['sent_via_envoy']:<4} "
              f"{r['ttft_direct_p50_ms']:>7.1f}/{r['ttft_direct_p99_ms']:<8.1f} "
              f"{r['ttft_envoy_p50_ms']:>7.1f}/{r['ttft_envoy_p99_ms']:<8.1f} "
              f"{r['added_p50_ms']:>7.1f}/{r['added_p99_ms']:<8.1f} {r['plugin_cores']:>12.2f}")
    print("TTFT in ms; achieved = completed requests via Envoy per second of that phase; "
          "plugin cores = the plugin's CPU during the Envoy phase")


if __name__ == "__main__":
    main()
