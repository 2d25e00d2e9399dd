"""The AIBrix stack installed on the twin from AIBrix's own v0.5.0 release files.

In order, on one twin: a fresh install; a second install that changes nothing; the stack's pods
backed by their real programs (Redis, metadata service) and the model-route controller
emulator; the stack conformance cases against these real objects; uninstall of exactly what was
installed; an install cut short by Ctrl-C that the next run completes; a foreign install left
untouched and another version refused. Skipped when AIBrix's release files are not beside the
checkout (CI has them at ../shared/aibrix/v0.5.0).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from kubernetes import client, config

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.stack import CONTROLLER
from brixcheck.installer import release
from brixcheck.installer.install import Installer, NotSupportedInstallError
from brixcheck.twin import system_pods
from brixcheck.twin.build import cache_root
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(600)]
REPO = Path(__file__).resolve().parents[2]
NOT_RUN_ON_TWIN = {"aibrix-gpu-optimizer", "aibrix-kuberay-operator"}


@pytest.fixture(scope="module")
def files() -> release.Release:
    source = release.default_source()
    if source.startswith("http"):
        pytest.skip("AIBrix's release files are not beside the checkout "
                    f"(../shared/aibrix/{aibrix.VERSION}); set {release.RELEASE_ENV}")
    return release.load(source, cache_root())


@pytest.fixture(scope="module")
def installer(twin) -> Installer:
    return Installer(config.new_client_from_config(str(twin.kubeconfig)), lambda _: None)


def _uninstall_and_wait(installer: Installer, files: release.Release) -> None:
    installer.uninstall(files)
    wait_until(lambda: not [n for n in installer.core.list_namespace().items
                            if n.metadata.name in (aibrix.SYSTEM_NAMESPACE,
                                                   aibrix.ENVOY_GATEWAY_NAMESPACE)],
               120, "the stack namespaces to be deleted")


def test_install_then_second_install_changes_nothing(installer, files):
    first = installer.install(files, uuid.uuid4().hex[:12], available_timeout_s=120)
    assert first.outcome == "installed"
    assert len(first.created) == len(files.dependency) + len(files.core)
    assert {name.rsplit("/", 1)[1] for name in first.unbacked} >= NOT_RUN_ON_TWIN
    started = time.monotonic()
    second = installer.install(files, uuid.uuid4().hex[:12], available_timeout_s=60)
    seconds = time.monotonic() - started
    assert (second.outcome, second.created, second.changed) == ("unchanged", [], [])
    assert second.run_id == first.run_id
    print(f"install phases {first.phases}; second install {seconds:.1f} s, "
          f"{second.unchanged} objects unchanged, stored again: {second.restored}")


def test_stack_pods_run_their_programs(installer, core):
    redis = core.list_namespaced_pod(aibrix.SYSTEM_NAMESPACE, label_selector="app=redis").items
    ip = redis[0].status.pod_ip
    reply = subprocess.run(["redis-cli", "-h", ip, "-p", str(aibrix.REDIS_PORT), "PING"],
                           capture_output=True, text=True, check=False)
    assert reply.stdout.strip() == "PONG"
    meta = core.list_namespaced_pod(aibrix.SYSTEM_NAMESPACE,
                                    label_selector="app=metadata-service").items[0]
    url = f"http://{meta.status.pod_ip}:{aibrix.METADATA_SERVICE_PORT}"
    assert httpx.get(f"{url}/readyz", timeout=5, trust_env=False).status_code == 200
    kuberay = core.list_namespaced_pod(
        aibrix.SYSTEM_NAMESPACE, label_selector="app.kubernetes.io/name=kuberay-operator").items
    waiting = kuberay[0].status.container_statuses[0].state.waiting
    assert waiting.reason == "NoProgramOnTwin"
    assert not kuberay[0].status.container_statuses[0].ready


def test_model_deployment_gets_its_router(installer, namespace, apps):
    custom = client.CustomObjectsApi(apps.api_client)
    model = f"m-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": model, "labels": {aibrix.LABEL_MODEL_NAME: model}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": model}},
                     "template": {"metadata": {"labels": {"app": model}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    apps.create_namespaced_deployment(namespace, body)

    def route() -> dict | None:
        try:
            return custom.get_namespaced_custom_object(
                "gateway.networking.k8s.io", "v1", aibrix.SYSTEM_NAMESPACE, "httproutes",
                f"{model}-router")
        except client.ApiException:
            return None

    found = wait_until(route, 30, f"HTTPRoute {model}-router")
    assert found["spec"]["rules"][0]["backendRefs"][0] == {
        "group": "", "kind": "Service", "name": model, "namespace": namespace, "port": 8000,
        "weight": 1}
    apps.delete_namespaced_deployment(model, namespace)
    wait_until(lambda: route() is None, 30, f"HTTPRoute {model}-router to be deleted")


def test_stack_cases_pass_on_the_twin(installer, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/conformance/test_stack.py", "-q",
         "-p", "no:cacheprovider", "--aibrix-install"],
        cwd=REPO, capture_output=True, text=True, check=False)
    report = json.loads((REPO / "reports" / "conformance-latest.json").read_text())
    outcomes = {case["id"]: case["outcome"] for case in report["cases"]}
    assert outcomes["AIBrixCrdsEstablished"] == "PASS", run.stdout[-2000:]
    assert outcomes["AIBrixDeploymentsAvailable"] == "PASS", run.stdout[-2000:]
    assert outcomes["StackFitsNodes"] in ("PASS", "SKIP"), run.stdout[-2000:]
    # Envoy Gateway's real controller creates the data-plane Service when it is built.
    expected = "PASS" if system_pods.envoy_gateway_binary() else "SKIP"
    assert outcomes["GatewayServiceFound"] == expected, run.stdout[-2000:]
    assert report["environment"]["aibrixVersion"] == aibrix.VERSION


def test_uninstall_removes_what_was_installed(installer, files, core):
    _uninstall_and_wait(installer, files)
    assert installer.record() == {}
    names = {c.metadata.name for c in client.ApiextensionsV1Api(core.api_client)
             .list_custom_resource_definition().items}
    assert not names & set(aibrix.CRDS)


def test_interrupted_install_is_completed_by_the_next(installer, files, twin):
    env = {**os.environ, "KUBECONFIG": str(twin.kubeconfig), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "brixcheck.cli", "stack", "install", "--timeout", "60"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("[stack] core CRDs"):
            proc.send_signal(signal.SIGINT)
            break
    assert proc.wait(timeout=30) == 130
    assert installer.record()["state"] == "installing"
    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert "completed" in rerun.stdout
    assert installer.record()["state"] == "installed"
    _uninstall_and_wait(installer, files)


def test_foreign_install_is_left_alone_and_other_versions_refused(installer, files, apps,
                                                                  core):
    controller = next(o for o in files.core
                      if o["kind"] == "Deployment" and o["metadata"]["name"] == CONTROLLER)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=aibrix.SYSTEM_NAMESPACE)))
    try:
        apps.create_namespaced_deployment(aibrix.SYSTEM_NAMESPACE, controller)
        report = installer.install(files, "x", available_timeout_s=5)
        assert report.outcome == "pre-existing"
        assert installer.record() == {}
        apps.patch_namespaced_deployment(CONTROLLER, aibrix.SYSTEM_NAMESPACE, {"spec": {
            "template": {"spec": {"containers": [
                {"name": "manager", "image": "aibrix/controller-manager:v0.4.1"}]}}}})
        with pytest.raises(NotSupportedInstallError, match=r"v0\.4\.1"):
            installer.install(files, "x")
        assert installer.uninstall(files) == []  # nothing of ours to remove
    finally:
        core.delete_namespace(aibrix.SYSTEM_NAMESPACE)
        wait_until(lambda: aibrix.SYSTEM_NAMESPACE not in
                   {n.metadata.name for n in core.list_namespace().items}, 120,
                   "aibrix-system to be deleted")
