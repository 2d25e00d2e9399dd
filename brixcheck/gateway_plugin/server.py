"""The plugin process: the ext_proc gRPC service, gRPC health, and the metrics/control HTTP port.

As v0.5.0's ``cmd/plugins/main.go``: gRPC on ``--grpc-bind-address`` with the
``envoy.service.ext_proc.v3.ExternalProcessor`` service and the health service reporting
``gateway-plugin`` SERVING; an HTTP server on ``--metrics-bind-address``. That HTTP server also
carries the emulator's fault control (``/brixcheck/faults``), which the real plugin does not have.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Any

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from brixcheck.gateway_plugin import routing
from brixcheck.gateway_plugin.faults import Faults, apply_error_fault
from brixcheck.gateway_plugin.httproute import RouteChecker
from brixcheck.gateway_plugin.phases import Request
from brixcheck.gateway_plugin.ratelimit import RateLimits
from brixcheck.gateway_plugin.types import Pod, RoutingContext

log = logging.getLogger("brixcheck.gateway_plugin")
HEALTH_SERVICE = "gateway-plugin"
EMULATOR_VERSION = "brixcheck-emulator/aibrix-v0.5.0"


class Plugin:
    """Process-wide state every request reads: cache, limits, route checker, faults."""

    def __init__(self, cache: Any, limits: RateLimits, routes: RouteChecker,
                 default_strategy: tuple[str, bool]) -> None:
        self.cache, self.limits, self.routes = cache, limits, routes
        self.default_strategy = default_strategy
        self.strategy_names = frozenset(routing.STRATEGY_NAMES)
        self.faults = Faults()
        self.requests = 0

    async def select(self, ctx: RoutingContext, ready: Sequence[Pod]) -> Pod:
        """The contract's select_pod (single-pod shortcut, router, RoutingError)."""
        return await routing.select(ctx, ready, self.cache)

    def reported_target(self, ctx: RoutingContext | None) -> str:
        """The `target-pod` answered to the client; the wrong-target fault names another pod."""
        if ctx is None or ctx.target is None:
            return ""
        if not self.faults.wrong_target:
            return ctx.target.address
        others = [p.address for p in self.cache.list_pods_by_model(ctx.model)
                  if p.address != ctx.target.address]
        return others[0] if others else "192.0.2.1:8000"


class ExternalProcessor(pb_grpc.ExternalProcessorServicer):
    """One ext_proc stream per HTTP request (gateway.go Process)."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin

    async def Process(self, request_iterator: AsyncIterator[pb.ProcessingRequest],  # noqa: N802
                      context: grpc.aio.ServicerContext) -> None:
        """Answer each phase in order; account the request as ended however the stream ends.

        Uses the context's read/write calls rather than an async generator: fewer wrappers on
        the per-chunk path.
        """
        request = Request(self.plugin)
        self.plugin.requests += 1
        faults = self.plugin.faults
        try:
            while True:
                message = await context.read()
                if message is grpc.aio.EOF:
                    return
                kind = message.WhichOneof("request")
                if kind == "request_headers":
                    answer = await request.request_headers(message.request_headers)
                elif kind == "request_body":
                    if faults.latency_s:
                        await asyncio.sleep(faults.latency_s)
                    answer = await request.request_body(message.request_body)
                elif kind == "response_headers":
                    answer = await request.response_headers(message.response_headers)
                elif kind == "response_body":
                    answer = await request.response_body(message.response_body)
                else:
                    log.info("Unknown Request type %s", kind)
                    continue
                if faults.error_header and answer.HasField("immediate_response"):
                    apply_error_fault(answer, faults.error_header)
                await context.write(answer)
        finally:
            request.finish(0, 0)


class ControlServer:
    """HTTP/1.1 on the metrics address: ``/metrics`` and ``/brixcheck/faults`` (GET, PUT)."""

    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one request per connection."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, path = head.split(b" ", 2)[:2]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            status, payload = self._route(method.decode(), path.decode(), body)
        except (asyncio.IncompleteReadError, ValueError) as exc:
            status, payload = 400, json.dumps({"error": str(exc)}).encode()
        writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                     % (status, len(payload), payload))
        await writer.drain()
        writer.close()

    def _route(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/metrics":
            return 200, self._metrics().encode()
        if path == "/brixcheck/version":
            return 200, json.dumps({"implementation": EMULATOR_VERSION,
                                    "strategies": list(routing.STRATEGY_NAMES)}).encode()
        if path != "/brixcheck/faults":
            return 404, b"not found"
        if method == "PUT":
            changes = json.loads(body or b"{}")
            routing.set_degraded(set(changes.get("degraded", self.plugin.faults.degraded)))
            self.plugin.faults.update(changes)
            routing.set_counters_frozen(self.plugin.faults.vtc_frozen)
            if self.plugin.faults.crash:
                log.error("fault: crash requested; exiting with code 2")
                os._exit(2)
        return 200, json.dumps(asdict(self.plugin.faults)).encode()

    def _metrics(self) -> str:
        plugin = self.plugin
        return (f"# TYPE gateway_plugin_requests_total counter\n"
                f"gateway_plugin_requests_total {plugin.requests}\n"
                f"# TYPE gateway_plugin_httproute_lookups_total counter\n"
                f"gateway_plugin_httproute_lookups_total {plugin.routes.lookups}\n")


async def serve_grpc(plugin: Plugin, address: str) -> grpc.aio.Server:
    """Start the gRPC server with ext_proc and health; return it running."""
    server = grpc.aio.server()
    pb_grpc.add_ExternalProcessorServicer_to_server(ExternalProcessor(plugin), server)
    checker = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot bind the gRPC address {address}")
    await server.start()
    for service in ("", HEALTH_SERVICE):  # Go's health server serves "" by default
        result = checker.set(service, health_pb2.HealthCheckResponse.SERVING)
        if asyncio.iscoroutine(result):
            await result
    log.info("starting gRPC server on %s", address)
    return server
