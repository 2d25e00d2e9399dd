"""Peer load generators side by side against the emulator's ground truth.

For each tool and load level: start a fresh emulated engine (`truth_engine`, h100-80gb profile,
pinned to CPU 0) that records every request's true TTFT and token write times; run the tool
(pinned to CPU 1) for a bounded number of streamed chat requests with fixed prompt/output
lengths; parse the tool's own per-request export; compare its p50/p99 TTFT and ITL with the truth
of the very same requests. A tool stops climbing at the first level where its p99 TTFT error
exceeds 5 ms or the server saw less than 90 % of the target rate.

Usage: python -m benchmarks.peers.compare [--tools guidellm,aiperf,...] [--rates 5,10,...]
Writes reports/peers.json and reports/peers.md.

Hook for brixcheck's own generator: `register_runner("brixcheck", fn)` with
`fn(work: Workload, out_dir: Path) -> ToolRun`, or, for records gathered elsewhere,
`row_for_records("brixcheck", load, records, truth, tool_cpu_s)` -> Row.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.peers import (
    aiperf_adapter,
    brixcheck_adapter,
    guidellm_adapter,
    inference_perf_adapter,
    vllm_bench_adapter,
)
from benchmarks.peers.capacity import capacities, capacity_table
from benchmarks.peers.common import CLK_TCK, Load, PeerRecord, ToolRun, Workload, fmt
from benchmarks.peers.paths import CACHE, MODEL, REPO, REPORTS
from benchmarks.peers.truth import Truth, TruthRequest, load_truth, pair, percentile
from brixcheck.twin.ports import free_port

ENGINE_HOST = "127.0.3.1"
EMULATOR_CPU = 0
MAX_TTFT_P99_ERROR_MS = 5.0
MIN_RATE_FRACTION = 0.9

Runner = Callable[[Workload, Path], ToolRun]
RUNNERS: dict[str, Runner] = {
    "brixcheck": brixcheck_adapter.execute_load,
    "guidellm": guidellm_adapter.execute_load,
    "aiperf": aiperf_adapter.execute_load,
    "inference-perf": inference_perf_adapter.execute_load,
    "vllm": vllm_bench_adapter.execute_load,
}
NOTES = {
    "inference-perf": "sends /v1/completions (its synthetic data has no chat payloads)",
    "guidellm": "ITL = per-request mean only (no per-chunk export)",
}


def run(tool: str, base_url: str, model: str, load: Load, num_requests: int,
        prompt_tokens: int, output_tokens: int, out_dir: Path) -> list[PeerRecord]:
    """Run one tool (any registered name) once against an already-running server."""
    work = Workload(base_url, load, num_requests, prompt_tokens, output_tokens, model)
    return RUNNERS[tool](work, out_dir).records


def register_runner(name: str, runner: Runner) -> None:
    """Add a generator (e.g. "brixcheck") to the comparison as another row."""
    RUNNERS[name] = runner


@dataclass
class Row:
    """One tool at one load level."""

    tool: str
    level: str
    target: float
    kind: str
    requests_truth: int = 0
    requests_ok: int = 0
    requests_failed: int = 0
    achieved_rps: float | None = None
    sse_events_per_s: float | None = None
    tool_cpu_cores: float | None = None
    tool_cpu_s_per_1k_events: float | None = None
    tool_cpu_total_s: float | None = None
    ttft_err_p50_ms: float | None = None
    ttft_err_p99_ms: float | None = None
    itl_err_p50_ms: float | None = None
    itl_err_p99_ms: float | None = None
    gap_err_p50_ms: float | None = None
    gap_err_p99_ms: float | None = None
    truth: dict[str, float | None] = field(default_factory=dict)
    reported: dict[str, float | None] = field(default_factory=dict)
    paired_ttft_err_p50_ms: float | None = None
    paired_ttft_err_p99_ms: float | None = None
    send_lag_p50_ms: float | None = None
    send_lag_p99_ms: float | None = None
    pairing: str = ""
    warmup_excluded: int = 0
    other_cpu_cores: float | None = None
    emulator_cpu_cores: float | None = None
    emulator_emit_lag_p99_ms: float | None = None
    background_before_cores: float | None = None
    repeats_ttft_err_p99_ms: list[float | None] = field(default_factory=list)
    passed: bool = False
    verdict: str = ""
    note: str = ""


def _pcts(values: list[float]) -> tuple[float | None, float | None]:
    return percentile(values, 50), percentile(values, 99)


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _kept(records: list[PeerRecord], truth: Truth,
          warmup_s: float) -> tuple[list[PeerRecord], Truth, list[tuple[PeerRecord, TruthRequest]]]:
    """Drop the warm-up (requests that reached the server in its first `warmup_s`)."""
    if not truth.count:
        return [r for r in records if r.ok], truth, []
    cut = truth.first_arrival_s + warmup_s
    pairs = [(r, t) for r, t in pair(records, truth) if t.arrival_s >= cut]
    if pairs:
        return [r for r, _ in pairs], truth.after(cut), pairs
    ok = [r for r in records if r.ok]
    starts = [r.start_s for r in ok if r.start_s is not None]
    tool_cut = min(starts) + warmup_s if starts else float("-inf")
    return [r for r in ok if (r.start_s or tool_cut) >= tool_cut], truth.after(cut), []


def row_for_records(tool: str, load: Load, records: list[PeerRecord], truth: Truth,
                    tool_cpu_s: float | None = None, warmup_s: float = 0.0) -> Row:
    """Compare one tool's per-request records with the truth of the same run (the hook).

    `records` are the tool's own per-request figures (PeerRecord, ms; `start_s` on
    CLOCK_MONOTONIC and `request_id` as the server saw it enable per-request pairing);
    `truth` comes from `load_truth(run_dir / "truth.jsonl")`; `tool_cpu_s` is the tool's CPU
    time over the truth window. Percentile errors use the requests after the warm-up.
    """
    ok, kept_truth, pairs = _kept(records, truth, warmup_s)
    row = Row(tool, load.label(), load.value, load.kind, truth.count,
              sum(r.ok for r in records), sum(not r.ok for r in records),
              truth.arrival_rate(), truth.events_per_s() if truth.count else None)
    row.warmup_excluded = truth.count - kept_truth.count
    t_ttft, t_itl = _pcts(kept_truth.ttft_ms), _pcts(kept_truth.itl_ms)
    t_gap = _pcts(kept_truth.gaps_ms)
    r_ttft = _pcts([r.ttft_ms for r in ok if r.ttft_ms is not None])
    r_itl = _pcts([r.itl_ms for r in ok if r.itl_ms is not None])
    r_gap = _pcts([g for r in ok for g in (r.itl_gaps_ms or [])])
    row.ttft_err_p50_ms, row.ttft_err_p99_ms = _diff(r_ttft[0], t_ttft[0]), _diff(r_ttft[1],
                                                                                   t_ttft[1])
    row.itl_err_p50_ms, row.itl_err_p99_ms = _diff(r_itl[0], t_itl[0]), _diff(r_itl[1], t_itl[1])
    row.gap_err_p50_ms, row.gap_err_p99_ms = _diff(r_gap[0], t_gap[0]), _diff(r_gap[1], t_gap[1])
    row.truth = {"ttft_p50": t_ttft[0], "ttft_p99": t_ttft[1], "itl_p50": t_itl[0],
                 "itl_p99": t_itl[1], "gap_p50": t_gap[0], "gap_p99": t_gap[1]}
    row.reported = {"ttft_p50": r_ttft[0], "ttft_p99": r_ttft[1], "itl_p50": r_itl[0],
                    "itl_p99": r_itl[1], "gap_p50": r_gap[0], "gap_p99": r_gap[1]}
    _paired(row, pairs)
    row.emulator_emit_lag_p99_ms = percentile(truth.emit_lag_ms, 99)
    if tool_cpu_s is not None and truth.sse_events:
        row.tool_cpu_cores = tool_cpu_s / truth.window_s
        row.tool_cpu_s_per_1k_events = tool_cpu_s / truth.sse_events * 1000
    row.note = NOTES.get(tool, "")
    judge(row)
    return row


def _paired(row: Row, pairs: list[tuple[PeerRecord, TruthRequest]]) -> None:
    """Per-request errors: tool TTFT - true TTFT, and send lag = server arrival - tool start."""
    if not pairs:
        row.pairing = "none"
        return
    row.pairing = "id" if all(r.request_id == t.request_id for r, t in pairs) else "order"
    errors = [r.ttft_ms - t.ttft_ms for r, t in pairs if r.ttft_ms is not None]
    lags = [(t.arrival_s - r.start_s) * 1e3 for r, t in pairs if r.start_s is not None]
    row.paired_ttft_err_p50_ms, row.paired_ttft_err_p99_ms = _pcts(errors)
    row.send_lag_p50_ms, row.send_lag_p99_ms = _pcts(lags)


def judge(row: Row) -> None:
    """Apply the error bound: p99 TTFT error <= 5 ms and >= 90 % of the target rate."""
    reasons = []
    if row.requests_ok == 0 or row.ttft_err_p99_ms is None:
        reasons.append("no usable records")
    elif row.ttft_err_p99_ms > MAX_TTFT_P99_ERROR_MS:
        reasons.append(f"p99 TTFT error {row.ttft_err_p99_ms:+.1f} ms > 5 ms")
    if row.kind == "rate" and (row.achieved_rps or 0) < MIN_RATE_FRACTION * row.target:
        reasons.append(f"achieved {row.achieved_rps or 0:.1f} < 90 % of {row.target:g}/s")
    row.passed = not reasons
    row.verdict = "ok" if row.passed else "; ".join(reasons)


# ---------------------------------------------------------------- emulator and machine CPU
def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:3]) + sum(fields[5:8])) / CLK_TCK  # user nice system irq softirq steal


class Emulator:
    """A fresh truth-recording engine on CPU 0 for one run."""

    def __init__(self, run_dir: Path, profile: str, slowdown: float) -> None:
        self.run_dir = run_dir
        self.truth_path = run_dir / "truth.jsonl"
        self.port = free_port(ENGINE_HOST)
        self.base_url = f"http://{ENGINE_HOST}:{self.port}"
        self.argv = ["taskset", "-c", str(EMULATOR_CPU), sys.executable, "-m",
                     "benchmarks.peers.truth_engine", "--truth", str(self.truth_path),
                     "--log", str(run_dir / "engine.log"), "--", "--model", MODEL,
                     "--host", ENGINE_HOST, "--port", str(self.port), "--emu-profile", profile,
                     "--emu-slowdown", str(slowdown), "--emu-load-time-factor", "0",
                     "--max-model-len", "4096", "--max-num-seqs", "1024"]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Emulator:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=(self.run_dir / "engine.err").open("wb"))
        for _ in range(300):
            if self._healthy():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"emulator did not start: {(self.run_dir / 'engine.err').read_text()}")

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection(ENGINE_HOST, self.port, timeout=1)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid) if self.proc else 0.0

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_quiet(threshold: float, max_wait_s: float, sample_s: float = 2.0) -> float:
    """Wait (up to `max_wait_s`) until the machine's other load is at most `threshold` cores;
    return the last measured load. The harness itself is idle while it measures."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy0 = machine_busy()
        time.sleep(sample_s)
        load = (machine_busy() - busy0) / sample_s
        if load <= threshold or time.monotonic() >= deadline:
            return load
        time.sleep(3)


