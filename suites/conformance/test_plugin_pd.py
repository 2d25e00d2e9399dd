"""The `pd` strategy (prefill/decode disaggregation): v0.5.0 sends the request to a prefill pod
first, then answers with a decode pod of the same roleset as `target-pod`
(pkg/plugins/gateway/algorithms/pd.go). Pods are told apart by the `role-name` label within a
`roleset-name`; the case deploys one prefill and one decode pod of the run's model under their
own model name (so the model's Deployment does not adopt them), and removes them afterwards.
The prefill answer must carry `kv_transfer_params` as an object: an engine without a KV connector
(`--kv-transfer-config`) answers null there and v0.5.0 then refuses the request with 503
`x-error-routing` (pd_disaggregation.go). So the pods run with the model's own
`--kv-transfer-config`; where the model has none, only the twin's engine emulator (which
implements vLLM's NixlConnector) gets the one of AIBrix's 1p1d sample; elsewhere the case is
NOT-SUPPORTED, since a stock vLLM image may lack NIXL.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator

import pytest

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.deployment import ModelDeployment
from brixcheck.cluster.kube import OWNER_LABELS
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case
from brixcheck.conformance.plugin import not_supported

ROLESET = "brixcheck-rs"
KV_FLAG = "--kv-transfer-config"
READY_TIMEOUT_S = 300.0
PD = Case(
    id="StrategyPdAnswersWithDecodePod",
    description="routing-strategy pd, with one prefill and one decode pod (labels roleset-name, "
                "role-name), answers 200 with target-pod naming the decode pod.",
    checks="aibrix-v0.5.0 §4 (pd.go)",
    remedy="label prefill and decode pods with roleset-name and role-name (prefill/decode), as "
           "AIBrix's StormService does; `kubectl -n aibrix-system logs "
           "deploy/aibrix-gateway-plugins` shows the prefill request",
    capabilities=frozenset({Capability.AIBRIX_GATEWAY, Capability.GPU_NODES}))


def _served_as(args: list[str], name: str) -> list[str]:
    out = list(args)
    if "--served-model-name" in out:
        out[out.index("--served-model-name") + 1] = name
    else:
        out += ["--served-model-name", name]
    return out


def _kv_args(target: Target, model: ModelDeployment) -> list[str] | None:
    """What the P/D pods add to the model's args for a KV connector; None: no connector."""
    if any(KV_FLAG in arg for arg in model.container.get("args") or []):
        return []  # the model's own, kept as written (also inside an `sh -c` line)
    if target.announced_engine == "emulator":  # the twin's emulator knows NixlConnector
        return [KV_FLAG, aibrix.PD_KV_TRANSFER_CONFIG]
    return None


def _pd_pod(model: ModelDeployment, name: str, role: str, kv_args: list[str]) -> dict:
    container = copy.deepcopy(model.container)
    args = _served_as(list(container.get("args") or []), name)
    container["args"] = args + kv_args
    labels = {aibrix.LABEL_MODEL_NAME: name, aibrix.LABEL_PORT: str(aibrix.DEFAULT_MODEL_PORT),
              "roleset-name": ROLESET, "role-name": role, **OWNER_LABELS}
    template = model.deployment["spec"]["template"]["spec"]
    spec = {k: v for k, v in template.items() if k != "containers"}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{name}-{role}", "labels": labels},
            "spec": {**spec, "containers": [container]}}


def _ready_ips(target: Target, namespace: str, name: str) -> dict[str, str]:
    pods = target.core.list_namespaced_pod(
        namespace, label_selector=f"{aibrix.LABEL_MODEL_NAME}={name}").items
    return {p.metadata.labels["role-name"]: f"{p.status.pod_ip}:{aibrix.DEFAULT_MODEL_PORT}"
            for p in pods if any(c.type == "Ready" and c.status == "True"
                                 for c in p.status.conditions or [])}


@pytest.fixture
def pd_pods(target: Target, model: ModelDeployment) -> Iterator[tuple[str, dict[str, str]]]:
    kv_args = _kv_args(target, model)
    if kv_args is None:
        not_supported(f"pd needs engines with a KV connector: give the model's container "
                      f"{KV_FLAG} (e.g. {aibrix.PD_KV_TRANSFER_CONFIG}, with an image that has "
                      "NIXL); without one v0.5.0 answers 503 x-error-routing (the prefill "
                      "answer's kv_transfer_params is null)")
    free = sum(int((n.status.allocatable or {}).get("nvidia.com/gpu", "0"))
               for n in target.core.list_node().items) - 1
    if free < 2:
        not_supported(f"pd needs a prefill and a decode pod beside the "
                      f"model's: {free} GPU free (on the twin: --twin-nodes three-gpu)")
    name = f"{model.name}-pd"
    for role in ("prefill", "decode"):
        target.core.create_namespaced_pod(model.namespace, _pd_pod(model, name, role, kv_args))
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S * target.time_scale
        while len(_ready_ips(target, model.namespace, name)) < 2:
            if time.monotonic() > deadline:
                pytest.fail("the prefill and decode pods did not become Ready")
            time.sleep(1)  # polls the Ready condition
        yield name, _ready_ips(target, model.namespace, name)
    finally:
        for role in ("prefill", "decode"):
            target.core.delete_namespaced_pod(f"{name}-{role}", model.namespace,
                                              grace_period_seconds=0)


@pytest.mark.case(PD)
def test_pd_answers_with_the_decode_pod(request: pytest.FixtureRequest):
    gateway_client = request.getfixturevalue("gateway_client")
    name, ips = request.getfixturevalue("pd_pods")
    body = json.dumps({"model": name, "max_tokens": 4,
                       "messages": [{"role": "user", "content": "hi"}]})
    deadline = time.monotonic() + 30
    while True:
        built = gateway_client.build_request("POST", "/v1/chat/completions", content=body,
                                             headers={"routing-strategy": "pd",
                                                      "content-type": "application/json"})
        built.headers.pop("model", None)
        response = gateway_client.send(built)
        if response.status_code != 400 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # until the plugin's pod watch has the new pods
    assert response.status_code == 200, f"pd: {response.status_code} {response.text[:200]}"
    assert response.headers.get("target-pod") == ips["decode"], (
        f"target-pod {response.headers.get('target-pod')!r}, decode pod {ips['decode']}")
