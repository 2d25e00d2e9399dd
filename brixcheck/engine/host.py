"""Many emulated engines in one process, managed over a loopback control API.

The twin gives every model pod its own engine at the pod's IP and port; one asyncio process
serving all of them is far cheaper on two cores than a process per pod. Each engine keeps its own
state, metrics and log.

Control API (JSON over HTTP, bind it to loopback only):
  GET    /engines                   every engine: name, state, address, exit code, log
  GET    /engines/NAME              one engine
  PUT    /engines/NAME              start {"args": [vLLM args], "host": "127.0.1.5", "log": path}
  DELETE /engines/NAME              stop gracefully and forget it
  POST   /engines/NAME/faults       {"crash": true} | {"hang": bool} | {"slowdown": x}
                                    | {"error_rate": p} | {"metric_names": "legacy"|"modern"}
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from brixcheck.engine.args import ArgsError, parse_engine_args
from brixcheck.engine.http import Connection, Request
from brixcheck.engine.logs import EngineLog
from brixcheck.engine.metrics import MetricNames
from brixcheck.engine.server import Engine


class HostError(Exception):
    """A control request that cannot be carried out; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EngineHost:
    """Owns the engines of one process."""

    def __init__(self) -> None:
        self.engines: dict[str, Engine] = {}
        self._server: asyncio.Server | None = None

    async def add(self, name: str, argv: list[str], host: str | None = None,
                  log_path: Path | None = None, cri_log: bool = False) -> Engine:
        """Start an engine; a stopped or failed one of the same name is replaced."""
        old = self.engines.get(name)
        if old is not None and not old.exited.done():
            raise HostError(409, f"engine {name!r} is running; delete it first")
        try:
            args = parse_engine_args(argv)
        except ArgsError as exc:
            raise HostError(400, str(exc)) from None
        engine = Engine(args, host, EngineLog(log_path, cri=cri_log))
        try:
            await engine.start()
        except OSError as exc:
            raise HostError(409, f"cannot listen on {engine.address}: {exc.strerror}") from None
        self.engines[name] = engine
        return engine

    async def remove(self, name: str) -> None:
        """Stop an engine and forget it."""
        engine = self._get(name)
        await engine.stop()
        engine.log.close()
        del self.engines[name]

    async def stop_all(self) -> None:
        """Stop every engine and the control listener."""
        for name in list(self.engines):
            await self.remove(name)
        if self._server is not None:
            self._server.close()

    def inject(self, name: str, faults: dict[str, Any]) -> None:
        """Apply faults to a running engine."""
        engine = self._get(name)
        if faults.get("crash"):
            engine.crash()
        if "hang" in faults:
            engine.set_hung(bool(faults["hang"]))
        if "slowdown" in faults:
            engine.set_slowdown(float(faults["slowdown"]))
        if "error_rate" in faults:
            engine.error_rate = float(faults["error_rate"])
        if "metric_names" in faults:
            engine.set_metric_names(MetricNames(faults["metric_names"]))

    def describe(self, name: str) -> dict[str, Any]:
        """Public state of one engine."""
        engine = self._get(name)
        return {
            "name": name, "state": engine.state.value, "address": engine.address,
            "model": engine.args.served_name,
            "exit_code": engine.exited.result() if engine.exited.done() else None,
            "log": str(engine.log.path) if engine.log.path else None,
        }

    def _get(self, name: str) -> Engine:
        try:
            return self.engines[name]
        except KeyError:
            raise HostError(404, f"no engine named {name!r}") from None

    async def serve_control(self, host: str, port: int) -> None:
        """Listen for control requests."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self._handle, lambda _: None, lambda _: None), host, port,
            reuse_address=True,
        )

    async def _handle(self, req: Request, conn: Connection) -> None:
        try:
            status, body = await self._route(req)
        except HostError as exc:
            status, body = exc.status, {"error": str(exc)}
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            status, body = 400, {"error": f"bad control request: {exc}"}
        conn.send(status, json.dumps(body).encode())

    async def _route(self, req: Request) -> tuple[int, Any]:
        parts = [p for p in req.path.split("/") if p]
        if parts == ["health"]:
            return 200, {"engines": len(self.engines)}
        if parts == ["engines"] and req.method == "GET":
            return 200, [self.describe(n) for n in self.engines]
        if len(parts) == 2 and parts[0] == "engines":
            return await self._engine_route(req, parts[1])
        if len(parts) == 3 and parts[0] == "engines" and parts[2] == "faults":
            self.inject(parts[1], json.loads(req.body or b"{}"))
            return 200, self.describe(parts[1])
        raise HostError(404, f"no control route {req.method} {req.path}")

    async def _engine_route(self, req: Request, name: str) -> tuple[int, Any]:
        if req.method == "GET":
            return 200, self.describe(name)
        if req.method == "DELETE":
            await self.remove(name)
            return 200, {"deleted": name}
        if req.method == "PUT":
            spec = json.loads(req.body or b"{}")
            log = Path(spec["log"]) if spec.get("log") else None
            await self.add(name, list(spec.get("args", [])), spec.get("host"), log)
            return 201, self.describe(name)
        raise HostError(405, f"{req.method} is not allowed on /engines/{name}")
