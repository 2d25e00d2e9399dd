"""The twin's AIBrix gateway plugin: the emulator (``python -m brixcheck.gateway_plugin``) or a
gateway-plugins binary the user supplies (``brixcheck twin up --gateway-plugin PATH``), run with
the flags and environment of AIBrix v0.5.0's ``aibrix-gateway-plugins`` Deployment, on
127.0.0.1:50052 where the twin's Envoy sends ext_proc.

Ready when the gRPC health service answers SERVING for ``gateway-plugin`` (the Deployment's
probe). The emulator's control port (faults, version) is the metrics address.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.twin.proc import ManagedProcess, TwinProcessError, child_env
from brixcheck.twin.services import LOOPBACK, _LoopbackService

log = logging.getLogger(__name__)
METRICS_PORT = 8080  # cmd/plugins/main.go --metrics-bind-address default
HEALTH_SERVICE = "gateway-plugin"
START_TIMEOUT_S = 30.0
HEALTH_TIMEOUT_S = 1.0
# The container environment of AIBrix v0.5.0's gateway-plugins Deployment (release manifests);
# REDIS_HOST/PORT point at the twin's Redis instead of aibrix-redis-master.
DEPLOYMENT_ENV = {"AIBRIX_GPU_OPTIMIZER_TRACING_FLAG": "false",
                  "AIBRIX_PREFIX_CACHE_TOKENIZER_TYPE": "character",
                  "AIBRIX_PREFIX_CACHE_BLOCK_SIZE": "128",
                  "AIBRIX_PREFIX_CACHE_BLOCK_NUMBER": "200000",
                  "AIBRIX_PREFIX_CACHE_POD_RUNNING_REQUEST_IMBALANCE_ABS_COUNT": "16",
                  "AIBRIX_PREFIX_CACHE_STANDARD_DEVIATION_FACTOR": "2",
                  "AIBRIX_POD_METRIC_REFRESH_INTERVAL_MS": "50",
                  "AIBRIX_PREFILL_REQUEST_TIMEOUT": "60"}


def health_serving(port: int) -> bool:
    """True when the plugin's gRPC health service reports `gateway-plugin` SERVING."""
    try:
        with grpc.insecure_channel(f"{LOOPBACK}:{port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=HEALTH_SERVICE), timeout=HEALTH_TIMEOUT_S)
    except grpc.RpcError:
        return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


class GatewayPluginProcess(_LoopbackService):
    """The plugin as one child process; `binary` None runs the emulator."""

    def __init__(self, work_dir: Path, kubeconfig: Path, redis_port: int,
                 grpc_port: int = aibrix.GATEWAY_PLUGINS_GRPC_PORT,
                 metrics_port: int = METRICS_PORT, binary: Path | None = None) -> None:
        """Prepare paths; nothing runs until `start`."""
        self.work_dir = work_dir.resolve()
        self.kubeconfig, self.redis_port = kubeconfig, redis_port
        self.grpc_port, self.metrics_port, self.binary = grpc_port, metrics_port, binary
        self.restarts = 0
        self._process: ManagedProcess | None = None

    @property
    def implementation(self) -> str:
        """What serves ext_proc: the emulator, or the user's binary by path."""
        return f"binary {self.binary}" if self.binary else "emulator"

    @property
    def control_url(self) -> str:
        """The metrics (and, for the emulator, fault control) base URL."""
        return f"http://{LOOPBACK}:{self.metrics_port}"

    def _argv(self) -> list[str]:
        program = [str(self.binary)] if self.binary else [sys.executable, "-m",
                                                          "brixcheck.gateway_plugin"]
        return [*program, "--grpc-bind-address", f"{LOOPBACK}:{self.grpc_port}",
                "--metrics-bind-address", f"{LOOPBACK}:{self.metrics_port}",
                "--kubeconfig", str(self.kubeconfig)]

    def _env(self) -> dict[str, str]:
        return child_env({**DEPLOYMENT_ENV, "REDIS_HOST": LOOPBACK,
                          "REDIS_PORT": str(self.redis_port), "POD_NAME": "aibrix-gateway-plugins",
                          "POD_NAMESPACE": aibrix.SYSTEM_NAMESPACE})

    def start(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Start the plugin and wait for gRPC health SERVING; return the seconds waited."""
        if self.binary is not None and not self.binary.is_file():
            raise TwinProcessError(f"--gateway-plugin {self.binary} is not a file",
                                   "pass the path of an AIBrix gateway-plugins executable")
        process = ManagedProcess("gateway-plugin", self._argv(), self.work_dir / "plugin.log",
                                 self.work_dir, self._env())
        return self._launch(process, lambda: health_serving(self.grpc_port), timeout_s,
                            f"gRPC health {HEALTH_SERVICE} SERVING on {LOOPBACK}:{self.grpc_port}")

    def exited(self) -> int | None:
        """The exit code when the plugin has died, else None."""
        process = self._process
        popen = getattr(process, "_popen", None)
        return popen.poll() if popen is not None else None

    def restart_if_dead(self) -> bool:
        """Start the plugin again if it exited (as its Deployment's kubelet would)."""
        code = self.exited()
        if code is None:
            return False
        log.warning("gateway plugin exited with code %s; restarting it", code)
        self.stop()
        self.restarts += 1
        self.start()
        return True
