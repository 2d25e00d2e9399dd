"""vllm-router in front of the twin's model pods (three GPU nodes, three pods), their addresses
read from the real API server: it serves through every pod, `random` stays uniform, and it
talks to loopback only. The same cases as on bare engines
(tests/integration/test_vllm_router_behaviour.py), here on the bench the shoot-out uses."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from brixcheck.conformance.routing_stats import (
    FALSE_ALARM,
    chi_square_uniform,
    uniform_sample_size,
)
from brixcheck.routers import vllm_router
from brixcheck.routers.behaviour import chat_body, served_by
from brixcheck.twin import lifecycle
from tests.twin.conftest import OWNER_LABEL, wait_until
from tests.twin.test_twin_pods import MODEL_ARGS, _pod, _ready

pytestmark = [pytest.mark.twin, pytest.mark.timeout(600)]
PODS = 3


@pytest.fixture(scope="module")
def pool() -> Iterator[dict[str, str]]:
    """A three-GPU twin with three model pods; pod name -> engine URL (pod IP, port 8000)."""
    lifecycle.down()  # a twin left up by an earlier module has one GPU node: start afresh
    layout = lifecycle.up(nodes="three-gpu")
    core = client.CoreV1Api(config.new_client_from_config(str(layout.kubeconfig)))
    namespace = f"selftest-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=namespace, labels=OWNER_LABEL)))
    try:
        names = [f"router-pod-{n}" for n in range(PODS)]
        for name in names:
            pod = _pod(name, [*MODEL_ARGS, "--served-model-name", "m"])
            pod["metadata"]["labels"]["model.aibrix.ai/name"] = "m"
            core.create_namespaced_pod(namespace, pod)
        for name in names:
            wait_until(lambda n=name: _ready(core, namespace, n), 120, f"{name} Ready")
        pods = core.list_namespaced_pod(namespace, label_selector="model.aibrix.ai/name=m")
        yield {p.metadata.name: f"http://{p.status.pod_ip}:8000" for p in pods.items}
    finally:
        core.delete_namespace(namespace)
        lifecycle.down()


def test_router_serves_the_twin_pods_uniformly_and_only_on_loopback(pool, tmp_path):
    assert len(pool) == PODS
    n = uniform_sample_size(PODS)
    with vllm_router.running(list(pool.values()), "random", tmp_path / "router.log") as router:
        counts = Counter(served_by(router.url, pool, chat_body("m", f"question {i}"))
                         for i in range(n))
        peers = vllm_router.remote_addresses(router.pid)
    assert set(counts) == set(pool), f"some pod was never served: {dict(counts)}"
    assert all(vllm_router.is_loopback(p) for p in peers), peers
    _, p_value = chi_square_uniform([counts[p] for p in pool])
    assert p_value >= FALSE_ALARM, f"not uniform: {dict(counts)} (p={p_value:.2g})"
