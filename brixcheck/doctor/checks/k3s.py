"""K3s pitfalls of an AIBrix install: Traefik holding port 80 against the gateway's
LoadBalancer, and the release's resource requests larger than a small node (AIBrix v0.5.0
notes §11).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from decimal import Decimal

from kubernetes import client

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.cluster.kube import pod_requests, quantity
from brixcheck.doctor.facts import (
    describe,
    first_sentence,
    names,
    owner_deployment,
    plural,
    pod_ref,
    scheduling_messages,
    unschedulable_message,
)
from brixcheck.doctor.findings import Finding, FindingId, Observed

KUBE_SYSTEM = "kube-system"
SVCLB_LABEL = "svccontroller.k3s.cattle.io/svcname"  # K3s ServiceLB's pods
OWNING_GATEWAY = "gateway.envoyproxy.io/owning-gateway-name"
HTTP_PORT = 80
STACK_NAMESPACES = (aibrix.SYSTEM_NAMESPACE, aibrix.ENVOY_GATEWAY_NAMESPACE)
SMALL = aibrix.K3S_SMALL_REQUESTS


def _merge_patch(kind: str, ns: str, name: str, body: Mapping[str, object]) -> str:
    text = json.dumps(body, separators=(",", ":"))
    return f"kubectl -n {ns} patch {kind} {name} --type=merge -p {shlex.quote(text)}"


def _envoy_service_patch(service_type: str) -> str:
    body = {"spec": {"provider": {"type": "Kubernetes", "kubernetes": {
        "envoyService": {"type": service_type}}}}}
    return _merge_patch("envoyproxy", aibrix.SYSTEM_NAMESPACE, aibrix.ENVOY_PROXY_NAME, body)


def _holds_port_80(pod: client.V1Pod) -> bool:
    return any(port.host_port == HTTP_PORT for c in pod.spec.containers
               for port in c.ports or [])


def _traefik_holders(seen: Observed) -> list[str]:
    found = [f"service/{KUBE_SYSTEM}/{s.metadata.name} LoadBalancer port {HTTP_PORT}"
             for s in seen.services
             if s.metadata.namespace == KUBE_SYSTEM and s.spec.type == "LoadBalancer"
             and (s.metadata.name == "traefik"
                  or any(p.port == HTTP_PORT for p in s.spec.ports or []))]
    found += [f"pod/{pod_ref(p)} holds hostPort {HTTP_PORT}" for p in seen.pods
              if p.metadata.namespace == KUBE_SYSTEM and p.status.phase == "Running"
              and (p.metadata.labels or {}).get(SVCLB_LABEL) == "traefik" and _holds_port_80(p)]
    return found


def _pending_envoy(seen: Observed) -> list[client.V1Service]:
    return [s for s in seen.services if s.spec.type == "LoadBalancer"
            and OWNING_GATEWAY in (s.metadata.labels or {})
            and not (s.status.load_balancer and s.status.load_balancer.ingress)]


def traefik_holds_port_80(seen: Observed) -> list[Finding]:
    """K3s's Traefik owns host port 80, so the Envoy LoadBalancer never gets an address."""
    holders, pending = _traefik_holders(seen), _pending_envoy(seen)
    if not holders or not pending:
        return []
    envoy = [f"{s.metadata.namespace}/{s.metadata.name}" for s in pending]
    cause = (f"K3s's bundled Traefik holds host port {HTTP_PORT} through ServiceLB, so the Envoy "
             f"Gateway LoadBalancer Service {names(envoy)} cannot be placed on port "
             f"{HTTP_PORT} and never gets an external IP: the AIBrix gateway is not reachable.")
    stuck = [f"pod/{pod_ref(p)} Pending: {first_sentence(unschedulable_message(p))}"
             for p in seen.pods
             if p.metadata.namespace == KUBE_SYSTEM and unschedulable_message(p)
             and (p.metadata.labels or {}).get(SVCLB_LABEL) in {s.metadata.name for s in pending}]
    remedy = (
        "# either disable K3s's Traefik (AIBrix brings its own gateway):",
        "echo 'disable: [traefik]' | sudo tee -a /etc/rancher/k3s/config.yaml   # merge by "
        "hand if the file already has a disable: list",
        "sudo systemctl restart k3s",
        f"kubectl -n {KUBE_SYSTEM} delete helmchart traefik --ignore-not-found",
        "# or keep Traefik and give Envoy a node port instead of port 80:",
        _envoy_service_patch("NodePort"),
        f"kubectl -n {aibrix.ENVOY_GATEWAY_NAMESPACE} get svc -l "
        f"{OWNING_GATEWAY}={aibrix.GATEWAY_NAME}",
    )
    evidence = (*holders, *(f"service/{e} LoadBalancer EXTERNAL-IP <pending>" for e in envoy),
                *stuck)
    return [Finding(FindingId.TRAEFIK_HOLDS_PORT_80, cause, remedy, evidence)]


