"""How accurate and how cheap is brixcheck's Locust load generator? Measured against ground truth.

One engine emulator (`brixcheck engine host`, CPU 0, h100-80gb profile: ~4.3 ms decode steps)
and brixcheck's open-loop streaming scenario (`locustfiles/streaming_chat.py`, CPU 1) with
ground truth on: every response carries the emulator's own arrival time and each token's
intended emit time (CLOCK_MONOTONIC), so each request's measurement error is known exactly:

    TTFT error = (first token seen - intended send) - (first token intended - server arrival)
    ITL error  = client gap between tokens - intended gap between the same tokens

The TTFT error therefore includes the generator's send lag, loopback transit and read lag: all
of what a user of the numbers would be misled by. Rates rise until p99 TTFT error passes 5 ms or
the achieved rate falls under 95% of the target; the highest passing rate per generator core
is the capacity figure. Requests scheduled in the first second (connection set-up) are
excluded. Usage: python benchmarks/loadgen_accuracy.py [--rates 25,50,100,...]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from engine_throughput import free_port, percentile  # noqa: E402

from brixcheck.load.records import read_records  # noqa: E402
from brixcheck.load.run_spec import RUN_OPTION, OpenLoop, RunSpec, Workload, write_run  # noqa: E402
from brixcheck.load.schedule import Arrival  # noqa: E402


@functools.cache
def work_dir() -> Path:
    """Scratch directory of this run (made on first use, not at import)."""
    return Path(tempfile.mkdtemp(prefix="brixcheck-loadgen-"))


HOST = "127.0.4.1"
MODEL = "deepseek-r1-qwen-1b5"
TTFT_BOUND_MS = 5.0
WARMUP_S = 1.0  # connections are opened during the first second; not measured
RATE_BOUND = 0.95


def start_engine(port: int) -> subprocess.Popen[bytes]:
    args = ["--model", MODEL, "--port", str(port), "--emu-profile", "h100-80gb",
            "--emu-load-time-factor", "0", "--max-model-len", "4096", "--max-num-seqs", "1024"]
    spec = work_dir() / "spec.json"
    spec.write_text(json.dumps({"e": {"host": HOST, "args": args,
                                      "log": str(work_dir() / "engine.log")}}))
    return subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "brixcheck.cli",
                             "engine", "host", "--control", f"127.0.0.1:{free_port()}",
                             "--spec", str(spec)], stdout=subprocess.DEVNULL)


def wait_healthy(port: int) -> None:
    import httpx

    for _ in range(200):
        try:
            if httpx.get(f"http://{HOST}:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit("engine did not become healthy")


def run_locust(port: int, rate: float, duration: float, out: Path) -> float:
    """Run one load level; return the generator's CPU seconds."""
    spec = RunSpec(workload=Workload(model=MODEL, prompt_words=100, output_tokens=64),
                   open_loop=OpenLoop(rate_per_s=rate, arrival=Arrival.CONSTANT,
                                      duration_s=duration),
                   ground_truth=True, records_dir=str(out))
    run_file = write_run(spec, work_dir() / f"run-{rate:g}.json")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = ["taskset", "-c", "1", sys.executable, "-m", "locust", "-f",
           str(REPO / "locustfiles" / "streaming_chat.py"), "--headless", "--only-summary",
           "-H", f"http://{HOST}:{port}", RUN_OPTION, str(run_file),
           "--run-time", f"{int(duration + 15)}s", "--stop-timeout", "20", "OpenLoopUser"]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   timeout=duration + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def errors_ms(records: list[dict]) -> tuple[list[float], list[float], list[float]]:
    ttft, itl, lag = [], [], []
    for r in records:
        truth = r.get("truth")
        if r["status"] != 200 or not truth or not r["token_times_s"]:
            continue
        seen, intended = r["token_times_s"], truth["token_intended_s"]
        true_ttft = intended[0] - truth["arrival_s"]
        ttft.append(((seen[0] - r["intended_s"]) - true_ttft) * 1000)
        lag.append((r["sent_s"] - r["intended_s"]) * 1000)
        itl += [((b - a) - (y - x)) * 1000 for a, b, x, y in
                zip(seen, seen[1:], intended, intended[1:], strict=False)]
    return ttft, itl, lag


def measure(port: int, rate: float, duration: float) -> dict[str, float]:
    out = work_dir() / f"records-{int(rate)}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cpu = run_locust(port, rate, duration, out)
    records = [r for f in out.glob("*.jsonl") for r in read_records(f)]
    start = min((r["intended_s"] for r in records), default=0.0)
    measured = [r for r in records if r["intended_s"] >= start + WARMUP_S]
    ttft, itl, lag = errors_ms(measured)
    ok = [r for r in records if r["status"] == 200 and not r["error"]]
    events = sum(len(r["token_times_s"]) for r in ok)
    return {"rate": rate, "achieved_rps": len(ok) / duration, "events_per_s": events / duration,
            "errors": len(records) - len(ok), "cpu_s": cpu,
            "cpu_ms_per_1000_events": 1000 * 1000 * cpu / max(events, 1),
            "cpu_cores": cpu / (duration + 2),
            "ttft_err_p50": percentile(ttft, 0.5), "ttft_err_p99": percentile(ttft, 0.99),
            "itl_err_p50": percentile(itl, 0.5), "itl_err_p99": percentile(itl, 0.99),
            "send_lag_p99": percentile(lag, 0.99)}


def passes(row: dict[str, float]) -> bool:
    return row["ttft_err_p99"] <= TTFT_BOUND_MS and row["achieved_rps"] >= RATE_BOUND * row["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="25,50,100,200,300,400,600,800")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--out", default="reports/loadgen_accuracy.json")
    args = parser.parse_args()
    port = free_port()
    engine = start_engine(port)
    rows = []
    try:
        wait_healthy(port)
        for rate in (float(r) for r in args.rates.split(",")):
            row = measure(port, rate, args.duration)
            rows.append(row)
            print(f"{rate:6.0f} req/s: achieved {row['achieved_rps']:6.1f}, "
                  f"{row['events_per_s']:7.0f} events/s, CPU {row['cpu_cores']:.2f} cores "
                  f"({row['cpu_ms_per_1000_events']:.0f} ms/1000 events), TTFT err p50/p99 "
                  f"{row['ttft_err_p50']:.2f}/{row['ttft_err_p99']:.2f} ms, ITL err p50/p99 "
                  f"{row['itl_err_p50']:.2f}/{row['itl_err_p99']:.2f} ms, send lag p99 "
                  f"{row['send_lag_p99']:.2f} ms {'ok' if passes(row) else 'OVER BOUND'}",
                  flush=True)
            if not passes(row):
                break
    finally:
        engine.terminate()
        engine.wait(timeout=10)
    best = max((r for r in rows if passes(r)), key=lambda r: r["rate"], default=None)
    summary = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": f"{platform.node()} ({os.cpu_count()} cpus)", "rows": rows,
               "highest_passing_rps": best["rate"] if best else 0,
               "per_core_rps": best["rate"] / max(best["cpu_cores"], 0.01) if best else 0}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2))
    print(f"highest rate within bounds: {summary['highest_passing_rps']:.0f} req/s; "
          f"per generator core: {summary['per_core_rps']:.0f} req/s")


if __name__ == "__main__":
    main()
