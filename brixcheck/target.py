"""The cluster a run is pointed at: a user's cluster by kubeconfig, or the twin.

Both are reached the same way (a kubeconfig and the official client); what differs is the set of
capabilities the target can show, which decides NOT-SUPPORTED before a case runs. Whether a
cluster is the twin is read from the cluster itself (the marker `brixcheck twin up` writes), so
`--kubeconfig`, $KUBECONFIG and the default route to the twin give the same verdicts. The twin
cannot host AIBrix itself (its Go module cannot be fetched here, docs/twin.md), has no real
kubelet and no NVML; a real cluster is assumed to have all of these, so their absence there is a
FAIL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError, ReadTimeoutError

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.conformance.model import Capability
from brixcheck.errors import BrixcheckError
from brixcheck.stack import installed_version

GPU_RESOURCE = "nvidia.com/gpu"
TWIN_MARKER = ("kube-public", "brixcheck-twin")  # namespace, ConfigMap (brixcheck.twin.lifecycle)
PROBE_TIMEOUT_S = (5.0, 10.0)  # connect, read
TWIN_LACKS = {
    Capability.AIBRIX_STACK: "AIBrix is not installed on the twin: pass --aibrix-install "
                             "or run `brixcheck stack install`",
    Capability.REAL_KUBELET: "the twin's pods are run by its pod backer, not a kubelet",
    Capability.NVML: "the twin's GPUs are virtual; NVML runs on real GPUs only",
    Capability.CONTAINER_RUNTIME: "the twin has no container runtime: its pod backers run "
                                  "model pods (emulated engines), AIBrix's stack pods and the "
                                  "in-cluster Locust Jobs' pods, no other image",
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
    probe_reasons: dict[Capability, str] = field(default_factory=dict)
    twin: dict[str, str] = field(default_factory=dict)  # the twin's marker: gateway, timeFactor

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
        reasons = [self.probe_reasons.get(Capability(m)) or (
            TWIN_LACKS.get(Capability(m), m) if self.kind == "twin"
            else "not detected on this cluster") for m in missing]
        return "; ".join(reasons)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid YAML ({getattr(exc, 'problem', None) or 'unreadable'}{where})"


def _client(kubeconfig: Path, retries: int | None = None) -> client.ApiClient:
    if not kubeconfig.exists():
        raise BrixcheckError(f"kubeconfig {kubeconfig} does not exist",
                             "pass --kubeconfig PATH, or omit it to use the twin")
    settings = client.Configuration()
    settings.retries = retries
    try:
        return config.new_client_from_config(str(kubeconfig), client_configuration=settings)
    except yaml.YAMLError as exc:
        problem = _yaml_problem(exc)
    except (config.ConfigException, ValueError, TypeError, AttributeError, KeyError) as exc:
        problem = f"not usable: {_plain(exc)}"
    raise BrixcheckError(f"kubeconfig {kubeconfig} is {problem}",
                         "point --kubeconfig (or KUBECONFIG) at a valid kubeconfig file")


def _plain(exc: BaseException) -> str:
    """An error's words without library object reprs (`<...Connection object at 0x...>: `)."""
    text = re.sub(r"<[^<>]* object at 0x[0-9a-f]+>:?\s*", "", str(exc))
    return text.splitlines()[0].strip() if text.strip() else type(exc).__name__


def _why_silent(exc: BaseException) -> str:
    """What went wrong reaching the API, in words."""
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    reason = getattr(exc, "reason", None)
    cause = reason if isinstance(reason, BaseException) else exc
    if isinstance(cause, ReadTimeoutError | TimeoutError):
        return f"no answer within {PROBE_TIMEOUT_S[1]:g} s"
    errno = re.search(r"\[Errno -?\d+\] ([^')]+)", str(cause))
    return errno.group(1).strip() if errno else _plain(cause)


def _probe(api: client.ApiClient) -> tuple[Any, list[client.V1Node]]:
    """The version and the nodes, each call bounded by PROBE_TIMEOUT_S."""
    version = client.VersionApi(api).get_code(_request_timeout=PROBE_TIMEOUT_S)
    return version, client.CoreV1Api(api).list_node(_request_timeout=PROBE_TIMEOUT_S).items


def connect(kubeconfig: Path, kind: str, time_scale: float = 1.0) -> Target:
    """Connect, check the API answers and list nodes, and work out capabilities."""
    try:
        # No retries for the first look: a silent server costs one bounded wait, not four.
        version, nodes = _probe(_client(kubeconfig, retries=0))
    except (ApiException, HTTPError, OSError) as exc:
        raise BrixcheckError(f"the Kubernetes API of {kubeconfig} does not answer "
                             f"({_why_silent(exc)})", "check that the cluster runs and the "
                             "kubeconfig's server and credentials are right") from None
    api = _client(kubeconfig)
    marker = twin_marker(api)
    if marker:
        kind, time_scale = "twin", float(marker.get("timeFactor", time_scale))
    target = Target(kind, kubeconfig, api, time_scale=time_scale, twin=marker)
    target.capabilities = _capabilities(kind, nodes)
    target.environment = _environment(kind, version, nodes)
    # Empty when AIBrix is not installed, so twin runs keep one history fingerprint.
    target.environment["aibrixVersion"] = installed_version(target.apps) or ""
    if kind == "twin" and target.environment["aibrixVersion"] == aibrix.VERSION:
        target.capabilities.add(Capability.AIBRIX_STACK)  # installed from AIBrix's own files
    return target


def twin_marker(api: client.ApiClient) -> dict[str, str]:
    """The twin's marker ConfigMap's data; empty on any other cluster."""
    namespace, name = TWIN_MARKER
    try:
        return client.CoreV1Api(api).read_namespaced_config_map(
            name, namespace, _request_timeout=PROBE_TIMEOUT_S).data or {}
    except (ApiException, HTTPError, OSError):
        return {}  # 404 on a cluster that is not the twin, 403 where we may not read it


def _capabilities(kind: str, nodes: list[client.V1Node]) -> set[Capability]:
    found = {Capability.KUBERNETES_API, Capability.MODEL_PODS, Capability.LOADGEN_PODS}
    if any(int((n.status.allocatable or {}).get(GPU_RESOURCE, "0")) > 0 for n in nodes):
        found.add(Capability.GPU_NODES)
    if kind != "twin":
        found |= set(TWIN_LACKS)
    return found  # AIBRIX_GATEWAY is probed with a request (brixcheck.gateway.probe_gateway)


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
