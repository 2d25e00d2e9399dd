"""AIBrix's release files: where they come from and the objects they hold, in install order.

A release has two files. `aibrix-core-<v>.yaml` is AIBrix's `config/overlays/release` built.
`aibrix-dependency-<v>.yaml` is, in AIBrix's release workflow, `config/dependency` built: the
KubeRay CRDs plus Envoy Gateway's `install.yaml` with AIBrix's ConfigMap patch and image pin.

Sources (`--aibrix-release`):
- a URL (default: AIBrix's release page): both files are downloaded once into a cache;
- a directory holding both files;
- a directory holding `aibrix-core-<v>.yaml` and AIBrix's `config/` tree (what CI and the twin
  use): the dependency file is assembled as the release workflow does, with Envoy Gateway's
  `install.yaml` rebuilt from its Go module (the CRDs of `charts/gateway-helm/crds/`, the
  namespace `createNamespace=true` adds, and the chart rendered with default values from
  `test/helm/gateway-helm/default-config.out.yaml`, whose test-only image is set back to the
  release image).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from brixcheck.aibrix import v0_5 as aibrix
from brixcheck.errors import BrixcheckError
from brixcheck.resources import CHECKOUT, data_path

RELEASE_ENV = "BRIXCHECK_AIBRIX_RELEASE"
RELEASE_URL = f"https://github.com/vllm-project/aibrix/releases/download/{aibrix.VERSION}/"
# CI and the twin: AIBrix's own files beside the checkout (../shared/aibrix/<version>).
SIBLING = CHECKOUT.parent / "shared" / "aibrix" / aibrix.VERSION
# The K3s-small overrides of the suite (gateway plugin and Envoy at 1 CPU / 1Gi).
SMALL_OVERLAY = data_path("manifests", "aibrix", "k3s-small", "kustomization.yaml")
EG_MODULE = "github.com/envoyproxy/gateway"
EG_NAMESPACE = aibrix.ENVOY_GATEWAY_NAMESPACE
EG_TEST_IMAGE = "docker.io/envoyproxy/gateway-dev:latest"
EG_RELEASE_IMAGE = f"docker.io/envoyproxy/gateway:{aibrix.ENVOY_GATEWAY_VERSION}"
DOWNLOAD_TIMEOUT_S = 60.0

Obj = dict[str, Any]


@dataclass(frozen=True)
class Release:
    """The two halves of a release, as objects in file order, and where they came from."""

    source: str
    dependency: list[Obj]
    core: list[Obj]


def core_file() -> str:
    return f"aibrix-core-{aibrix.VERSION}.yaml"


def dependency_file() -> str:
    return f"aibrix-dependency-{aibrix.VERSION}.yaml"


def default_source() -> str:
    """$BRIXCHECK_AIBRIX_RELEASE, else ../shared/aibrix/<v> beside the checkout, else the URL."""
    explicit = os.environ.get(RELEASE_ENV)
    if explicit:
        return explicit
    return str(SIBLING) if (SIBLING / core_file()).is_file() else RELEASE_URL


def load(source: str, cache: Path) -> Release:
    """Read (or download into `cache`) the release's objects."""
    if source.startswith(("http://", "https://")):
        folder = _download(source, cache)
    else:
        folder = Path(source).expanduser()
    if not (folder / core_file()).is_file():
        raise BrixcheckError(f"{folder} holds no {core_file()}",
                             "pass --aibrix-release with AIBrix's release URL or a directory "
                             "holding its release files")
    dependency = folder / dependency_file()
    if dependency.is_file():
        deps = _objects(dependency.read_text())
    elif (folder / "config" / "dependency").is_dir():
        deps = assemble_dependency(folder / "config" / "dependency", envoy_gateway_dir(cache))
    else:
        raise BrixcheckError(f"{folder} holds neither {dependency_file()} nor AIBrix's "
                             "config/dependency", "add one of them, or pass AIBrix's release "
                             "URL with --aibrix-release")
    return Release(source, deps, _objects((folder / core_file()).read_text()))


