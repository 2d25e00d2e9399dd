"""The suites' pytest plugin: their command-line options and fixture plugins.

A checkout's conftest.py loads it; an installed brixcheck passes it with `-p`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brixcheck.errors import BrixcheckError
from brixcheck.model import load_manifest
from brixcheck.resources import HISTORY_NAME, data_path

pytest_plugins = ["brixcheck.conformance.plugin", "brixcheck.fixtures.target",
                  "brixcheck.fixtures.workloads", "brixcheck.fixtures.stack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("brixcheck")
    group.addoption("--kubeconfig", default=None,
                    help="kubeconfig of the cluster to check (default: $KUBECONFIG, else the "
                         "twin, started if needed)")
    group.addoption("--twin-nodes", default=None,
                    help="twin node profile when no kubeconfig is given (manifests/twin/nodes; "
                         "default: the running twin's, else k3s-rtx4060)")
    group.addoption("--keep", action="store_true",
                    help="keep what the suite created in the cluster (for debugging)")
    group.addoption("--model-ready-timeout", type=float, default=None,
                    help="seconds to wait for the model pod to be Ready (default 600, scaled "
                         "by the twin's time factor)")
    group.addoption("--history-db", default=f"reports/{HISTORY_NAME}",
                    help="results history (SQLite path) that benchmark runs are stored in")
    group.addoption("--telemetry-interval", type=float, default=1.0,
                    help="seconds between scrapes of the model pods' /metrics (and NVML) during "
                         "a benchmark run; 0 turns telemetry off")
    group.addoption("--port-forward", action="store_true",
                    help="reach the AIBrix gateway through a port-forward to an Envoy pod even "
                         "when its LoadBalancer or ClusterIP address answers")
    group.addoption("--model-manifest", default=None,
                    help="model Deployment (+ Service) the suite deploys and checks (default: "
                         "the suite's manifests/models/deepseek-r1-qwen-1b5.yaml)")
    group.addoption("--load-where", choices=["local", "cluster"], default=None,
                    help="where benchmark load starts: local (Locust here) or cluster (Locust "
                         "Jobs next to the target); default: each scenario's load.where")
    group.addoption("--loadgen-image", default=None,
                    help="image of the in-cluster Locust pods (default: a public Python image "
                         "that pip-installs Locust at start)")
    group.addoption("--aibrix-install", action="store_true",
                    help="install the AIBrix stack before the stack cases (idempotent; an "
                         "install brixcheck did not make is left alone)")
    group.addoption("--aibrix-release", default=None, metavar="URL|DIR",
                    help="AIBrix's release files for --aibrix-install: its release page URL "
                         "or a directory (default: $BRIXCHECK_AIBRIX_RELEASE, else "
                         "../shared/aibrix/v0.5.0 beside the checkout, else the URL)")
    group.addoption("--aibrix-small", action="store_true",
                    help="install with the K3s-small overrides (manifests/aibrix/k3s-small)")
    group.addoption("--aibrix-uninstall", action="store_true",
                    help="at the end, remove what this run's --aibrix-install installed")
    group.addoption("--loadgen-no-install", action="store_true",
                    help="the --loadgen-image already holds Locust: skip the pip install")


def model_manifest(config: pytest.Config) -> Path:
    """--model-manifest (relative to the run's root directory), else the suite's own model."""
    option = config.getoption("--model-manifest")
    if option is None:
        return data_path("manifests", "models", "deepseek-r1-qwen-1b5.yaml")
    return config.rootpath / option


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Check the model manifest once, before connecting and before any case runs."""
    config = session.config
    if config.option.collectonly or not any(
            "model" in getattr(item, "fixturenames", ()) or item.get_closest_marker("case")
            for item in session.items):
        return
    try:
        load_manifest(model_manifest(config))
    except BrixcheckError as exc:
        pytest.exit(f"brixcheck: {exc}", returncode=2)