# ---------------------------------------------------------------- one level, one tool
def num_requests(load: Load, duration_s: float, min_requests: int, max_requests: int) -> int:
    per_s = load.value if load.kind == "rate" else load.value * 3  # ~3 req/s per stream
    return max(min_requests, min(max_requests, round(per_s * duration_s)))


def run_level(tool: str, load: Load, args: argparse.Namespace, run_root: Path) -> Row:
    """`--repeat` runs of one level; the row with the median p99 TTFT error stands for it."""
    rows = []
    for i in range(args.repeat):
        label = load.label().replace("/", "per") + (f"-{i + 1}" if args.repeat > 1 else "")
        background = wait_quiet(args.quiet_cores, args.quiet_wait)
        row = run_once(tool, load, args, run_root / tool / label)
        row.background_before_cores = background
        (run_root / tool / label / "row.json").write_text(json.dumps(asdict(row), indent=1))
        rows.append(row)
    rows.sort(key=lambda r: float("inf") if r.ttft_err_p99_ms is None else r.ttft_err_p99_ms)
    chosen = rows[(len(rows) - 1) // 2]
    chosen.repeats_ttft_err_p99_ms = [r.ttft_err_p99_ms for r in rows]
    return chosen


def run_once(tool: str, load: Load, args: argparse.Namespace, run_dir: Path) -> Row:
    """Fresh emulator, one tool run, truth vs records."""
    with Emulator(run_dir, args.profile, args.slowdown) as emu:
        work = Workload(emu.base_url, load,
                        num_requests(load, args.duration, args.min_requests, args.max_requests),
                        args.prompt_tokens, args.output_tokens, MODEL,
                        timeout_s=args.duration * 2 + 120)
        busy0, emu0 = machine_busy(), emu.cpu()
        run = RUNNERS[tool](work, run_dir)
        busy1, emu1 = machine_busy(), emu.cpu()
    truth = load_truth(emu.truth_path)
    window_cpu = run.cpu_between(truth.first_arrival_s, truth.last_finish_s) \
        if truth.count else None
    row = row_for_records(tool, load, run.records, truth, window_cpu, args.warmup)
    row.tool_cpu_total_s = run.cpu_total_s
    span = run.ended_s - run.started_s
    row.other_cpu_cores = max(0.0, (busy1 - busy0) - run.cpu_total_s - (emu1 - emu0)) / span
    row.emulator_cpu_cores = (emu1 - emu0) / truth.window_s if truth.count else None
    problems = [p for p in (run.parse_error, "timed out" if run.timed_out else None,
                            None if run.rc in (0, None) else f"exit {run.rc}") if p]
    if problems:
        row.verdict = "; ".join([*problems, row.verdict])
        row.passed = row.passed and not run.parse_error
    (run_dir / "run.json").write_text(json.dumps(run.to_json(), indent=1, default=str))
    (run_dir / "row.json").write_text(json.dumps(asdict(row), indent=1))
    return row


# ---------------------------------------------------------------- report
HEADER = ("| tool | level | achieved req/s | SSE events/s | tool CPU (cores) | "
          "CPU s / 1k events | TTFT err p50 / p99 (ms) | ITL err p50 / p99 (ms) | "
          "gap err p50 / p99 (ms) | paired TTFT err p50 / p99 (ms) | send lag p50 / p99 (ms) | "
          "ok / failed | emulator CPU (cores) / emit lag p99 (ms) | other CPU (cores) | "
          "verdict |")


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|" + "---|" * 15]
    for r in rows:
        lines.append(
            f"| {r.tool} | {r.level} | {fmt(r.achieved_rps, '.1f')} | "
            f"{fmt(r.sse_events_per_s, ',.0f')} | {fmt(r.tool_cpu_cores, '.2f')} | "
            f"{fmt(r.tool_cpu_s_per_1k_events, '.2f')} | "
            f"{fmt(r.ttft_err_p50_ms)} / {fmt(r.ttft_err_p99_ms)} | "
            f"{fmt(r.itl_err_p50_ms, '+.2f')} / {fmt(r.itl_err_p99_ms, '+.2f')} | "
            f"{fmt(r.gap_err_p50_ms, '+.2f')} / {fmt(r.gap_err_p99_ms, '+.2f')} | "
            f"{fmt(r.paired_ttft_err_p50_ms)} / {fmt(r.paired_ttft_err_p99_ms)} | "
            f"{fmt(r.send_lag_p50_ms, '.1f')} / {fmt(r.send_lag_p99_ms, '.1f')} | "
            f"{r.requests_ok} / {r.requests_failed} | {fmt(r.emulator_cpu_cores, '.2f')} / "
            f"{fmt(r.emulator_emit_lag_p99_ms, '.1f')} | "
            f"{fmt(r.other_cpu_cores, '.2f')} | "
            f"{r.verdict} |")
    return "\n".join(lines)


def highest_passing(rows: list[Row]) -> dict[str, str]:
    """Per tool: the highest level reached with every level up to it within the bound."""
    best: dict[str, str] = {}
    failed: set[str] = set()
    for r in rows:
        if r.tool in failed:
            continue
        if r.passed:
            best[r.tool] = r.level
        else:
            failed.add(r.tool)
            best.setdefault(r.tool, "none")
    return best


def environment(args: argparse.Namespace) -> dict[str, object]:
    versions = {}
    for path in sorted(CACHE.glob("*/install.json")):
        data = json.loads(path.read_text())
        versions[path.parent.name] = {"ok": data["ok"], "versions": data.get("versions")}
    return {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.node(),
            "kernel": platform.release(), "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(), "load_avg_at_end": os.getloadavg(),
            "args": vars(args), "tools": versions}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def ordered(rows: list[Row]) -> list[Row]:
    """Rows tool by tool (in RUNNERS' order), levels rising: how every table shows them."""
    order = {name: i for i, name in enumerate(RUNNERS)}
    return sorted(rows, key=lambda r: (order.get(r.tool, len(order)), r.target))


def write_reports(rows: list[Row], args: argparse.Namespace) -> tuple[Path, Path]:
    rows = ordered(rows)
    env = environment(args)
    REPORTS.mkdir(parents=True, exist_ok=True)
    out_json = REPORTS / "peers.json"
    caps = [{**asdict(c), "per_core": c.per_core} for c in capacities(rows)]
    out_json.write_text(json.dumps({"environment": env, "highest_passing": highest_passing(rows),
                                    "capacity": caps, "rows": [asdict(r) for r in rows]},
                                   indent=1, default=str) + "\n")
    out_md = REPORTS / "peers.md"
    source = (f"Rebuilt from run folders {', '.join(p.name for p in args.rebuild)} "
              if getattr(args, "rebuild", None) else "")
    out_md.write_text(
        f"# Peer load generators vs the emulator's ground truth\n\n"
        f"{source}{env['when']} on `{env['machine']}` ({env['cpus']} CPUs, {env['cpu_model']}); "
        f"emulator profile `{args.profile}` on CPU 0, tool on CPU 1; streamed chat, "
        f"{args.prompt_tokens}-token prompts, {args.output_tokens} output tokens; "
        f"~{args.duration:g} s per level. Error = tool's percentile - truth's percentile "
        f"(same requests). Method and limits: docs/peers-harness.md.\n\n{table(rows)}\n\n"
        "Highest level with every level up to it within the bound (p99 TTFT error <= 5 ms, "
        ">= 90 % of the target rate), per load-generator core:\n\n"
        f"{capacity_table(rows)}\n")
    return out_json, out_md


def rebuild(run_roots: list[Path]) -> list[Row]:
    """Rows again from finished run folders (row.json of every run, emit lag from its truth),
    one row per tool and level: the repeat with the median p99 TTFT error. A tool found in a
    later folder replaces that tool's rows from earlier ones."""
    latest = {p.name: root for root in run_roots for p in root.iterdir() if p.is_dir()}
    groups: dict[tuple[str, str], list[Row]] = {}
    paths = [p for tool, root in latest.items() for p in sorted((root / tool).glob("*/row.json"))]
    for path in paths:
        data = json.loads(path.read_text())
        row = Row(**{k: v for k, v in data.items() if k in Row.__dataclass_fields__})
        truth = load_truth(path.with_name("truth.jsonl"))
        row.emulator_emit_lag_p99_ms = percentile(truth.emit_lag_ms, 99)
        groups.setdefault((row.tool, row.level), []).append(row)
    rows = []
    for group in groups.values():
        group.sort(key=lambda r: float("inf") if r.ttft_err_p99_ms is None else r.ttft_err_p99_ms)
        chosen = group[(len(group) - 1) // 2]
        chosen.repeats_ttft_err_p99_ms = [r.ttft_err_p99_ms for r in group]
        rows.append(chosen)
    return ordered(rows)


def schedule(tools: list[str], levels: list[Load],
             interleave: bool) -> list[tuple[str, Load]]:
    """The order of (tool, level) runs: tool by tool, or level by level across tools."""
    if interleave:
        return [(tool, load) for load in levels for tool in tools]
    return [(tool, load) for tool in tools for load in levels]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", default="brixcheck,guidellm,aiperf,inference-perf,vllm")
    parser.add_argument("--rates", default="10,25,50,100,150,200,250,300,350,400")
    parser.add_argument("--concurrency", default="", help="closed-loop levels instead")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load a level")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds at the start of a run left out of the percentiles")
    parser.add_argument("--min-requests", type=int, default=30)
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--prompt-tokens", type=int, default=100)
    parser.add_argument("--output-tokens", type=int, default=64)
    parser.add_argument("--profile", default="h100-80gb")
    parser.add_argument("--slowdown", type=float, default=1.0)
    parser.add_argument("--no-stop", action="store_true", help="run every level regardless")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per level; the median p99 TTFT error decides")
    parser.add_argument("--quiet-cores", type=float, default=0.2,
                        help="wait before each run until other load is below this many cores")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="longest wait for that, seconds (then run anyway; recorded)")
    parser.add_argument("--interleave", action="store_true",
                        help="run every tool at a level before the next level, so that drift "
                             "in the machine's speed affects all tools alike")
    parser.add_argument("--rebuild", type=Path, nargs="+", default=None,
                        help="only rebuild the reports from finished runs/<timestamp> folders")
    args = parser.parse_args()
    if args.rebuild is not None:
        rows = rebuild(args.rebuild)
        out_json, out_md = write_reports(rows, args)
        print(f"{table(rows)}\n\n{capacity_table(rows)}\n\nwritten: {out_json}, {out_md}")
        return 0
    os.sched_setaffinity(0, {1})
    if args.concurrency:
        levels = [Load("concurrency", float(v)) for v in args.concurrency.split(",")]
    else:
        levels = [Load("rate", float(v)) for v in args.rates.split(",")]
    run_root = CACHE / "runs" / time.strftime("%Y%m%d-%H%M%S")
    rows: list[Row] = []
    stopped: set[str] = set()
    for tool, load in schedule(args.tools.split(","), levels, args.interleave):
        if tool in stopped:
            continue
        print(f"{tool} @ {load.label()} ...", flush=True)
        row = run_level(tool, load, args, run_root)
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)
        write_reports(rows, args)
        if not row.passed and not args.no_stop:
            stopped.add(tool)
    out_json, out_md = write_reports(rows, args)
    print(f"\n{table(ordered(rows))}\n\n{capacity_table(rows)}\n\nwritten: {out_json}, {out_md}; "
          f"runs under {run_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
