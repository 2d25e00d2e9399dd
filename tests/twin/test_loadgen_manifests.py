"""The in-cluster Locust manifests are valid Kubernetes objects: server-side dry-run on the twin.

dryRun=All sends each object through the real kube-apiserver's decoding, defaulting, validation
and admission without storing it, so a refused object is found without running anything (the
Jobs' actual run on the twin is test_incluster_load.py).
"""

from __future__ import annotations

import pytest
from kubernetes import client, config

from brixcheck.bench.incluster import LoadgenSpec, render
from brixcheck.bench.incluster_run import create
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.kube import OWNER_LABELS, RUN_LABEL, label_selector
from brixcheck.twin.cluster import TwinLayout

pytestmark = [pytest.mark.twin, pytest.mark.timeout(120)]


def test_rendered_loadgen_objects_pass_server_side_dry_run(twin: TwinLayout, namespace: str,
                                                           core: client.CoreV1Api):
    scenario = Scenario(id="dry", description="d", strategies=["baseline"],
                        workload=Workload(model="deepseek-r1-qwen-1b5"),
                        load=Load(rate_per_s=4, duration_s=10, processes=3, where="cluster"))
    spec = LoadgenSpec(scenario, "baseline", "http://deepseek-r1-qwen-1b5.default.svc:8000",
                       "dryrun", namespace, "bc-load-dryrun")
    objects = render(spec)
    assert sorted(o["kind"] for o in objects) == ["ConfigMap", "Job", "Job", "Service"]
    api = config.new_client_from_config(str(twin.kubeconfig))
    for obj in objects:
        create(api, obj, dry_run=True)
    # A broken object is refused by the same path (the dry run is a real check).
    bad = next(o for o in render(spec) if o["kind"] == "Job")
    bad["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    with pytest.raises(client.ApiException) as refused:
        create(api, bad, dry_run=True)
    assert refused.value.status == 422
    # Nothing was stored.
    selector = label_selector({**OWNER_LABELS, RUN_LABEL: "dryrun"})
    assert not client.BatchV1Api(api).list_namespaced_job(namespace,
                                                           label_selector=selector).items
    assert not core.list_namespaced_config_map(namespace, label_selector=selector).items