def _short(seen: Observed, pod: client.V1Pod) -> list[str]:
    """The resources the scheduler found insufficient for a pod."""
    said = scheduling_messages(seen, pod)
    return [r for r in ("cpu", "memory") if f"Insufficient {r}" in said]


def _stack_pending(seen: Observed) -> list[client.V1Pod]:
    return [p for p in seen.pods if p.metadata.namespace in STACK_NAMESPACES
            and unschedulable_message(p) and _short(seen, p)]


def _is_envoy(deployment: client.V1Deployment) -> bool:
    return OWNING_GATEWAY in (deployment.metadata.labels or {})


def _too_big(container: client.V1Container) -> bool:
    requests = (container.resources.requests or {}) if container.resources else {}
    return (quantity(requests.get("cpu", "0")) > quantity(SMALL.cpu)
            or quantity(requests.get("memory", "0")) > quantity(SMALL.memory))


def _override(deployment: client.V1Deployment) -> list[str]:
    """The K3s-small override of one stack Deployment, if any container asks for more."""
    big = [c for c in deployment.spec.template.spec.containers if _too_big(c)]
    if not big:
        return []
    if _is_envoy(deployment):
        body = {"spec": {"provider": {"type": "Kubernetes", "kubernetes": {"envoyDeployment": {
            "container": {"resources": {"requests": {"cpu": SMALL.cpu,
                                                     "memory": SMALL.memory}}}}}}}}
        return [_merge_patch("envoyproxy", aibrix.SYSTEM_NAMESPACE, aibrix.ENVOY_PROXY_NAME,
                             body)]
    ns, name = deployment.metadata.namespace, deployment.metadata.name
    return [f"kubectl -n {ns} set resources deployment {name} -c {c.name} "
            f"--requests=cpu={SMALL.cpu},memory={SMALL.memory}" for c in big]


def _amount(resource: str, value: Decimal) -> str:
    """'4.3 CPU', '16.9 GiB of memory'."""
    text = describe(resource, value)
    return text if resource == "cpu" else f"{text} of {resource}"


def _largest_node(seen: Observed) -> client.V1Node | None:
    return max(seen.nodes, key=lambda n: quantity((n.status.allocatable or {}).get(
        "memory", "0")), default=None)


def _stack_total(seen: Observed, resource: str) -> Decimal:
    return sum((pod_requests(p).get(resource, Decimal(0)) for p in seen.pods
                if p.metadata.namespace in STACK_NAMESPACES
                and p.status.phase in ("Running", "Pending")), Decimal(0))


def stack_requests_too_large(seen: Observed) -> list[Finding]:
    """AIBrix stack pods Pending for 'Insufficient cpu/memory': apply the K3s-small overrides."""
    pending = _stack_pending(seen)
    node = _largest_node(seen)
    if not pending or node is None:
        return []
    allocatable = node.status.allocatable or {}
    short = sorted({r for p in pending for r in _short(seen, p)})
    sizes = " and ".join(_amount(r, _stack_total(seen, r)) for r in short)
    room = " and ".join(_amount(r, quantity(allocatable.get(r, "0"))) for r in short)
    big = aibrix.ENVOY_REQUESTS
    cause = (f"{plural(len(pending), 'AIBrix stack pod')} "
             f"{'stays' if len(pending) == 1 else 'stay'} Pending for {' and '.join(short)}: "
             f"the v0.5.0 release requests (gateway-plugins and Envoy {big.cpu} CPU / "
             f"{describe('memory', quantity(big.memory))} each) add up to {sizes}, more than "
             f"node {node.metadata.name}'s {room} allocatable.")
    deployments = {d.metadata.uid: d for d in seen.deployments
                   if d.metadata.namespace in STACK_NAMESPACES}
    remedy = [line for d in sorted(deployments.values(), key=lambda d: d.metadata.name)
              for line in _override(d)] or [
        f"# every stack container already asks for at most {SMALL.cpu} CPU / {SMALL.memory}: "
        f"node {node.metadata.name} is too small for AIBrix; add memory or a node"]
    owners = [owner_deployment(seen, p) for p in pending]
    evidence = [f"pod/{pod_ref(p)} Pending: {first_sentence(unschedulable_message(p))}"
                + (f" (deployment {o.metadata.name})" if o else "")
                for p, o in zip(pending, owners, strict=True)]
    return [Finding(FindingId.STACK_REQUESTS_TOO_LARGE, cause, tuple(remedy), tuple(evidence))]
