"""Measure v0.5.0's ceiling for requests without `routing-strategy`, as the emulator reproduces it.

For such requests v0.5.0's gateway plugin GETs the model's HTTPRoute from the API server, through
a client with client-go's default limiter (5 QPS, burst 10). This starts an engine emulator, the
plugin emulator and the twin's Envoy on loopback, with a stand-in API endpoint that serves the
HTTPRoute instantly, and sends N non-streamed requests from C concurrent clients, once without
and once with a strategy header. Known v0.5.0 issue; the issue's run against the real plugin
stopped its rate sweep at 8 req/s (5.29 achieved).
Usage: python benchmarks/header_less_ceiling.py [--requests 60] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from brixcheck.gateway_plugin.fake_routes import FakeRouteServer
from brixcheck.gateway_plugin.loopback import LoopbackGateway

MODEL = "ceiling-model"


def rate(url: str, headers: dict[str, str], requests: int, concurrency: int) -> tuple[float, int]:
    body = {"model": MODEL, "prompt": "hi", "max_tokens": 1}

    def one(_: int) -> int:
        return httpx.post(f"{url}/v1/completions", json=body, headers=headers, timeout=60,
                          trust_env=False).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        codes = list(pool.map(one, range(requests)))
    return requests / (time.monotonic() - started), sum(c == 200 for c in codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="brixcheck-ceiling-"))
    routes = FakeRouteServer([MODEL])
    gateway = LoopbackGateway(work, MODEL, ["127.0.2.9"],
                              kubeconfig=routes.kubeconfig(work / "kubeconfig"))
    gateway.start()
    try:
        without, ok_without = rate(gateway.url, {}, args.requests, args.concurrency)
        time.sleep(2)  # let the limiter's bucket refill before the strategy run
        with_strategy, ok_with = rate(gateway.url, {"routing-strategy": "random"},
                                      args.requests, args.concurrency)
    finally:
        gateway.stop()
        routes.close()
    print(f"{args.requests} requests, {args.concurrency} concurrent clients")
    print(f"without routing-strategy: {without:.2f} req/s ({ok_without} x 200, "
          f"{routes.gets} HTTPRoute GETs)")
    print(f"with routing-strategy random: {with_strategy:.2f} req/s ({ok_with} x 200)")


if __name__ == "__main__":
    main()
