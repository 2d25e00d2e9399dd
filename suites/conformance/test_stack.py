"""AIBrix stack: the v0.5.0 deployments, CRDs and the Envoy data plane exist and are healthy."""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.capability import Capability
from brixcheck.cluster.gateway import find_envoy_service
from brixcheck.cluster.kube import deployment_ready, unrunnable_reason
from brixcheck.cluster.stack import free_room, installed_version, release_requests
from brixcheck.cluster.target import Target
from brixcheck.conformance.case import Case
from brixcheck.doctor.facts import describe
from brixcheck.errors import BrixcheckError
from brixcheck.fixtures.stack import StackState

INSTALL = ("kubectl create -f https://github.com/vllm-project/aibrix/releases/download/v0.5.0/"
           "aibrix-dependency-v0.5.0.yaml (server-side) and aibrix-core-v0.5.0.yaml")
DEPLOYMENTS = Case(
    id="AIBrixDeploymentsAvailable",
    description="Every AIBrix v0.5.0 deployment in aibrix-system is Available with all its "
                "replicas ready (pods the target cannot run at all are named, not counted).",
    checks="aibrix-v0.5.0 §2.1, §2.5; seed §3 phase 2",
    remedy=f"install AIBrix: {INSTALL}; on a small node apply the K3s-small overrides "
           "(gateway and Envoy request 2 CPU / 8 GiB each)",
    capabilities=frozenset({Capability.AIBRIX_STACK}),
    diagnoses=("StackRequestsTooLarge",),
)
CRDS = Case(
    id="AIBrixCrdsEstablished",
    description="Every AIBrix v0.5.0 CRD is Established.",
    checks="aibrix-v0.5.0 §2.2",
    remedy=f"apply the AIBrix manifests server-side: {INSTALL}",
    capabilities=frozenset({Capability.AIBRIX_STACK}),
)
STACK_FITS = Case(
    id="StackFitsNodes",
    description="Before AIBrix is installed: the v0.5.0 release's requests (Envoy included) fit "
                "the nodes' free allocatable.",
    checks="aibrix-v0.5.0 §2.1, §11; seed §3 phase 2",
    remedy="install with the K3s-small overrides (gateway plugin and Envoy at 1 CPU / 1Gi): "
           "see manifests/aibrix/k3s-small/kustomization.yaml, then `kubectl apply -k "
           "manifests/aibrix/k3s-small`",
    capabilities=frozenset({Capability.KUBERNETES_API}),
)
GATEWAY_SERVICE = Case(
    id="GatewayServiceFound",
    description="The Envoy data-plane Service of Gateway aibrix-eg is found by Envoy Gateway's "
                "owner labels.",
    checks="aibrix-v0.5.0 §2.4; seed §5",
    remedy="check `kubectl -n envoy-gateway-system get svc,deploy` and that the Gateway "
           "aibrix-eg is Programmed",
    # Envoy Gateway's objects come with the installed stack; the plugin (AIBrixGateway) is
    # probed separately and runs on the twin without them.
    capabilities=frozenset({Capability.AIBRIX_STACK}),
    diagnoses=("TraefikHoldsPort80",),
)


@pytest.mark.case(DEPLOYMENTS)
def test_aibrix_deployments_available(target: Target, record_property):
    problems, not_run = [], {}
    for name, selector in aibrix.DEPLOYMENTS.items():
        try:
            deployment = target.apps.read_namespaced_deployment(name, aibrix.SYSTEM_NAMESPACE)
        except ApiException as exc:
            problems.append(f"{name}: {exc.reason}")
            continue
        if deployment_ready(deployment):
            continue
        why = unrunnable_reason(target.core, aibrix.SYSTEM_NAMESPACE, selector)
        if why:
            not_run[name] = why
        else:
            problems.append(f"{name}: not Available with every replica ready")
    record_property("not_run_by_target", not_run)
    assert not problems, "; ".join(problems)
    assert len(not_run) < len(aibrix.DEPLOYMENTS), "no AIBrix Deployment runs on this target"


@pytest.mark.case(CRDS)
def test_aibrix_crds_established(target: Target):
    api = client.ApiextensionsV1Api(target.api_client)
    missing = []
    for name in aibrix.CRDS:
        try:
            crd = api.read_custom_resource_definition(name)
        except ApiException:
            missing.append(name)
            continue
        if {c.type: c.status for c in crd.status.conditions or []}.get("Established") != "True":
            missing.append(f"{name} (not Established)")
    assert not missing, f"CRDs missing: {', '.join(missing)}"


def _amounts(amounts: dict) -> str:
    return " / ".join(describe(r, amounts[r]) for r in ("cpu", "memory"))


@pytest.mark.case(STACK_FITS)
def test_stack_fits_nodes(target: Target, aibrix_stack: StackState):
    room = aibrix_stack.room_before  # read before this session's install, if it installed
    if room is None:
        version = installed_version(target.apps)
        if version is not None:
            pytest.skip(f"AIBrix {version} is installed; AIBrixDeploymentsAvailable checks it")
        room = free_room(target.core)
    assert room is not None, "the cluster has no schedulable node"
    total, largest = release_requests(small=aibrix_stack.small)
    if room.holds(total, largest):
        return
    small = release_requests(small=True)
    verdict = "would fit" if room.holds(*small) else "would not fit either: add memory or a node"
    pytest.fail(f"the v0.5.0 release requests {_amounts(total)} (largest pod "
                f"{_amounts(largest)}), but node {room.node} has {_amounts(room.node_free)} "
                f"free and all nodes {_amounts(room.cluster_free)}; with the K3s-small "
                f"overrides ({_amounts(small[0])}) it {verdict}", pytrace=False)


@pytest.mark.case(GATEWAY_SERVICE)
def test_gateway_service_found(target: Target):
    why = unrunnable_reason(target.core, aibrix.ENVOY_GATEWAY_NAMESPACE,
                            "app.kubernetes.io/name=gateway-helm")
    if why:
        pytest.skip(f"Envoy Gateway's controller, which creates the Service, does not run on "
                    f"this target: {why}")
    try:
        find_envoy_service(target.core)
    except BrixcheckError as exc:
        pytest.fail(exc.message, pytrace=False)