def _objects(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _download(url: str, cache: Path) -> Path:
    folder = cache / "aibrix-release" / aibrix.VERSION
    folder.mkdir(parents=True, exist_ok=True)
    for name in (dependency_file(), core_file()):
        path = folder / name
        if path.is_file():
            continue
        try:
            response = httpx.get(url.rstrip("/") + "/" + name, follow_redirects=True,
                                 timeout=DOWNLOAD_TIMEOUT_S)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise BrixcheckError(f"cannot download {name} from {url} ({exc})",
                                 "on a box without internet pass --aibrix-release DIR with "
                                 "AIBrix's release files") from None
        path.with_suffix(".part").write_bytes(response.content)
        path.with_suffix(".part").rename(path)
    return folder


def envoy_gateway_dir(cache: Path) -> Path:
    """Envoy Gateway's module source, through the Go module proxy (`go mod download`)."""
    from brixcheck.twin.build import find_go, go_env
    from brixcheck.twin.gomod import run_outside_module

    module = f"{EG_MODULE}@{aibrix.ENVOY_GATEWAY_VERSION}"
    done = run_outside_module([find_go(), "mod", "download", "-json", module], go_env(cache))
    info = json.loads(done.stdout or "{}")
    if done.returncode != 0 or "Dir" not in info:
        reason = info.get("Error") or done.stderr.strip() or f"exit {done.returncode}"
        raise BrixcheckError(f"cannot download {module} to assemble {dependency_file()} "
                             f"({reason})", "pass --aibrix-release with a directory that "
                             f"holds {dependency_file()}")
    return Path(info["Dir"])


def envoy_gateway_install(module_dir: Path) -> list[Obj]:
    """Envoy Gateway's release install.yaml: CRDs, namespace, chart with default values."""
    crd_dir = module_dir / "charts" / "gateway-helm" / "crds"
    crds = [*_objects((crd_dir / "gatewayapi-crds.yaml").read_text())]
    for path in sorted((crd_dir / "generated").glob("*.yaml")):
        crds += _objects(path.read_text())
    chart = (module_dir / "test" / "helm" / "gateway-helm" / "default-config.out.yaml")
    rendered = chart.read_text().replace(EG_TEST_IMAGE, EG_RELEASE_IMAGE)
    rendered = rendered.replace("imagePullPolicy: Always", "imagePullPolicy: IfNotPresent")
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": EG_NAMESPACE}}
    return [*crds, namespace, *_objects(rendered)]


def assemble_dependency(config_dependency: Path, eg_module_dir: Path) -> list[Obj]:
    """`kustomize build config/dependency`: EG's install with AIBrix's patch, then KubeRay CRDs."""
    patch = _objects((config_dependency / "envoy-gateway" / "envoy_gateway_patch.yaml")
                     .read_text())[0]
    objects = []
    for obj in envoy_gateway_install(eg_module_dir):
        if _key(obj) == _key(patch):
            obj = {**obj, "data": {**obj.get("data", {}), **patch["data"]}}
        objects.append(obj)
    kustomization = yaml.safe_load((config_dependency / "kustomization.yaml").read_text())
    for entry in kustomization["resources"]:
        if entry.endswith(".yaml"):
            objects += _objects((config_dependency / entry).read_text())
    return objects


def _key(obj: Obj) -> tuple[str, str, str]:
    meta = obj.get("metadata", {})
    return obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def apply_overlay(objects: list[Obj], kustomization: Path) -> list[Obj]:
    """Apply a kustomization's JSON6902 `add`/`replace` patches (targets by kind and name)."""
    spec = yaml.safe_load(kustomization.read_text())
    out = json.loads(json.dumps(objects))
    for patch in spec.get("patches", []):
        target = patch["target"]
        for op in yaml.safe_load(patch["patch"]):
            if op["op"] not in ("add", "replace"):
                raise BrixcheckError(f"{kustomization}: patch op {op['op']!r} is not supported",
                                     "use add or replace operations")
            for obj in out:
                if (obj.get("kind"), obj["metadata"].get("name")) == (target["kind"],
                                                                      target["name"]):
                    _set_path(obj, op["path"], op["value"])
    return out


def _set_path(obj: Obj, path: str, value: Any) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in path.strip("/").split("/")]
    node: Any = obj
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


def images(objects: list[Obj]) -> dict[str, str]:
    """Deployment name -> first container image, for the report and version detection."""
    return {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]["image"]
            for o in objects if o.get("kind") == "Deployment"}

