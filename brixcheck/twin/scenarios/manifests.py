"""Manifests the scenarios create: model Deployments derived from the project's corrected seed
manifest, K3s ServiceLB (svclb) DaemonSets, and AIBrix v0.5.0 stack Deployments with the
release's names and requests.

Only the fields a scenario needs differ from what the real objects carry; images are the real
ones although the twin never pulls them. Container names of the stack Deployments are this
module's, not facts of the release (doctor reads names from the cluster).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.resources import data_path

MODEL_MANIFEST = data_path("manifests", "models", "deepseek-r1-qwen-1b5.yaml")
MODEL_LABEL = aibrix.LABEL_MODEL_NAME
KLIPPER_IMAGE = "rancher/klipper-lb:v0.4.9"
SVCLB_LABEL = "svccontroller.k3s.cattle.io/svcname"
SVCLB_NS_LABEL = "svccontroller.k3s.cattle.io/svcnamespace"
ENVOY_LISTENER_PORT = aibrix.ENVOY_LISTENER_PORT
ENVOY_LABELS = {**aibrix.ENVOY_SERVICE_LABELS, "app.kubernetes.io/name": "envoy",
                "app.kubernetes.io/component": "proxy"}
K3S_TOLERATIONS = [
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists",
     "effect": "NoSchedule"},
    {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
]
Manifest = dict[str, Any]


def _seed_model() -> Manifest:
    deployment: Manifest = next(d for d in yaml.safe_load_all(MODEL_MANIFEST.read_text())
                                if d["kind"] == "Deployment")
    return deployment


def _set_flag(args: list[str], flag: str, value: str | None) -> list[str]:
    """Set (or with None remove) `flag value` in a vLLM argument list."""
    out, index = [], 0
    while index < len(args):
        if args[index] == flag:
            index += 2
            continue
        out.append(args[index])
        index += 1
    return out if value is None else [*out, flag, value]


def model_deployment(name: str, namespace: str, flags: dict[str, str | None] | None = None,
                     annotations: dict[str, str] | None = None) -> Manifest:
    """The corrected seed model as Deployment `name`, serving model `name`.

    Args:
        name: Deployment name, model label and served model name.
        namespace: where it goes.
        flags: vLLM flags to set (a None value removes the flag).
        annotations: pod template annotations (e.g. brixcheck.io/engine-args).

    Returns:
        The manifest.
    """
    deployment = copy.deepcopy(_seed_model())
    deployment["metadata"] = {"name": name, "namespace": namespace, "labels": {MODEL_LABEL: name}}
    spec = deployment["spec"]
    spec["selector"]["matchLabels"] = {MODEL_LABEL: name}
    template = spec["template"]
    template["metadata"]["labels"][MODEL_LABEL] = name
    template["metadata"]["annotations"] = dict(annotations or {})
    container = template["spec"]["containers"][0]
    args = _set_flag(container["args"], "--served-model-name", name)
    for flag, value in (flags or {}).items():
        args = _set_flag(args, flag, value)
    container["args"] = args
    return deployment


def model_pod(name: str, namespace: str, node: str) -> Manifest:
    """A bare model pod bound to `node` (the pod template of the corrected seed)."""
    template = copy.deepcopy(_seed_model()["spec"]["template"])
    template["metadata"]["labels"][MODEL_LABEL] = name
    template["spec"]["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, **template["metadata"]},
            "spec": template["spec"]}


def load_balancer_service(name: str, namespace: str, labels: dict[str, str],
                          ports: dict[str, tuple[int, int]]) -> Manifest:
    """A LoadBalancer Service; `ports` maps a port name to (port, targetPort)."""
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"type": "LoadBalancer", "selector": dict(labels),
                     "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"}
                               for n, (p, t) in ports.items()]}}


def svclb_daemonset(service: str, service_ns: str, uid: str, ports: list[int]) -> Manifest:
    """The DaemonSet K3s's ServiceLB creates in kube-system for a LoadBalancer Service: one
    klipper-lb container per port, each holding that port on the host."""
    name = f"svclb-{service}-{uid[:8]}"
    labels = {"app": name, SVCLB_LABEL: service, SVCLB_NS_LABEL: service_ns}
    containers = [{"name": f"lb-tcp-{port}", "image": KLIPPER_IMAGE,
                   "ports": [{"name": f"lb-tcp-{port}", "containerPort": port,
                              "hostPort": port, "protocol": "TCP"}],
                   "env": [{"name": "SRC_PORT", "value": str(port)},
                           {"name": "DEST_PROTO", "value": "TCP"}],
                   "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}
                  for port in ports]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": "kube-system", "labels": dict(labels)},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": containers,
                                           "tolerations": K3S_TOLERATIONS}}}}


def _resources(requests: aibrix.Requests) -> dict[str, dict[str, str]]:
    values = {"cpu": requests.cpu, "memory": requests.memory}
    return {"requests": dict(values), "limits": dict(values)}


def stack_deployment(name: str, namespace: str, labels: dict[str, str],
                     containers: dict[str, tuple[str, aibrix.Requests]]) -> Manifest:
    """A stack Deployment; `containers` maps a name to (image, requests = limits)."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
            "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [
                         {"name": c, "image": image, "resources": _resources(r)}
                         for c, (image, r) in containers.items()]}}}}


def selector_labels(selector: str) -> dict[str, str]:
    """'app=redis,role=master' -> {'app': 'redis', 'role': 'master'}."""
    return dict(item.split("=", 1) for item in selector.split(","))


def aibrix_stack(namespace: str) -> list[Manifest]:
    """The v0.5.0 release Deployments of aibrix-system with their requests (§2.1)."""
    stack = []
    for name, requests in aibrix.RELEASE_REQUESTS.items():
        short = name.removeprefix("aibrix-")
        image = f"aibrix/{short}:{aibrix.VERSION}"
        stack.append(stack_deployment(name, namespace, selector_labels(aibrix.DEPLOYMENTS[name]),
                                      {short: (image, requests)}))
    return stack


def envoy_deployment(namespace: str) -> Manifest:
    """Envoy Gateway's data-plane Deployment for Gateway aibrix-eg, at the release's size."""
    return stack_deployment(aibrix.ENVOY_SERVICE_NAME, namespace, ENVOY_LABELS, {
        "envoy": (f"envoyproxy/envoy:v{aibrix.ENVOY_VERSION_IN_RELEASE}", aibrix.ENVOY_REQUESTS),
        "shutdown-manager": (f"envoyproxy/gateway:{aibrix.ENVOY_GATEWAY_VERSION}",
                             aibrix.Requests("10m", "32Mi")),
    })
