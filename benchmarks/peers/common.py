"""Shared pieces of the peer adapters: the workload, the per-request record, and running a tool
as a bounded, CPU-pinned subprocess whose process-tree CPU time is sampled from /proc."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from benchmarks.peers.paths import MODEL, offline_env, tokenizer_dir

TOOL_CPU = 1  # the emulator runs on CPU 0, the tool (and this harness) on CPU 1
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Load:
    """Open loop at `value` requests/s, or closed loop with `value` requests in flight."""

    kind: Literal["rate", "concurrency"]
    value: float

    def label(self) -> str:
        return f"{self.value:g}/s" if self.kind == "rate" else f"c={self.value:g}"


@dataclass(frozen=True)
class Workload:
    """What every tool is asked to send (streaming chat completions, fixed lengths)."""

    base_url: str
    load: Load
    num_requests: int
    prompt_tokens: int = 100
    output_tokens: int = 64
    model: str = MODEL
    timeout_s: float = 120.0

    @property
    def tokenizer(self) -> Path:
        return tokenizer_dir(self.model)

    @property
    def host_port(self) -> str:
        return urlparse(self.base_url).netloc


@dataclass
class PeerRecord:
    """One request as a tool reports it (the tool's own definitions, in ms)."""

    tool: str
    ok: bool
    ttft_ms: float | None = None
    itl_ms: float | None = None  # the tool's per-request inter-token figure (mean / TPOT)
    itl_gaps_ms: list[float] | None = None  # per-chunk gaps, where the tool exports them
    e2e_ms: float | None = None
    start_s: float | None = None  # request start as the tool stamps it, CLOCK_MONOTONIC s
    output_tokens: int | None = None
    error: str | None = None
    request_id: str | None = None  # the id the server gave the request, when known


def epoch_to_monotonic(epoch_s: float | None) -> float | None:
    """A time.time() stamp on this machine's CLOCK_MONOTONIC (both clocks tick together)."""
    return None if epoch_s is None else epoch_s - (time.time() - time.monotonic())


@dataclass
class ToolRun:
    """A finished tool run: its records plus what the harness measured around it."""

    tool: str
    argv: list[str]
    rc: int | None
    records: list[PeerRecord]
    started_s: float  # CLOCK_MONOTONIC, as the emulator's ground truth
    ended_s: float
    cpu_total_s: float  # whole process tree, start-up included (RUSAGE_CHILDREN delta)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)
    timed_out: bool = False
    output_tail: str = ""
    parse_error: str | None = None

    def cpu_between(self, t0: float, t1: float) -> float | None:
        """Process-tree CPU seconds spent in [t0, t1], from the /proc samples (rate x span)."""
        inside = [(t, c) for t, c in self.cpu_samples if t0 <= t <= t1]
        if len(inside) < 2:
            before = [s for s in self.cpu_samples if s[0] <= t0][-1:]
            after = [s for s in self.cpu_samples if s[0] >= t1][:1]
            inside = before + after
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return None
        (ta, ca), (tb, cb) = inside[0], inside[-1]
        return (cb - ca) / (tb - ta) * (t1 - t0)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["records"] = len(self.records)
        return data


def check_loopback(base_url: str) -> None:
    """Refuse any target outside 127.0.0.0/8."""
    host = urlparse(base_url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"peer runs target loopback only, not {host}")


def _session_cpu(sid: int) -> float:
    """utime+stime (+ reaped children's) of every live process in session `sid`."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6 of stat: session id
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


class CpuSampler(threading.Thread):
    """Samples the tool's process-tree CPU every `period` seconds."""

    def __init__(self, sid: int, period: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.sid, self.period = sid, period
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), _session_cpu(self.sid)))
            self.stop.wait(self.period)


def _pin_tool() -> None:
    os.sched_setaffinity(0, {TOOL_CPU})


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(tool: str, argv: list[str], work: Workload, out_dir: Path,
            parse: Callable[[Path], list[PeerRecord]], env: dict[str, str] | None = None,
            cwd: Path | None = None) -> ToolRun:
    """Run `argv` pinned to CPU 1 in its own session, bounded by `work.timeout_s`; parse."""
    check_loopback(work.base_url)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = out_dir / "tool.log"
    (out_dir / "argv.json").write_text(json.dumps(argv, indent=1))
    cpu0 = children_cpu()
    started = time.monotonic()
    with log.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd,
                                env=offline_env(env), preexec_fn=_pin_tool,
                                start_new_session=True, stdin=subprocess.DEVNULL)
        sampler = CpuSampler(proc.pid)
        sampler.start()
        timed_out = False
        try:
            rc: int | None = proc.wait(timeout=work.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGINT)
            try:
                rc = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rc = proc.wait()
        _reap_session(proc.pid)
        sampler.stop.set()
        sampler.join()
    run = ToolRun(tool, argv, rc, [], started, time.monotonic(), children_cpu() - cpu0,
                  sampler.samples, timed_out, _tail(log))
    try:
        run.records = parse(out_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        run.parse_error = f"{type(exc).__name__}: {exc}"
    return run


def _reap_session(sid: int) -> None:
    """Stop stragglers (worker processes a tool left behind) of the tool's own session."""
    try:
        os.killpg(sid, signal.SIGTERM)
    except ProcessLookupError:
        return
    time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGKILL)


def _tail(path: Path, chars: int = 3000) -> str:
    data = path.read_bytes()[-chars:]
    return data.decode("utf-8", "replace")


def fmt(value: float | None, spec: str = "+.1f") -> str:
    """A table cell: the number in `spec`, or an em dash when the tool gave none."""
    return "—" if value is None else format(value, spec)


def ms(value: float | None, scale: float = 1.0) -> float | None:
    """A number in ms (`scale` converts from the tool's unit), or None."""
    return None if value is None else float(value) * scale
