"""Measure what one routing decision costs the gateway plugin emulator, per strategy.

Runs `select_pod` in-process on a warm GatewayCache (N pods of one model, metrics fed as a
legacy vLLM would, some requests in flight) and prints per strategy the mean and p99 time of
one decision, and the CPU share one core spends at a given request rate. prefix-cache is
measured with the release manifest's block size (AIBRIX_PREFIX_CACHE_BLOCK_SIZE=128) and with
v0.5.0's code default (4), on prompts of the given length sharing a long prefix; the prefix
hashing alone is timed too. `pd` is left out (it makes an HTTP request per decision).

Goal (issue 17): select_pod keeps up with 200 req/s on a 2-core machine beside Envoy and the
engines, i.e. well under 5 ms (one core's 100 %) per decision; target < 0.5 ms for most.
Usage: python benchmarks/routing_cost.py [--pods 8] [--prompt-chars 4000] [--decisions 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

from brixcheck.gateway_plugin import algorithms
from brixcheck.gateway_plugin.algorithms.prefix_index import PrefixHashTable
from brixcheck.gateway_plugin.state import GatewayCache
from brixcheck.gateway_plugin.types import Pod, RoutingContext

MODEL = "bench-model"
LEGACY = {"gpu_cache_usage_perc": 0.3, "cpu_cache_usage_perc": 0.0, "num_requests_running": 2.0,
          "avg_prompt_throughput_toks_per_s": 100.0, "avg_generation_throughput_toks_per_s": 50.0}


def warm_cache(n_pods: int) -> tuple[GatewayCache, list[Pod]]:
    pods = [Pod(f"bench-{i}", "bench", f"10.9.0.{i}", {"model.aibrix.ai/name": MODEL})
            for i in range(n_pods)]
    cache = GatewayCache()
    cache.set_pods(pods)
    for i, pod in enumerate(pods):
        cache.set_pod_metrics(pod, {**LEGACY, "gpu_cache_usage_perc": 0.1 * i}, {})
        for r in range(i % 4):
            ctx = RoutingContext("random", MODEL, "", f"busy-{i}-{r}", target=pod)
            cache.add_request_count(ctx)
    return cache, pods


def time_strategy(name: str, cache: GatewayCache, pods: list[Pod], prompts: list[str],
                  decisions: int) -> list[float]:
    samples = []
    for i in range(decisions):
        ctx = RoutingContext(name, MODEL, prompts[i % len(prompts)], f"r{i}", user=f"u{i % 5}")
        start = time.perf_counter()
        algorithms.select_pod(name, ctx, pods, cache)
        samples.append(time.perf_counter() - start)
    return samples


def prompts_of(chars: int, count: int = 50) -> list[str]:
    shared = ("You are a helpful assistant answering questions about the manual. " * 200)
    shared = shared[: chars * 3 // 4]
    return [shared + f" question {i}: " + ("x" * (chars - len(shared)))[: chars - len(shared)]
            for i in range(count)]


def report(label: str, samples: list[float], rate: float) -> None:
    mean = statistics.fmean(samples)
    p99 = sorted(samples)[int(len(samples) * 0.99) - 1]
    print(f"{label:34s} mean {mean * 1e3:7.3f} ms  p99 {p99 * 1e3:7.3f} ms  "
          f"CPU at {rate:.0f} req/s {mean * rate * 100:5.1f} % of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=8)
    parser.add_argument("--prompt-chars", type=int, default=4000)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {platform.node()} "
          f"cpus={os.cpu_count()} python={platform.python_version()} pods={args.pods} "
          f"prompt_chars={args.prompt_chars}")
    algorithms.seed(1)
    prompts = prompts_of(args.prompt_chars)
    for block in (128, 4):
        index = PrefixHashTable(block_size=block)
        data = prompts[0].encode()
        start = time.perf_counter()
        for _ in range(200):
            index.prefix_hashes(data)
        print(f"prefix hashing, block {block:3d}: {(time.perf_counter() - start) / 200 * 1e3:.3f} "
              f"ms per {len(data)}-byte prompt")
    for name in [n for n in algorithms.ROUTERS if n != "pd"]:
        blocks = ("128", "4") if name == "prefix-cache" else (None,)
        for block in blocks:
            if block:
                os.environ["AIBRIX_PREFIX_CACHE_BLOCK_SIZE"] = block
            cache, pods = warm_cache(args.pods)  # fresh routers per run (state is per cache)
            samples = time_strategy(name, cache, pods, prompts, args.decisions)
            report(name + (f" (block {block})" if block else ""), samples, args.rate)


if __name__ == "__main__":
    import logging
    logging.getLogger("brixcheck.gateway_plugin").setLevel(logging.ERROR)
    main()
