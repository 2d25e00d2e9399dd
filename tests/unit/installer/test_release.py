"""Assembly of AIBrix's release objects and the K3s-small overlay, from small fixture trees.

The fixture trees stand in for AIBrix's `config/dependency` and Envoy Gateway's module layout
(same file names, a few objects each), so the assembly rules are checked without the real files;
the real files are exercised by the twin tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brixcheck.errors import BrixcheckError
from brixcheck.installer import release


def _write(path: Path, *docs: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(list(docs)))


def _crd(name: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name}}


@pytest.fixture
def eg_module(tmp_path: Path) -> Path:
    root = tmp_path / "gateway@v1.2.8"
    crds = root / "charts" / "gateway-helm" / "crds"
    _write(crds / "gatewayapi-crds.yaml", _crd("gateways.gateway.networking.k8s.io"))
    _write(crds / "generated" / "gateway.envoyproxy.io_envoyproxies.yaml",
           _crd("envoyproxies.gateway.envoyproxy.io"))
    chart = root / "test" / "helm" / "gateway-helm" / "default-config.out.yaml"
    _write(chart,
           {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "envoy-gateway-config", "namespace": "envoy-gateway-system"},
            "data": {"envoy-gateway.yaml": "chart default"}},
           {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "envoy-gateway", "namespace": "envoy-gateway-system"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "envoy-gateway", "image": release.EG_TEST_IMAGE,
                 "imagePullPolicy": "Always"}]}}}})
    return root


@pytest.fixture
def config_dependency(tmp_path: Path) -> Path:
    root = tmp_path / "config" / "dependency"
    _write(root / "envoy-gateway" / "envoy_gateway_patch.yaml",
           {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "envoy-gateway-config", "namespace": "envoy-gateway-system"},
            "data": {"envoy-gateway.yaml": "aibrix's"}})
    _write(root / "kuberay-operator" / "crds" / "ray.io_rayclusters.yaml",
           _crd("rayclusters.ray.io"))
    (root / "kustomization.yaml").write_text(yaml.safe_dump({"resources": [
        "envoy-gateway", "kuberay-operator/crds/ray.io_rayclusters.yaml"]}))
    return root


def test_dependency_is_eg_install_with_aibrix_patch_then_kuberay_crds(eg_module,
                                                                      config_dependency):
    objects = release.assemble_dependency(config_dependency, eg_module)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [("CustomResourceDefinition", "gateways.gateway.networking.k8s.io"),
                     ("CustomResourceDefinition", "envoyproxies.gateway.envoyproxy.io"),
                     ("Namespace", "envoy-gateway-system"),
                     ("ConfigMap", "envoy-gateway-config"),
                     ("Deployment", "envoy-gateway"),
                     ("CustomResourceDefinition", "rayclusters.ray.io")]
    assert objects[3]["data"] == {"envoy-gateway.yaml": "aibrix's"}
    container = objects[4]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "docker.io/envoyproxy/gateway:v1.2.8"
    assert container["imagePullPolicy"] == "IfNotPresent"


def test_load_assembles_dependency_from_config_tree(tmp_path, eg_module, config_dependency,
                                                    monkeypatch):
    _write(tmp_path / release.core_file(), {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": {"name": "aibrix-system"}})
    monkeypatch.setattr(release, "envoy_gateway_dir", lambda cache: eg_module)
    loaded = release.load(str(tmp_path), tmp_path / "cache")
    assert [o["metadata"]["name"] for o in loaded.core] == ["aibrix-system"]
    assert loaded.dependency[-1]["metadata"]["name"] == "rayclusters.ray.io"


def test_load_refuses_a_directory_without_release_files(tmp_path):
    with pytest.raises(BrixcheckError, match=r"holds no aibrix-core-v0\.5\.0\.yaml"):
        release.load(str(tmp_path), tmp_path)


def test_small_overlay_patches_gateway_plugins_and_envoy_proxy():
    core = [
        {"kind": "Deployment", "metadata": {"name": "aibrix-gateway-plugins"},
         "spec": {"template": {"spec": {"containers": [{"name": "gateway-plugin"}]}}}},
        {"kind": "EnvoyProxy", "metadata": {"name": "aibrix-custom-proxy-config"},
         "spec": {"provider": {"kubernetes": {"envoyDeployment": {"container": {}}}}}},
    ]
    patched = release.apply_overlay(core, release.SMALL_OVERLAY)
    small = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert patched[0]["spec"]["template"]["spec"]["containers"][0]["resources"] == small
    envoy = patched[1]["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"]
    assert envoy["resources"] == small
    assert "resources" not in core[0]["spec"]["template"]["spec"]["containers"][0]


def test_default_source_prefers_the_environment(monkeypatch):
    monkeypatch.setenv(release.RELEASE_ENV, "/somewhere")
    assert release.default_source() == "/somewhere"
