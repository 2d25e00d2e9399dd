"""The twin's gateway-plugin process: started with the Deployment's flags and environment, ready on
gRPC health `gateway-plugin`, restarted after its crash fault, stopped by PID."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from brixcheck.gateway_plugin.loopback import free_port
from brixcheck.twin.gateway_plugin import GatewayPluginProcess, health_serving
from brixcheck.twin.proc import TwinProcessError
from brixcheck.twin.services import PLACEHOLDER_KUBECONFIG

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


@pytest.fixture
def plugin(tmp_path: Path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(PLACEHOLDER_KUBECONFIG)
    process = GatewayPluginProcess(tmp_path / "plugin", kubeconfig, free_port(), free_port(),
                                   free_port())
    yield process
    process.stop()


def test_starts_serving_and_comes_back_after_a_crash(plugin: GatewayPluginProcess):
    plugin.start()
    assert health_serving(plugin.grpc_port)
    version = httpx.get(f"{plugin.control_url}/brixcheck/version", trust_env=False).json()
    assert version["implementation"].startswith("brixcheck-emulator")
    assert len(version["strategies"]) == 16
    with pytest.raises(httpx.HTTPError):
        httpx.put(f"{plugin.control_url}/brixcheck/faults", json={"crash": True}, timeout=5,
                  trust_env=False)
    deadline = time.monotonic() + 10
    while plugin.exited() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the crash fault exits the process right after answering
    assert plugin.exited() == 2
    assert plugin.restart_if_dead()
    assert plugin.restarts == 1
    assert health_serving(plugin.grpc_port)
    assert not plugin.restart_if_dead(), "a running plugin is left alone"
    assert plugin.stop() is not None


def test_unknown_fault_field_is_refused(plugin: GatewayPluginProcess):
    plugin.start()
    reply = httpx.put(f"{plugin.control_url}/brixcheck/faults", json={"slow": 1},
                      trust_env=False)
    assert reply.status_code == 400
    assert "unknown fault fields" in reply.text


def test_a_missing_binary_is_one_clear_error(tmp_path: Path):
    process = GatewayPluginProcess(tmp_path, tmp_path / "kc", free_port(),
                                   binary=tmp_path / "gateway-plugins")
    with pytest.raises(TwinProcessError, match="is not a file"):
        process.start()


def test_a_user_binary_gets_the_deployments_flags_and_environment(tmp_path: Path):
    """Stand-in for an AIBrix gateway-plugins executable: records its argv and environment,
    then serves as the emulator does."""
    record = tmp_path / "argv.txt"
    binary = tmp_path / "gateway-plugins"
    binary.write_text(f"#!/bin/sh\necho \"$@\" > {record}\nenv >> {record}\n"
                      f"exec {sys.executable} -m brixcheck.gateway_plugin \"$@\"\n")
    binary.chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(PLACEHOLDER_KUBECONFIG)
    process = GatewayPluginProcess(tmp_path / "plugin", kubeconfig, 6390, free_port(),
                                   free_port(), binary=binary)
    try:
        process.start()
        assert process.implementation == f"binary {binary}"
        seen = record.read_text()
    finally:
        process.stop()
    assert f"--grpc-bind-address 127.0.0.1:{process.grpc_port}" in seen
    assert f"--kubeconfig {kubeconfig}" in seen
    assert "REDIS_PORT=6390" in seen
    assert "AIBRIX_POD_METRIC_REFRESH_INTERVAL_MS=50" in seen
