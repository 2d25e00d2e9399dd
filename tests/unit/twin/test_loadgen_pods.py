"""The loadgen pod backer's pure parts: mount paths, Locust's host words, Service resolution
and the kwok stages that hand the Locust pods to it (the whole run: tests/twin, in-cluster load).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as Obj

import pytest

from brixcheck.bench.incluster import LoadgenSpec, render
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.twin import cluster
from brixcheck.twin.loadgen_pods import host_words, mount_rewriter
from brixcheck.twin.system_pods import ServiceResolver


def test_mount_paths_are_rewritten_only_as_whole_path_components(tmp_path: Path):
    rewrite = mount_rewriter({"/brixcheck": tmp_path / "code", "/brixcheck/data": tmp_path / "d"})
    script = 'exec python -m locust -f /brixcheck/locustfile.py "$@"'
    assert rewrite(script) == f'exec python -m locust -f {tmp_path}/code/locustfile.py "$@"'
    assert rewrite("/brixcheck") == str(tmp_path / "code")
    assert rewrite("/brixcheck/data/run.json") == f"{tmp_path}/d/run.json"
    for untouched in ("--brixcheck-run", "/opt/brixcheck/x", "/brixcheck-other", "a/brixcheck"):
        assert rewrite(untouched) == untouched


def test_host_words_are_locusts_master_host_and_target_url():
    argv = ["--worker", "--master-host", "m", "--master-port", "5557", "-H", "http://s:80",
            "--host=http://t", "--bc-model", "deepseek-r1-qwen-1b5"]
    assert host_words(argv) == [(2, False), (6, True), (7, True)]


def _spec() -> LoadgenSpec:
    scenario = Scenario(id="s", description="d", strategies=["baseline"],
                        workload=Workload(model="m"),
                        load=Load(rate_per_s=2, duration_s=2, processes=2, where="cluster"))
    return LoadgenSpec(scenario, "baseline", "http://m.ns.svc:8000", "r1", "ns", "bc-load-r1")


def test_rendered_worker_and_master_name_their_hosts_where_the_backer_looks():
    jobs = {o["metadata"]["labels"]["brixcheck.io/loadgen-role"]: o for o in render(_spec())
            if o["kind"] == "Job"}
    for role, expected in (("worker", ["bc-load-r1-master"]),
                           ("master", ["http://m.ns.svc:8000"])):
        container = jobs[role]["spec"]["template"]["spec"]["containers"][0]
        argv = [*container["command"], *container["args"]]
        assert [argv[i] for i, _ in host_words(argv)] == expected


class _Core:
    """Just enough of CoreV1Api: one Service and its pods."""

    def __init__(self, service: Obj, pods: list[Obj]) -> None:
        self.service, self.pods = service, pods

    def read_namespaced_service(self, name: str, namespace: str) -> Obj:
        if (name, namespace) != ("svc", "ns"):
            from kubernetes.client import ApiException
            raise ApiException(status=404)
        return self.service

    def list_namespaced_pod(self, namespace: str, label_selector: str) -> Obj:
        return Obj(items=self.pods)


def _pod(ip: str, ready: bool, phase: str = "Running") -> Obj:
    return Obj(metadata=Obj(deletion_timestamp=None),
              spec=Obj(containers=[Obj(ports=[Obj(name="http", container_port=8000)])]),
              status=Obj(pod_ip=ip, phase=phase,
                        conditions=[Obj(type="Ready", status="True" if ready else "False")]))


def _service(publish_not_ready: bool = False, target: int | str = 8000) -> Obj:
    return Obj(spec=Obj(selector={"app": "a"}, publish_not_ready_addresses=publish_not_ready,
                      ports=[Obj(port=80, target_port=target)]))


def test_urls_resolve_to_a_ready_pod_and_the_target_port():
    resolver = ServiceResolver(_Core(_service(target="http"),
                                     [_pod("127.0.1.4", False), _pod("127.0.1.5", True)]))
    assert resolver.resolve_url("http://svc.ns.svc/v1", "other") == "http://127.0.1.5:8000/v1"
    assert resolver.resolve_url("http://svc:80", "ns") == "http://127.0.1.5:8000"
    assert resolver.resolve_url("http://127.0.0.1:10080", "ns") == "http://127.0.0.1:10080"
    assert resolver.resolve_url("http://elsewhere:80", "ns") == "http://elsewhere:80"


def test_not_ready_pods_answer_only_for_services_that_publish_them():
    pods = [_pod("127.0.1.9", False), _pod("127.0.1.8", True, phase="Succeeded")]
    assert ServiceResolver(_Core(_service(), pods)).resolve("svc", "ns") is None
    assert ServiceResolver(_Core(_service(True), pods)).resolve("svc", "ns") == "127.0.1.9"


def test_kwok_starts_locust_pods_and_never_completes_them_itself():
    layout = cluster.TwinLayout.default()
    if not cluster._stage_dir(layout).is_dir():
        pytest.skip("kwok's stage files come with the twin build: run `brixcheck twin build`")
    stages = {s["metadata"]["name"]: s["spec"]["selector"]["matchExpressions"]
              for s in cluster.stages(layout)}
    has = {"key": '.metadata.labels["brixcheck.io/loadgen-role"]', "operator": "Exists"}
    lacks = {**has, "operator": "DoesNotExist"}
    assert has in stages["brixcheck-loadgen-pod-start"]
    assert {"key": ".status.phase", "operator": "In", "values": ["Pending"]} in \
        stages["brixcheck-loadgen-pod-start"]
    assert lacks in stages["pod-complete"]
    assert lacks in stages["pod-ready"]
