"""``python -m brixcheck.gateway_plugin``: the emulator with AIBrix v0.5.0's flags and environment.

Flags as ``cmd/plugins/main.go``: ``--grpc-bind-address`` (:50052), ``--metrics-bind-address``
(:8080), ``--kubeconfig`` (empty: in-cluster). Environment as AIBrix's Deployment: ``REDIS_HOST``,
``REDIS_PORT``, ``REDIS_PASSWORD``, ``AIBRIX_POD_METRIC_REFRESH_INTERVAL_MS``,
``ROUTING_ALGORITHM``; ``AIBRIX_PREFIX_CACHE_*`` are read by the algorithms package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as aioredis
import uvloop
from kubernetes import client, config

from brixcheck.gateway_plugin import routing
from brixcheck.gateway_plugin.discovery import DEFAULT_REFRESH_MS, MetricsScraper, PodWatch
from brixcheck.gateway_plugin.httproute import RouteChecker
from brixcheck.gateway_plugin.ratelimit import RateLimits
from brixcheck.gateway_plugin.server import ControlServer, Plugin, serve_grpc
from brixcheck.gateway_plugin.types import Pod

log = logging.getLogger("brixcheck.gateway_plugin")


def _host_port(address: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or default_host, int(port)


def _api_client(kubeconfig: str) -> client.ApiClient:
    if kubeconfig:
        log.info("using configuration from '%s'", kubeconfig)
        return config.new_client_from_config(kubeconfig)
    log.info("using in-cluster configuration")
    config.load_incluster_config()
    return client.ApiClient()


def _refresh_s() -> float:
    raw = os.environ.get("AIBRIX_POD_METRIC_REFRESH_INTERVAL_MS", "")
    try:
        return (int(raw) if raw else DEFAULT_REFRESH_MS) / 1000
    except ValueError:
        return DEFAULT_REFRESH_MS / 1000


def _static_pods(path: str) -> list[Pod]:
    """Pods from a JSON list of {name, namespace, ip, labels} (emulator only, no cluster)."""
    items = json.loads(Path(path).read_text())
    return [Pod(name=i["name"], namespace=i.get("namespace", "default"), ip=i["ip"],
                labels=i["labels"]) for i in items]


async def run(args: argparse.Namespace) -> int:
    """Start everything, serve until SIGTERM/SIGINT, stop gracefully."""
    # With --static-pods a kubeconfig still serves the HTTPRoute check, when one is given.
    api = _api_client(args.kubeconfig) if args.kubeconfig or not args.static_pods else None
    redis = aioredis.Redis(host=os.environ.get("REDIS_HOST", "localhost"),
                           port=int(os.environ.get("REDIS_PORT", "6379")),
                           password=os.environ.get("REDIS_PASSWORD") or None)
    cache = routing.new_cache()
    default = os.environ.get("ROUTING_ALGORITHM")
    plugin = Plugin(cache, RateLimits(redis), RouteChecker(api),
                    (default or "", default is not None))
    scraper = MetricsScraper(cache, _refresh_s())
    loop = asyncio.get_running_loop()

    def publish(pods: list[Pod]) -> None:
        gone = {p.key for p in scraper.pods} - {p.key for p in pods}
        scraper.forget(p for p in scraper.pods if p.key in gone)
        cache.set_pods(pods)
        scraper.pods = pods

    watch = None
    if args.static_pods:
        publish(_static_pods(args.static_pods))
    else:
        watch = PodWatch(api, publish, loop)
        watch.start()
    scraping = asyncio.ensure_future(scraper.run())
    host, port = _host_port(args.metrics_bind_address)
    control = await asyncio.start_server(ControlServer(plugin).handle, host, port)
    grpc_server = await serve_grpc(plugin, args.grpc_bind_address)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.warning("signal received, initiating graceful shutdown...")
    if watch is not None:
        watch.stop()
    scraping.cancel()
    control.close()
    await grpc_server.stop(grace=5)
    await scraper.close()
    await redis.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags and run the plugin."""
    parser = argparse.ArgumentParser(prog="python -m brixcheck.gateway_plugin",
                                     description="AIBrix v0.5.0 gateway-plugin emulator")
    parser.add_argument("--grpc-bind-address", default=":50052")
    parser.add_argument("--metrics-bind-address", default=":8080")
    parser.add_argument("--kubeconfig", default="")
    parser.add_argument("-v", type=int, default=0, help="log verbosity, as klog's -v")
    parser.add_argument("--static-pods", metavar="JSON", default="",
                        help="emulator only: a fixed pod list instead of the API server's "
                             "(benchmarks without a cluster)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.v >= 4 else logging.INFO,
                        format="%(asctime)s %(levelname).1s %(message)s", stream=sys.stderr)
    try:
        return uvloop.run(run(args))
    except (OSError, ValueError) as exc:
        print(f"gateway plugin: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    sys.exit(main())
