"""The stack pod backer's image -> program table and the model-route controller's objects."""

from __future__ import annotations

from pathlib import Path

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.twin import model_router, system_pods


def test_repository_strips_registry_and_tag():
    assert system_pods.repository("docker.io/aibrix/metadata-service:v0.5.0") == \
        "aibrix/metadata-service"
    assert system_pods.repository("redis:latest") == "redis"
    assert system_pods.repository("docker.io/library/redis@sha256:ab") == "redis"


def test_images_without_a_program_say_why(tmp_path: Path):
    why = system_pods.program_for({"image": "aibrix/kuberay-operator:v1.2.1"}, "127.0.1.5", {},
                                  tmp_path / "kubeconfig", tmp_path)
    assert isinstance(why, str)
    assert "no program" in why


def test_controller_manager_runs_the_model_router_at_the_pod_ip(tmp_path: Path):
    program = system_pods.program_for({"image": "aibrix/controller-manager:v0.5.0"},
                                      "127.0.1.7", {}, tmp_path / "kc", tmp_path)
    assert not isinstance(program, str)
    assert program.argv[-2:] == ["--probe-address", "127.0.1.7:8081"]


def test_http_route_has_v050_shape():
    route = model_router.http_route("m1", "default", 8000, 120)
    assert route["metadata"] == {"name": "m1-router", "namespace": aibrix.SYSTEM_NAMESPACE}
    rule = route["spec"]["rules"][0]
    assert [m["path"]["value"] for m in rule["matches"]] == list(aibrix.MODEL_ROUTE_PREFIXES)
    assert all(m["headers"] == [{"type": "Exact", "name": "model", "value": "m1"}]
               for m in rule["matches"])
    assert rule["backendRefs"] == [{"name": "m1", "namespace": "default", "port": 8000}]
    assert rule["timeouts"] == {"request": "120s"}


def test_model_port_falls_back_to_8000():
    assert model_router.model_port({aibrix.LABEL_PORT: "9000"}) == 9000
    assert model_router.model_port({aibrix.LABEL_PORT: "x"}) == 8000
    assert model_router.model_port({}) == 8000
