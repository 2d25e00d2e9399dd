"""The twin with `--engine vllm`: a model pod served by real vLLM, probed, routed, restarted.

Needs the twin's binaries and the real engine (`make test-vllm` installs both). Starts the twin
with the real engine unless one runs already; a running emulator twin is left alone (skip).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client, config

from brixcheck.twin import lifecycle, vllm_install
from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until
from tests.twin.test_twin_pods import MODEL_ARGS

pytestmark = [pytest.mark.vllm, pytest.mark.twin, pytest.mark.timeout(600)]
READY_S = 240.0
PROBE = {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 2,
         "failureThreshold": 120}


@pytest.fixture(scope="module")
def vllm_twin() -> Iterator[TwinLayout]:
    if not vllm_install.is_installed():
        pytest.skip("the real vLLM engine is not installed: run `make twin-vllm`")
    was_up = lifecycle.status() == 0
    if was_up and lifecycle.engine() != "vllm":
        pytest.skip("a twin with the emulator runs; `brixcheck twin down` to test the real "
                    "engine")
    layout = lifecycle.up(engine="vllm", time_factor=1.0)
    yield layout
    if not was_up:
        lifecycle.down()


@pytest.fixture
def core(vllm_twin: TwinLayout) -> Iterator[client.CoreV1Api]:
    api = client.CoreV1Api(config.new_client_from_config(str(vllm_twin.kubeconfig)))
    name = f"selftest-vllm-{os.getpid()}"
    api.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"app.kubernetes.io/managed-by": "brixcheck-selftest"})))
    api.namespace_name = name
    yield api
    api.delete_namespace(name)
    wait_until(lambda: not api.list_namespaced_pod(name).items, 60, f"pods of {name} to go")


def _status(core: client.CoreV1Api, name: str) -> client.V1ContainerStatus | None:
    pod = core.read_namespaced_pod(name, core.namespace_name)
    statuses = pod.status.container_statuses or []
    return statuses[0] if statuses else None


def _engine_pgid(ip: str) -> int:
    """The process group of the real server bound to `ip` (one the backer started)."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"vllm.entrypoints.openai.api_server" in cmd and ip.encode() in cmd:
                return os.getpgid(int(proc.name))
    raise AssertionError(f"no real vLLM server bound to {ip}")


def test_real_engine_pod_is_ready_routed_and_restarted(vllm_twin: TwinLayout,
                                                       core: client.CoreV1Api):
    ns, name = core.namespace_name, "real-model"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"model.aibrix.ai/name": name}},
           "spec": {"containers": [{
               "name": "vllm-openai", "image": "vllm/vllm-openai:v0.11.0",
               "args": [*MODEL_ARGS, "--served-model-name", name],
               "resources": {"limits": {"nvidia.com/gpu": "1"}},
               "startupProbe": PROBE, "readinessProbe": {**PROBE, "failureThreshold": 3}}]}}
    created = time.monotonic()
    core.create_namespaced_pod(ns, pod)
    wait_until(lambda: (s := _status(core, name)) and s.ready, READY_S, "the pod to be Ready")
    print(f"real-engine pod Ready {time.monotonic() - created:.1f} s after creation")
    gateway = json.loads((vllm_twin.run_dir / "dataplane.json").read_text())["gateway"]
    body = {"model": name, "prompt": "hi", "max_tokens": 3, "ignore_eos": True}

    def routed() -> httpx.Response | None:
        reply = httpx.post(f"{gateway}/v1/completions", json=body, headers={"model": name},
                           timeout=30)
        return reply if reply.status_code == 200 else None

    assert wait_until(routed, 30, "Envoy to route").json()["usage"]["completion_tokens"] == 3
    ip = core.read_namespaced_pod(name, ns).status.pod_ip
    os.killpg(_engine_pgid(ip), signal.SIGKILL)
    wait_until(lambda: (s := _status(core, name)) and s.restart_count == 1, 60,
               "the kubelet to see the container die")
    last = _status(core, name).last_state.terminated
    assert last.exit_code == 137
    wait_until(lambda: (s := _status(core, name)) and s.ready, READY_S, "Ready after restart")
    log = core.read_namespaced_pod_log(name, ns, container="vllm-openai")
    assert "Application startup complete." in log
    assert "dropped `--gpu-memory-utilization 0.7`" in log
