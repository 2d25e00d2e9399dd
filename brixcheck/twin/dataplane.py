"""The twin's data plane as one unit: Redis, AIBrix's metadata service and Envoy.

Started by the pod backer (the twin's long-lived process) on AIBrix's own loopback ports, and
fed with the ready endpoints of every model so Envoy's per-model routes (the header-less path)
follow pod readiness. The AIBrix gateway plugin (the emulator, or the user's binary) runs on
127.0.0.1:50052 where Envoy sends ext_proc (docs/gateway-plugin.md).
"""

from __future__ import annotations

import json
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from brixcheck.errors import BrixcheckError
from brixcheck.twin import envoy_xds as xds
from brixcheck.twin.envoy import EnvoyProcess
from brixcheck.twin.gateway_plugin import GatewayPluginProcess
from brixcheck.twin.proc import TwinProcessError
from brixcheck.twin.services import MetadataService, RedisServer, metadata_venv

log = logging.getLogger(__name__)
REDIS_PORT = 6379
Endpoints = dict[str, list[tuple[str, int]]]


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class DataPlane:
    """Redis + metadata service + gateway plugin + Envoy for one twin."""

    work_dir: Path
    kubeconfig: Path
    plugin_binary: Path | None = None

    def __post_init__(self) -> None:
        ports = xds.Ports()
        self.plugin = GatewayPluginProcess(self.work_dir / "gateway-plugin", self.kubeconfig,
                                           REDIS_PORT, ports.gateway_plugins,
                                           binary=self.plugin_binary)
        self.envoy = EnvoyProcess(self.work_dir / "envoy", ports, concurrency=1)
        self.redis = RedisServer(self.work_dir / "redis", REDIS_PORT)
        self.metadata: MetadataService | None = None
        self._ports = {"Envoy listener": ports.listener, "Envoy admin": ports.admin,
                       "Redis": REDIS_PORT, "metadata service": ports.metadata,
                       "gateway plugin": ports.gateway_plugins,
                       "gateway plugin metrics": self.plugin.metrics_port}

    def start(self) -> dict[str, str]:
        """Start all three; return their addresses. A taken port is one clear error."""
        taken = [f"{what} {port}" for what, port in self._ports.items() if not _free(port)]
        if taken:
            raise BrixcheckError(f"loopback ports the twin's data plane needs are taken: "
                                 f"{', '.join(taken)}", "stop what holds them, then "
                                 "`brixcheck twin down` and `brixcheck twin up`")
        self.redis.start()
        if (metadata_venv() / "bin").exists():
            self.metadata = MetadataService(self.work_dir / "metadata", REDIS_PORT,
                                            kubeconfig=self.kubeconfig)
            try:
                self.metadata.start()
            except TwinProcessError as exc:
                log.warning("metadata service did not start: %s", exc)
                self.metadata = None
        self.plugin.start()
        self.envoy.start({})
        return self.addresses()

    def addresses(self) -> dict[str, str]:
        """Where each part listens (what `twin up` prints)."""
        return {"gateway": self.envoy.url, "envoy_admin": self.envoy.admin_url,
                "redis": f"127.0.0.1:{REDIS_PORT}",
                "gateway_plugin": f"{self.plugin.implementation} on 127.0.0.1:"
                                  f"{self.plugin.grpc_port}",
                "gateway_plugin_control": self.plugin.control_url,
                "metadata": self.metadata.url if self.metadata else "not running (make "
                                                                     "twin-metadata)"}

    def update(self, endpoints: Endpoints) -> None:
        """Publish the ready endpoints of every model to Envoy."""
        self.envoy.update_endpoints({m: sorted(set(e)) for m, e in endpoints.items()})

    def stop(self) -> None:
        """Stop Envoy, the metadata service and Redis."""
        self.envoy.stop()
        self.plugin.stop()
        if self.metadata is not None:
            self.metadata.stop()
        self.redis.stop()

    def write_addresses(self, path: Path) -> None:
        """Record the addresses for `twin up` and `twin status`."""
        path.write_text(json.dumps(self.addresses()))
