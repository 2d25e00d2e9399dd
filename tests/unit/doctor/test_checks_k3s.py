"""Doctor's K3s checks: Traefik on port 80 against the Envoy LoadBalancer; stack requests."""

from __future__ import annotations

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.doctor import FindingId
from brixcheck.doctor.checks.k3s import stack_requests_too_large, traefik_holds_port_80
from tests.unit.doctor import fakes

EG = "envoy-gateway-system"
NO_MEMORY = ("0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are "
             "available: 1 No preemption victims found for incoming pod.")


def _envoy(ingress_ip: str | None = None):
    return fakes.service(aibrix.ENVOY_SERVICE_NAME, EG, aibrix.ENVOY_SERVICE_LABELS,
                         ingress_ip=ingress_ip)


def test_traefik_holding_port_80_with_envoy_pending_gives_both_k3s_remedies():
    traefik = fakes.service("traefik", "kube-system", ingress_ip="192.168.1.5")
    [finding] = traefik_holds_port_80(fakes.observed([fakes.node()],
                                                     services=[traefik, _envoy()]))
    assert finding.id == FindingId.TRAEFIK_HOLDS_PORT_80
    assert f"{EG}/{aibrix.ENVOY_SERVICE_NAME}" in finding.cause
    remedy = "\n".join(finding.remedy)
    assert "disable: [traefik]" in remedy
    assert "/etc/rancher/k3s/config.yaml" in remedy
    assert '"envoyService":{"type":"NodePort"}' in remedy


def test_traefik_is_no_problem_once_envoy_has_an_address():
    traefik = fakes.service("traefik", "kube-system", ingress_ip="192.168.1.5")
    services = [traefik, _envoy("192.168.1.5")]
    assert traefik_holds_port_80(fakes.observed([fakes.node()], services=services)) == []


def _stack(node_memory: str):
    gateway = fakes.deployment("aibrix-gateway-plugins", aibrix.SYSTEM_NAMESPACE,
                               fakes.container("gateway-plugin", args=[], gpus=0,
                                               requests={"cpu": "2", "memory": "8Gi"}))
    envoy = fakes.deployment(aibrix.ENVOY_SERVICE_NAME, EG,
                             fakes.container("envoy", args=[], gpus=0,
                                             requests={"cpu": "2", "memory": "8Gi"}),
                             labels=aibrix.ENVOY_SERVICE_LABELS)
    placed = fakes.pod("gw-1", aibrix.SYSTEM_NAMESPACE,
                       spec_container=gateway.spec.template.spec.containers[0])
    rs = fakes.replica_set(envoy, "envoy-rs")
    waiting = fakes.pod("envoy-1", EG, phase="Pending", owner=rs, unschedulable=NO_MEMORY,
                        spec_container=envoy.spec.template.spec.containers[0])
    return fakes.observed([fakes.node(memory=node_memory)], [placed, waiting],
                          deployments=[gateway, envoy], replica_sets=[rs])


def test_stack_requests_too_large_gives_the_k3s_small_overrides():
    [finding] = stack_requests_too_large(_stack("15Gi"))
    assert finding.id == FindingId.STACK_REQUESTS_TOO_LARGE
    assert "16.0 GiB of memory, more than node k3s-gpu-0's 15.0 GiB" in finding.cause
    assert ("kubectl -n aibrix-system set resources deployment aibrix-gateway-plugins "
            "-c gateway-plugin --requests=cpu=1,memory=1Gi") in finding.remedy
    assert any("envoyproxy aibrix-custom-proxy-config" in c and '"memory":"1Gi"' in c
               for c in finding.remedy)


def test_pending_stack_pod_for_other_reasons_is_not_this_finding():
    seen = _stack("15Gi")
    seen.pods[1].status.conditions[0].message = "0/1 nodes are available: 1 node(s) had " \
                                                "untolerated taint {x: }."
    assert stack_requests_too_large(seen) == []
