"""In-cluster Locust Jobs on the twin: a master and two workers, run by the loadgen pod backer.

The run takes the suite's own path (`run_in_cluster`): the ConfigMap, the master Job and its
headless Service and the worker Job go through the API server, the Job controller makes the
pods, the twin's backer runs their containers (the image's `pip install` included, offline),
and the records come back only through the worker pods' logs, framed and counted.

Asserted: the Jobs complete; both workers' shares are framed and complete; the same seeded
schedule run locally (Locust's distributed mode on this machine, two workers) gives exactly the
same requests, from the same worker each, at the same intended offsets (to 5 ms: each worker
maps the master's wall-clock start onto its own monotonic clock); and nothing of the run is
left in the cluster, in the backer's directory or in the machine's /tmp.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from brixcheck.bench import incluster_run
from brixcheck.bench.incluster import RECORDS_DIR, LoadgenSpec
from brixcheck.bench.incluster_run import run_in_cluster
from brixcheck.bench.runner import run_once
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.kube import RUN_LABEL, label_selector
from brixcheck.load.records import read_records
from brixcheck.load.schedule import Arrival, arrival_offsets
from brixcheck.twin.cluster import TwinLayout
from tests.twin.conftest import wait_until

pytestmark = [pytest.mark.twin, pytest.mark.timeout(150)]

REPO = Path(__file__).resolve().parents[2]
MODEL = "deepseek-r1-qwen-1b5"
RATE, DURATION, SEED = 4.0, 3.0, 11
SCENARIO_ID = "incluster-twin"


def _scenario() -> Scenario:
    return Scenario(id=SCENARIO_ID, description="in-cluster Locust on the twin",
                    strategies=["baseline"],
                    workload=Workload(model=MODEL, prompt_words=20, output_tokens=4, seed=SEED),
                    load=Load(rate_per_s=RATE, duration_s=DURATION, warmup_s=0, processes=2,
                              where="cluster"))


def _ready_model_pod(apps: client.AppsV1Api, core: client.CoreV1Api,
                     namespace: str) -> client.V1Pod:
    deployment, service = yaml.safe_load_all(
        (REPO / "manifests" / "models" / f"{MODEL}.yaml").read_text())
    deployment["spec"]["template"]["metadata"]["annotations"] = {
        "brixcheck.io/engine-args": "--emu-load-time-factor 0.02"}
    apps.create_namespaced_deployment(namespace, deployment)
    core.create_namespaced_service(namespace, service)

    def ready() -> client.V1Pod | None:
        for pod in core.list_namespaced_pod(namespace,
                                            label_selector=f"model.aibrix.ai/name={MODEL}").items:
            if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
                return pod
        return None

    return wait_until(ready, 60, "the model pod to be Ready")


def _by_index(records_dir: Path) -> dict[int, dict[str, Any]]:
    records = [r for path in records_dir.glob("*.jsonl") for r in read_records(path)]
    by_index = {int(r["request_id"].split("-")[1]): r for r in records}
    assert len(by_index) == len(records), "a schedule index was sent twice"
    return by_index


def _offsets(records: dict[int, dict[str, Any]]) -> dict[int, float]:
    start = min(r["intended_s"] for r in records.values())
    return {index: r["intended_s"] - start for index, r in records.items()}


def _left_over(twin: TwinLayout, core: client.CoreV1Api, namespace: str, run_id: str) -> list:
    api = core.api_client
    selector = label_selector({RUN_LABEL: run_id})
    objects = [*client.BatchV1Api(api).list_namespaced_job(namespace,
                                                            label_selector=selector).items,
               *core.list_namespaced_service(namespace, label_selector=selector).items,
               *core.list_namespaced_config_map(namespace, label_selector=selector).items,
               *core.list_namespaced_pod(namespace, label_selector="brixcheck.io/loadgen").items]
    logs = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "kwok.x-k8s.io", "v1alpha1", namespace, "logs")["items"]
    names = [o.metadata.name for o in objects]
    names += [o["metadata"]["name"] for o in logs if "bc-load" in o["metadata"]["name"]]
    names += [p.name for p in (twin.run_dir / "loadgen").glob(f"{namespace}_*")]
    return names


def test_incluster_locust_jobs_run_with_two_workers_and_match_a_local_run(
        twin: TwinLayout, apps: client.AppsV1Api, core: client.CoreV1Api, namespace: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Nothing is pulled or installed on the twin: a run that has not finished within a minute
    # is stuck, and the wait then says in what state each pod is.
    monkeypatch.setattr(incluster_run, "START_ALLOWANCE_S", 60)
    pod = _ready_model_pod(apps, core, namespace)
    scenario, run_id = _scenario(), f"incluster{int(time.time())}"
    spec = LoadgenSpec(scenario, "baseline", f"http://{MODEL}.{namespace}.svc:8000", run_id,
                       namespace, f"bc-load-{run_id}")
    host_tmp = Path(RECORDS_DIR)
    before = set(host_tmp.glob(f"{SCENARIO_ID}-*")) if host_tmp.is_dir() else set()

    started = time.monotonic()
    result = run_in_cluster(config.new_client_from_config(str(twin.kubeconfig)), spec, 0,
                            tmp_path / "cluster")
    took = time.monotonic() - started
    print(f"in-cluster run with 2 workers: {took:.1f} s from create to delete")

    assert result.returncode == 0, (result.records / "locust.log").read_text()[-2000:]
    assert "all 2 workers sent their share" in (result.records / "locust.log").read_text()
    in_cluster = _by_index(result.records)
    local_run = run_once(scenario, "baseline", 0, f"http://{pod.status.pod_ip}:8000",
                         tmp_path / "local")
    assert not local_run.stopped, local_run.stopped
    assert local_run.returncode == 0
    local = _by_index(local_run.records)

    scheduled = len(arrival_offsets(RATE, DURATION, Arrival.POISSON, seed=SEED))
    assert sorted(in_cluster) == sorted(local) == list(range(scheduled))
    assert {r["request_id"] for r in in_cluster.values()} == \
        {r["request_id"] for r in local.values()}, "each request came from the same worker"
    assert {r["request_id"].split("-")[0] for r in in_cluster.values()} == {"0", "1"}
    assert all(r["status"] == 200 for r in [*in_cluster.values(), *local.values()])
    cluster_offsets, local_offsets = _offsets(in_cluster), _offsets(local)
    assert all(abs(cluster_offsets[i] - local_offsets[i]) < 0.005 for i in local_offsets)

    wait_until(lambda: not _left_over(twin, core, namespace, run_id), 30,
               "the run's Jobs, pods, Service, ConfigMap, Logs and pod directories to go")
    after = set(host_tmp.glob(f"{SCENARIO_ID}-*")) if host_tmp.is_dir() else set()
    assert after == before, "a pod wrote its records into the machine's /tmp"
