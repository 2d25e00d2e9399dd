"""Entry points of `brixcheck engine ...`: run one engine, host many, or show a demo."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import uvloop

from brixcheck.engine.args import ArgsError, parse_engine_args
from brixcheck.engine.host import EngineHost, HostError
from brixcheck.engine.logs import EngineLog
from brixcheck.engine.server import Engine
from brixcheck.errors import BrixcheckError


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_one(argv: list[str], log_path: Path | None) -> int:
    args = parse_engine_args(argv)
    engine = Engine(args, log=EngineLog(log_path))
    try:
        await engine.start()
    except OSError as exc:
        raise BrixcheckError(f"cannot listen on {engine.address}: {exc.strerror}",
                             "stop what holds the port or pass another --port") from None
    gc.freeze()  # start-up objects never die; keep them out of every later collection
    stop = _stop_event()
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([stopping, engine.exited], return_when=asyncio.FIRST_COMPLETED)
    await engine.stop()
    return engine.exited.result()


def run_engine(argv: list[str], log_path: Path | None = None) -> int:
    """Serve one engine until SIGTERM/SIGINT or until it exits; return its exit code."""
    try:
        return uvloop.run(_run_one(argv, log_path))
    except ArgsError as exc:
        raise BrixcheckError(str(exc), "fix the engine arguments (vLLM's flags)") from None


def _control_address(control: str) -> tuple[str, int]:
    """HOST:PORT of --control, or one sentence on what is wrong with it."""
    address, _, port = control.rpartition(":")
    if not address or not port.isdigit() or not 0 <= int(port) < 65536:
        raise BrixcheckError(f"--control {control} is not HOST:PORT",
                             "pass e.g. --control 127.0.0.1:7070")
    return address, int(port)


def _read_spec(spec: Path) -> dict[str, Any]:
    try:
        items = json.loads(spec.read_text())
    except OSError as exc:
        raise BrixcheckError(f"engine spec {spec} cannot be read ({exc.strerror})",
                             "check the --spec path") from None
    except ValueError as exc:
        raise BrixcheckError(f"engine spec {spec} is not JSON ({exc})",
                             'write {"name": {"args": [...], "host": "127.0.1.1"}}') from None
    if not isinstance(items, dict) or not all(isinstance(v, dict) and isinstance(
            v.get("args", []), list) for v in items.values()):
        raise BrixcheckError(f"engine spec {spec} is not an object of engines",
                             'write {"name": {"args": [...], "host": "127.0.1.1"}}')
    return items


async def _host(control: str, spec: Path | None) -> int:
    host = EngineHost()
    address, port = _control_address(control)
    items = _read_spec(spec) if spec is not None else {}
    try:
        await host.serve_control(address, port)
    except OSError as exc:
        raise BrixcheckError(f"cannot listen on {control}: {exc.strerror}",
                             "pick a free --control address") from None
    for name, item in items.items():
        log = Path(item["log"]) if item.get("log") else None
        await host.add(name, item.get("args", []), item.get("host"), log)
    print(f"engine host control on http://{control}", flush=True)
    gc.freeze()  # start-up objects never die; keep them out of every later collection
    await _stop_event().wait()
    await host.stop_all()
    return 0


def run_host(control: str, spec: Path | None) -> int:
    """Serve a control API (and the engines of `spec`) until SIGTERM/SIGINT."""
    try:
        return uvloop.run(_host(control, spec))
    except (HostError, KeyError, ValueError) as exc:
        raise BrixcheckError(f"engine spec {spec} is not valid: {exc}",
                             'write {"name": {"args": [...], "host": "127.0.1.1"}}') from None


async def _demo() -> int:
    host = EngineHost()
    common = ["--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--served-model-name",
              "deepseek-r1-qwen-1b5", "--gpu-memory-utilization", "0.7", "--max-model-len",
              "4096", "--emu-load-time-factor", "0.01", "--enable-prompt-tokens-details"]
    logs = Path("reports/demo")
    logs.mkdir(parents=True, exist_ok=True)
    for index in (1, 2):
        await host.add(f"pod-{index}", [*common, "--port", "18000"], f"127.0.1.{index}",
                       logs / f"pod-{index}.log")
    print(f"engine logs: {logs}/pod-1.log, {logs}/pod-2.log")
    async with httpx.AsyncClient(timeout=30) as client:
        await _wait_ready(client, ["127.0.1.1:18000", "127.0.1.2:18000"])
        body = {"model": "deepseek-r1-qwen-1b5", "max_tokens": 8, "stream": True,
                "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "Hi"}]}
        print("$ POST http://127.0.1.1:18000/v1/chat/completions (stream)")
        async with client.stream("POST", "http://127.0.1.1:18000/v1/chat/completions",
                                 json=body) as resp:
            async for line in resp.aiter_lines():
                if line:
                    print(line)
        metrics = (await client.get("http://127.0.1.1:18000/metrics")).text
        print("$ GET http://127.0.1.1:18000/metrics (excerpt)")
        for line in metrics.splitlines():
            if line.startswith(("vllm:num_requests", "vllm:kv_cache", "vllm:prefix_cache",
                                "vllm:generation_tokens_total", "vllm:prompt_tokens_total")):
                print(line)
    await host.stop_all()
    return 0


async def _wait_ready(client: httpx.AsyncClient, addresses: list[str]) -> None:
    for address in addresses:
        for _ in range(200):
            if (await client.get(f"http://{address}/health")).status_code == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise BrixcheckError(f"engine at {address} did not become ready in 10 s",
                                 "run with a smaller --emu-load-time-factor")


def run_demo() -> int:
    """Start two engines on loopback, stream one chat completion and show /metrics."""
    try:
        return uvloop.run(_demo())
    except HostError as exc:
        raise BrixcheckError(str(exc), "free the loopback ports 127.0.1.1-2:18000") from None


def main_engine(command: str, argv: list[str], log: str | None, control: str,
                spec: str | None) -> int:
    """Dispatch `brixcheck engine COMMAND`."""
    if command == "run":
        return run_engine(argv, Path(log) if log else None)
    if command == "host":
        return run_host(control, Path(spec) if spec else None)
    if command == "demo":
        return run_demo()
    print(f"unknown engine command {command!r}", file=sys.stderr)
    return 2
