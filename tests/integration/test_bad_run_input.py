"""A run that ends early on a user mistake says so in one sentence, before any case runs, and
leaves the last complete conformance report in place (nothing overwritten)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports"


def _reports() -> dict[str, float]:
    return {p.name: p.stat().st_mtime_ns for p in REPORTS.glob("conformance-*.json")}


def _conformance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "suites/conformance", "-q",
                           "-p", "no:cacheprovider", *args], cwd=REPO, capture_output=True,
                          text=True, check=False, env={"PATH": "/usr/bin:/bin"})


def _one_sentence(run: subprocess.CompletedProcess[str], expected: str) -> None:
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Traceback" not in run.stdout + run.stderr
    assert expected in run.stdout + run.stderr
    assert "PASS" not in run.stdout
    assert "FAIL" not in run.stdout


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot be read (No such file or directory)"),
    ("kind: Service\napiVersion: v1\nmetadata: {name: m}\n", "must hold exactly one Deployment"),
    ("kind: [unclosed\n", "is not valid YAML"),
    ("kind: Deployment\nspec: {}\n", "lacks spec.selector.matchLabels or a container"),
], ids=["missing", "no-deployment", "bad-yaml", "no-selector"])
def test_bad_model_manifest_stops_before_any_case(tmp_path: Path, content, expected):
    manifest = tmp_path / "model.yaml"
    if content is not None:
        manifest.write_text(content)
    before = _reports()
    run = _conformance(f"--model-manifest={manifest}", "--kubeconfig=/nonexistent")
    _one_sentence(run, f"brixcheck: model manifest {manifest}" if "lacks" not in expected
                  else f"brixcheck: the Deployment in model manifest {manifest}")
    assert expected in run.stdout + run.stderr
    assert _reports() == before


@pytest.mark.parametrize("kubeconfig", ["missing", "malformed", "unreachable"])
def test_bad_cluster_does_not_overwrite_the_last_report(tmp_path: Path, kubeconfig: str):
    path = tmp_path / "kubeconfig"
    if kubeconfig == "malformed":
        path.write_text("clusters: [ {")
    if kubeconfig == "unreachable":
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: "
            "{server: 'https://127.0.0.1:9'}}]\ncontexts: [{name: c, context: {cluster: c, "
            "user: u}}]\nusers: [{name: u, user: {token: t}}]\n")
    before = _reports()
    run = _conformance(f"--kubeconfig={path}")
    _one_sentence(run, "brixcheck: ")
    assert _reports() == before
