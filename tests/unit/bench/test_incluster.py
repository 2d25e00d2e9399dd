from __future__ import annotations

import ast

import pytest

from brixcheck.aibrix.v0_5 import HEADER_ROUTING_STRATEGY
from brixcheck.bench.incluster import CODE, LoadgenSpec, master_args, render
from brixcheck.bench.runner import RUN_FILE
from brixcheck.bench.scenario import Load, Scenario, Workload
from brixcheck.conformance.model import Capability
from brixcheck.kube import OWNER_LABELS, RUN_LABEL
from brixcheck.load.run_spec import RUN_OPTION, RunSpec
from brixcheck.resources import CHECKOUT as REPO
from brixcheck.target import _capabilities


def _spec(processes: int | str = 2, install: bool = True) -> LoadgenSpec:
    scenario = Scenario(id="s", description="d", strategies=["random"],
                        workload=Workload(model="m"),
                        load=Load(rate_per_s=4, duration_s=10, processes=processes))
    return LoadgenSpec(scenario, "random", "http://gw.ns:80", "run7", "ns", "bc-load-run7",
                       install=install)


def test_every_object_is_owned_and_named_after_the_run():
    objects = render(_spec())
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels.items() >= {**OWNER_LABELS, RUN_LABEL: "run7"}.items()
        assert obj["metadata"]["namespace"] == "ns"
        template = obj.get("spec", {}).get("template")
        if template:
            assert template["metadata"]["labels"][RUN_LABEL] == "run7"


def test_workers_and_master_agree_on_the_share():
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render(_spec(3))}
    worker = objects[("Job", "bc-load-run7-worker")]
    assert worker["spec"]["parallelism"] == worker["spec"]["completions"] == 3
    args = master_args(_spec(3))
    run = RunSpec.model_validate_json(objects[("ConfigMap", "bc-load-run7-code")]["data"][
        RUN_FILE])
    assert args[args.index("--expect-workers") + 1] == str(run.workers) == "3"
    assert run.records_stdout
    assert run.headers[HEADER_ROUTING_STRATEGY] == "random"
    assert args[args.index(RUN_OPTION) + 1] == f"/brixcheck/{RUN_FILE}"
    assert not [arg for arg in args if arg.startswith("--bc-")]
    service = objects[("Service", "bc-load-run7-master")]
    master = objects[("Job", "bc-load-run7-master")]
    assert service["spec"]["selector"].items() <= master["spec"]["template"]["metadata"][
        "labels"].items()
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"][2] == "bc-load-run7-master"


def test_the_config_map_carries_everything_the_locustfile_imports():
    config_map = next(o for o in render(_spec()) if o["kind"] == "ConfigMap")
    shipped = {path.removesuffix(".py").replace("/", ".") for path in CODE.values()}
    tree = ast.parse((REPO / "locustfiles" / "streaming_chat.py").read_text())
    imported = {n.module for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("brixcheck")}
    assert imported <= shipped
    locustfile = (REPO / "locustfiles" / "streaming_chat.py").read_text()
    assert config_map["data"]["locustfile.py"] == locustfile


def test_install_is_optional_and_auto_is_refused():
    job = next(o for o in render(_spec(install=False)) if o["kind"] == "Job")
    assert "pip install" not in job["spec"]["template"]["spec"]["containers"][0]["command"][2]
    with pytest.raises(ValueError, match=r"explicit load\.processes"):
        render(_spec("auto"))


def test_the_twin_runs_locust_pods_without_a_container_runtime():
    assert Capability.CONTAINER_RUNTIME not in _capabilities("twin", [])
    assert Capability.CONTAINER_RUNTIME in _capabilities("cluster", [])
    assert Capability.LOADGEN_PODS in _capabilities("twin", []) & _capabilities("cluster", [])


def test_templates_exist():
    assert {p.name for p in (REPO / "manifests" / "loadgen").glob("*.yaml")} == {
        "configmap.yaml", "master.yaml", "worker.yaml"}
