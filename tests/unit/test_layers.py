"""The package layer order: every import in brixcheck/ points to a lower layer, so no cycles.

A package is a subpackage of brixcheck/ or one of its top-level modules. Every import counts,
the ones inside functions and under TYPE_CHECKING too: a lazy import that closes a loop is still
a knot. A package may import itself and anything in a lower layer, never a sibling of its own
layer nor anything above it. A new package must be given a layer here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import brixcheck

ROOT = Path(brixcheck.__file__).parent

# Lowest first.
LAYERS: tuple[frozenset[str], ...] = tuple(frozenset(layer.split()) for layer in (
    "errors",
    "files resources children interrupts gpu",
    "suite_run aibrix engine load plots",  # facts of AIBrix, the engine emulator, load records
    "analysis cluster",  # records to figures; the cluster under test (target, stack, kube)
    "runs twin routers report",
    "config gateway_plugin history",
    "doctor installer",
    "conformance bench",
    "fixtures",
    "pytest_plugin cli",
))
LAYER_OF = {package: index for index, layer in enumerate(LAYERS) for package in layer}


def package_of(module: str) -> str | None:
    """`brixcheck.cluster.target` -> `cluster`; None outside brixcheck or for brixcheck itself."""
    parts = module.split(".")
    return parts[1] if parts[0] == "brixcheck" and len(parts) > 1 else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Absolute names an import statement brings in (`from brixcheck import x` names x)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
        base = ".".join([*anchor, base] if base else anchor)
    if base == "brixcheck":
        return [f"brixcheck.{alias.name}" for alias in node.names]
    return [base]


def imports() -> Iterator[tuple[str, int, str, str]]:
    """(file, line, importing package, imported package) for every cross-package import."""
    for path in sorted(ROOT.rglob("*.py")):
        if "_data" in path.relative_to(ROOT).parts:
            continue
        module = module_name(path)
        source = package_of(module)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in imported(node, module, path.name == "__init__.py"):
                target = package_of(name)
                if source and target and target != source:
                    yield str(path.relative_to(ROOT.parent)), node.lineno, source, target


def packages() -> set[str]:
    found = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()}
    return found | {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}


def test_every_package_has_a_layer():
    assert packages() - LAYER_OF.keys() == set(), "add the new package to LAYERS"
    assert LAYER_OF.keys() - packages() == set(), "LAYERS names a package that is gone"


def test_imports_only_point_down():
    upward = [f"{file}:{line}: {source} (layer {LAYER_OF[source]}) imports {target} "
              f"(layer {LAYER_OF[target]})"
              for file, line, source, target in imports()
              if LAYER_OF[target] >= LAYER_OF[source]]
    assert upward == []


def test_the_check_sees_lazy_and_relative_imports():
    tree = ast.parse("def f():\n    from ..cluster import target\n")
    node = tree.body[0].body[0]
    assert imported(node, "brixcheck.twin.pods", False) == ["brixcheck.cluster"]
    assert package_of("brixcheck.cluster.target") == "cluster"
    assert package_of("brixcheck") is None
