"""The cluster a run is pointed at: a user's cluster by kubeconfig, or the twin.

Both are reached the same way (a kubeconfig and the official client); what differs is the set of
capabilities the target can show, which decides NOT-SUPPORTED before a case runs. The twin cannot
host AIBrix itself (its Go module cannot be fetched here, docs/twin.md), has no real kubelet and
no NVML; a real cluster is assumed to have all of these, so their absence there is a FAIL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.conformance.model import Capability
from brixcheck.errors import BrixcheckError
from brixcheck.stack import installed_version

GPU_RESOURCE = "nvidia.com/gpu"
TWIN_LACKS = {
    Capability.AIBRIX_STACK: "AIBrix is not installed on the twin: pass --aibrix-install "
                             "or run `brixcheck stack install`",
    Capability.AIBRIX_GATEWAY: "AIBrix's gateway plugin cannot be built here (docs/twin.md)",
    Capability.REAL_KUBELET: "the twin's pods are run by its pod backer, not a kubelet",
    Capability.NVML: "the twin's GPUs are virtual; NVML runs on real GPUs only",
    Capability.CONTAINER_RUNTIME: "the twin has no container runtime: only model pods run, "
                                  "backed by emulated engines, so other pods (such as the "
                                  "in-cluster Locust Jobs) never start",
}


@dataclass
class Target:
    """A connected cluster and what it can show."""

    kind: str
    kubeconfig: Path
    api_client: client.ApiClient
    capabilities: set[Capability] = field(default_factory=set)
    environment: dict[str, Any] = field(default_factory=dict)
    time_scale: float = 1.0

    @property
    def core(self) -> client.CoreV1Api:
        """Core API."""
        return client.CoreV1Api(self.api_client)

    @property
    def apps(self) -> client.AppsV1Api:
        """Apps API."""
        return client.AppsV1Api(self.api_client)

    def describe_missing(self, missing: list[str]) -> str:
        """Why the target lacks these capabilities, for a NOT-SUPPORTED reason."""
        if self.kind == "twin":
            return "; ".join(TWIN_LACKS.get(Capability(m), m) for m in missing)
        return "not detected on this cluster"


def _client(kubeconfig: Path) -> client.ApiClient:
    if not kubeconfig.exists():
        raise BrixcheckError(f"kubeconfig {kubeconfig} does not exist",
                             "pass --kubeconfig PATH, or omit it to use the twin")
    try:
        return config.new_client_from_config(str(kubeconfig))
    except (config.ConfigException, ValueError, TypeError) as exc:
        raise BrixcheckError(f"kubeconfig {kubeconfig} is not usable: {exc}",
                             "point --kubeconfig at a valid kubeconfig file") from None


def connect(kubeconfig: Path, kind: str, time_scale: float = 1.0) -> Target:
    """Connect, check the API answers and list nodes, and work out capabilities."""
    api = _client(kubeconfig)
    try:
        version = client.VersionApi(api).get_code(_request_timeout=10)
        nodes = client.CoreV1Api(api).list_node(_request_timeout=10).items
    except (ApiException, HTTPError, OSError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise BrixcheckError(f"the Kubernetes API of {kubeconfig} does not answer ({reason})",
                             "check that the cluster runs and the kubeconfig's server and "
                             "credentials are right") from None
    target = Target(kind, kubeconfig, api, time_scale=time_scale)
    target.capabilities = _capabilities(kind, nodes)
    target.environment = _environment(kind, version, nodes)
    # Empty when AIBrix is not installed, so twin runs keep one history fingerprint.
    target.environment["aibrixVersion"] = installed_version(target.apps) or ""
    if kind == "twin" and target.environment["aibrixVersion"] == aibrix.VERSION:
        target.capabilities.add(Capability.AIBRIX_STACK)  # installed from AIBrix's own files
    return target


def _capabilities(kind: str, nodes: list[client.V1Node]) -> set[Capability]:
    found = {Capability.KUBERNETES_API, Capability.MODEL_PODS}
    if any(int((n.status.allocatable or {}).get(GPU_RESOURCE, "0")) > 0 for n in nodes):
        found.add(Capability.GPU_NODES)
    if kind != "twin":
        found |= set(TWIN_LACKS)
    return found


def _environment(kind: str, version: Any, nodes: list[client.V1Node]) -> dict[str, Any]:
    kubelets = sorted({n.status.node_info.kubelet_version for n in nodes if n.status.node_info})
    return {
        "target": kind,
        "kubernetes": version.git_version,
        "k3s": any("+k3s" in v for v in kubelets),
        "kubeletVersions": kubelets,
        "nodes": len(nodes),
        "gpuProducts": sorted({(n.metadata.labels or {}).get("nvidia.com/gpu.product", "?")
                               for n in nodes
                               if (n.status.allocatable or {}).get(GPU_RESOURCE)}),
    }
