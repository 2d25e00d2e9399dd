"""One in-cluster load run: create the rendered Locust objects, wait, read records back, delete.

Records come out through the worker pods' logs (brixcheck.load.framing): each worker prints its
finished records, framed and counted, when it stops, and the log outlives the container. The
framing check makes a cut log an error. Everything created is deleted afterwards by its run
label, on failure and Ctrl-C too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from brixcheck.bench.incluster import START_ALLOWANCE_S, LoadgenSpec, render
from brixcheck.bench.runner import DRAIN_S, LOG_NAME, RunResult
from brixcheck.errors import BrixcheckError
from brixcheck.kube import RUN_LABEL, label_selector, wait_for
from brixcheck.load.framing import merged, unframe

CPU_LINE = re.compile(r"workers' CPU ([\d.]+) s, master's CPU ([\d.]+) s")


def create(api: client.ApiClient, obj: dict[str, Any], dry_run: bool = False) -> None:
    """Create a rendered ConfigMap, Service or Job; `dry_run`: server-side dryRun=All."""
    namespace, kind = obj["metadata"]["namespace"], obj["kind"]
    extra = {"dry_run": "All"} if dry_run else {}
    if kind == "ConfigMap":
        client.CoreV1Api(api).create_namespaced_config_map(namespace, obj, **extra)
    elif kind == "Service":
        client.CoreV1Api(api).create_namespaced_service(namespace, obj, **extra)
    elif kind == "Job":
        client.BatchV1Api(api).create_namespaced_job(namespace, obj, **extra)
    else:
        raise ValueError(f"no create for kind {kind}")


def delete(api: client.ApiClient, spec: LoadgenSpec) -> None:
    """Delete this run's Jobs (with their pods), Service and ConfigMap, by label."""
    selector = label_selector({RUN_LABEL: spec.run_id, "brixcheck.io/loadgen": spec.name})
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    for job in batch.list_namespaced_job(spec.namespace, label_selector=selector).items:
        _ignore_gone(batch.delete_namespaced_job, job.metadata.name, spec.namespace,
                     propagation_policy="Foreground")
    for svc in core.list_namespaced_service(spec.namespace, label_selector=selector).items:
        _ignore_gone(core.delete_namespaced_service, svc.metadata.name, spec.namespace)
    for cm in core.list_namespaced_config_map(spec.namespace, label_selector=selector).items:
        _ignore_gone(core.delete_namespaced_config_map, cm.metadata.name, spec.namespace)


def _ignore_gone(call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except ApiException as exc:
        if exc.status != 404:
            raise


def _pods(api: client.ApiClient, spec: LoadgenSpec, role: str) -> list[client.V1Pod]:
    selector = label_selector({RUN_LABEL: spec.run_id, "brixcheck.io/loadgen": spec.name,
                               "brixcheck.io/loadgen-role": role})
    return client.CoreV1Api(api).list_namespaced_pod(spec.namespace,
                                                     label_selector=selector).items


def _finished(pods: list[client.V1Pod], count: int) -> bool:
    return len(pods) >= count and all(p.status.phase in ("Succeeded", "Failed") for p in pods)


def _states(pods: list[client.V1Pod]) -> str:
    """Each pod's phase and why its container waits, for a run that does not finish."""
    described = []
    for pod in pods:
        waiting = [s.state.waiting for s in pod.status.container_statuses or []
                   if s.state and s.state.waiting]
        why = f" ({waiting[0].reason}: {waiting[0].message})" if waiting else ""
        described.append(f"{pod.metadata.name} {pod.status.phase}{why}")
    return "; ".join(described) or "no pods yet"


def run_in_cluster(api: client.ApiClient, spec: LoadgenSpec, repeat: int, out: Path) -> RunResult:
    """Run the scenario as Locust Jobs; records land under `out` like a local run's."""
    records = out / spec.scenario.id / f"{spec.strategy}-r{repeat}"
    records.mkdir(parents=True, exist_ok=True)
    core = client.CoreV1Api(api)
    timeout = spec.scenario.load.duration_s + 2 * DRAIN_S + START_ALLOWANCE_S
    try:
        for obj in render(spec):
            create(api, obj)
        wait_for(lambda: _finished(_pods(api, spec, "master"), 1)
                 and _finished(_pods(api, spec, "worker"), spec.workers), timeout,
                 f"the Locust Jobs {spec.name} to finish",
                 lambda: _states(_pods(api, spec, "master") + _pods(api, spec, "worker")),
                 interval_s=2)
        master = _pods(api, spec, "master")[0]
        master_log = core.read_namespaced_pod_log(master.metadata.name, spec.namespace)
        logs = [core.read_namespaced_pod_log(p.metadata.name, spec.namespace)
                for p in _pods(api, spec, "worker")]
    finally:
        delete(api, spec)
    (records / LOG_NAME).write_text(master_log)
    try:
        shares = [share for log in logs for share in unframe(log)]
    except ValueError as exc:
        raise BrixcheckError(f"in-cluster records of {spec.name} are incomplete: {exc}",
                             "lower the rate or duration per worker, or raise the kubelet's "
                             "container-log-max-size") from None
    _write(records, spec, shares)
    cpu = CPU_LINE.search(master_log)
    cpu_s = float(cpu.group(1)) + float(cpu.group(2)) if cpu else float("nan")
    return RunResult(spec.scenario.id, spec.strategy, repeat, records, cpu_s,
                     0 if master.status.phase == "Succeeded" else 1)


def _write(records: Path, spec: LoadgenSpec, shares: list[Any]) -> None:
    """One JSONL per worker (named as locally), every time on the lowest-indexed worker's clock."""
    by_worker: dict[str, list[dict[str, Any]]] = {}
    for record in merged(shares):
        by_worker.setdefault(record["request_id"].split("-")[0], []).append(record)
    strategy = spec.strategy if spec.strategy != "baseline" else "none"
    for worker, rows in by_worker.items():
        path = records / f"{spec.scenario.id}-{strategy}-{worker}-{spec.name}.jsonl"
        path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))
