"""The plugin behind the twin's Envoy with emulated engines, all on free loopback ports and no
cluster (the plugin gets a fixed pod list): for the speed benchmark and the Envoy integration
tests. `LoopbackGateway` starts engine host, plugin and Envoy, waits for each, stops each by PID.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from brixcheck.twin import envoy_xds as xds
from brixcheck.twin.envoy import EnvoyProcess
from brixcheck.twin.gateway_plugin import health_serving

START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def engine_healthy(host: str, port: int) -> bool:
    """True when the engine at host:port answers /health with 200."""
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            return b" 200 " in conn.recv(64)
    except OSError:
        return False


class LoopbackGateway:
    """Engines on `hosts` (one pod each), the plugin and Envoy, for one model."""

    def __init__(self, work: Path, model: str, hosts: Sequence[str],
                 engine_args: Sequence[str] = (),
                 pod_labels: Sequence[dict[str, str]] = (), redis_port: int = 0,
                 kubeconfig: Path | None = None) -> None:
        self.work, self.model, self.hosts = work, model, list(hosts)
        self.pod_labels = list(pod_labels) or [{} for _ in self.hosts]
        self.redis_port = redis_port or free_port()  # a closed port: no users, no limits
        self.kubeconfig = kubeconfig  # for the HTTPRoute check only; pods stay static
        self.engine_port, self.grpc_port, self.control_port = free_port(), free_port(), free_port()
        self.ports = xds.Ports(listener=free_port(), admin=free_port(),
                               gateway_plugins=self.grpc_port, metadata=free_port())
        self.engine_args = list(engine_args)
        self.envoy = EnvoyProcess(work / "envoy", self.ports, concurrency=1,
                                  log_level="warning")
        self.engine: subprocess.Popen[bytes] | None = None
        self.plugin: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Envoy's listener."""
        return self.envoy.url

    @property
    def control_url(self) -> str:
        """The plugin's metrics/control port."""
        return f"http://127.0.0.1:{self.control_port}"

    def pod_addresses(self) -> set[str]:
        """What `target-pod` may say."""
        return {f"{h}:{self.engine_port}" for h in self.hosts}

    def start(self) -> None:
        """Start engines, plugin and Envoy; each waited for."""
        self.work.mkdir(parents=True, exist_ok=True)
        spec = {f"e{i}": {"host": h, "log": str(self.work / f"engine-{i}.log"), "args": [
            "--model", self.model, "--port", str(self.engine_port), "--emu-profile",
            "h100-80gb", "--emu-load-time-factor", "0", "--max-model-len", "4096",
            "--max-num-seqs", "1024", *self.engine_args]} for i, h in enumerate(self.hosts)}
        (self.work / "spec.json").write_text(json.dumps(spec))
        self.engine = subprocess.Popen(
            [sys.executable, "-m", "brixcheck.cli", "engine", "host", "--control",
             f"127.0.0.1:{free_port()}", "--spec", str(self.work / "spec.json")],
            stdout=subprocess.DEVNULL)
        self._start_plugin()
        self._wait(lambda: all(engine_healthy(h, self.engine_port) for h in self.hosts),
                   self.engine, "engines")
        self._wait(lambda: health_serving(self.grpc_port), self.plugin, "plugin")
        # The model's Envoy route, as the <model>-router HTTPRoute gives it.
        self.envoy.start({self.model: [(h, self.engine_port) for h in self.hosts]})

    def _start_plugin(self) -> None:
        labels = {"model.aibrix.ai/name": self.model,
                  "model.aibrix.ai/port": str(self.engine_port),
                  "model.aibrix.ai/metric-port": str(self.engine_port)}
        pods = [{"name": f"pod-{i}", "ip": h, "labels": {**labels, **extra}}
                for i, (h, extra) in enumerate(zip(self.hosts, self.pod_labels, strict=True))]
        (self.work / "pods.json").write_text(json.dumps(pods))
        log = (self.work / "plugin.log").open("ab")
        env = {**os.environ, "REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(self.redis_port)}
        self.plugin = subprocess.Popen(
            [sys.executable, "-m", "brixcheck.gateway_plugin", "--grpc-bind-address",
             f"127.0.0.1:{self.grpc_port}", "--metrics-bind-address",
             f"127.0.0.1:{self.control_port}", "--static-pods", str(self.work / "pods.json"),
             *(["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else [])],
            stdout=log, stderr=log, env=env)

    def _wait(self, ready, proc: subprocess.Popen[bytes] | None, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                self.stop()
                raise RuntimeError(f"the {what} did not start; logs in {self.work}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop Envoy, the plugin and the engines (each by its own PID)."""
        self.envoy.stop()
        for proc in (self.plugin, self.engine):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)
