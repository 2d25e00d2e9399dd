"""Fixtures for tests that need the twin: started once per session, stopped if we started it.

These tests use the twin exactly as a user's cluster: through its kubeconfig and the official
kubernetes client. Everything a test creates lives in its own namespace, labelled as ours and
deleted afterwards.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import yaml
from kubernetes import client, config

from brixcheck.twin import lifecycle
from brixcheck.twin.cluster import TwinLayout

OWNER_LABEL = {"app.kubernetes.io/managed-by": "brixcheck-selftest"}


def wait_until(check: Callable[[], object], timeout_s: float, what: str) -> object:
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture(scope="session")
def twin() -> Iterator[TwinLayout]:
    if shutil.which("etcd") is None:
        pytest.skip("the twin needs Debian's etcd-server: run `make twin-deps`")
    layout = TwinLayout.default()
    was_up = lifecycle.status() == 0
    lifecycle.up()
    yield layout
    if not was_up:
        lifecycle.down()


@pytest.fixture(scope="session")
def core(twin: TwinLayout) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(twin.kubeconfig)))


@pytest.fixture(scope="session")
def apps(twin: TwinLayout) -> client.AppsV1Api:
    return client.AppsV1Api(config.new_client_from_config(str(twin.kubeconfig)))


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"selftest-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels=OWNER_LABEL)))
    yield name
    core.delete_namespace(name)
    wait_until(lambda: not core.list_namespaced_pod(name).items, 60,
               f"pods of {name} to go")


@pytest.fixture(scope="module")
def more_gpus(twin: TwinLayout, core: client.CoreV1Api) -> Iterator[list[str]]:
    """Add the three-gpu profile's nodes whose pod CIDR is still free to the running twin (for
    two or more model pods, each on its own virtual GPU); removed when the module ends."""
    used = {n.spec.pod_cidr for n in core.list_node().items}
    names = []
    for node in yaml.safe_load_all((lifecycle.NODE_PROFILES / "three-gpu.yaml").read_text()):
        if node["spec"]["podCIDR"] in used:
            continue
        core.create_node(node)
        names.append(node["metadata"]["name"])
    yield names
    for name in names:
        core.delete_node(name)
