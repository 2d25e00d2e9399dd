"""Read what doctor looks at, through the official client: list calls and container logs.

Everything is read once (logs lazily, each at most once) and nothing is written: doctor only
uses get, list and log calls. A previous log that does not exist (the container never
restarted, or the runtime dropped it) reads as empty.
"""

from __future__ import annotations

import functools
import logging

from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.doctor.findings import LogReader, Observed
from brixcheck.doctor.gpu_facts import GpuFacts

log = logging.getLogger(__name__)
LOG_TAIL_LINES = 2000
TIMEOUT_S = 20


def log_reader(core: client.CoreV1Api) -> LogReader:
    """A cached reader of container logs; 400/404 (no such log) read as ''."""
    @functools.cache
    def read(namespace: str, pod: str, container: str, previous: bool) -> str:
        try:
            text = core.read_namespaced_pod_log(pod, namespace, container=container,
                                                previous=previous, tail_lines=LOG_TAIL_LINES,
                                                _request_timeout=TIMEOUT_S)
        except ApiException as exc:
            # A pod can go between listing it and reading its log (a rollout, an eviction):
            # a log that cannot be read is no log, never a crash of the diagnosis.
            log.debug("no %slog for %s/%s %s: %s %s", "previous " if previous else "",
                      namespace, pod, container, exc.status, exc.reason)
            return ""
        return str(text or "")

    return read


def observe(api_client: client.ApiClient, gpu: GpuFacts | None = None,
            time_scale: float = 1.0) -> Observed:
    """List nodes, pods, events, Services, Deployments and ReplicaSets of the whole cluster.

    Args:
        api_client: a connected client (`brixcheck.cluster.target.connect` makes one).
        gpu: GPU facts of the host or the twin, if any.
        time_scale: the cluster's seconds per pod-spec second (the twin's time factor).

    Returns:
        The snapshot the checks read.
    """
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    timeout = {"_request_timeout": TIMEOUT_S}
    return Observed(
        nodes=tuple(core.list_node(**timeout).items),
        pods=tuple(core.list_pod_for_all_namespaces(**timeout).items),
        events=tuple(core.list_event_for_all_namespaces(**timeout).items),
        services=tuple(core.list_service_for_all_namespaces(**timeout).items),
        deployments=tuple(apps.list_deployment_for_all_namespaces(**timeout).items),
        replica_sets=tuple(apps.list_replica_set_for_all_namespaces(**timeout).items),
        logs=log_reader(core), gpu=gpu, time_scale=time_scale,
    )
