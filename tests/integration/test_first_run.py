"""A newcomer's first commands: the main job's failures end the run with one sentence.

Each runs the real suite in a pytest subprocess, as `make conformance` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from brixcheck.resources import CHECKOUT

pytestmark = pytest.mark.integration


def _conformance(env: dict[str, str], cwd: Path = CHECKOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "brixcheck.cli", "conformance"], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          check=False, timeout=120)


def _assert_one_sentence(run: subprocess.CompletedProcess[str], words: str) -> None:
    out = run.stdout + run.stderr
    assert run.returncode == 2, out[-3000:]
    assert "no tests ran" in out
    assert "Traceback" not in out
    assert "ERROR" not in out
    assert "FAIL" not in out
    assert [line for line in out.splitlines() if "brixcheck: " in line and words in line]


def test_malformed_kubeconfig_ends_the_run_with_one_sentence(tmp_path: Path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n  - {name: x\n")
    run = _conformance({"KUBECONFIG": str(kubeconfig)})
    _assert_one_sentence(run, "is not valid YAML (expected the node content")
    assert len((run.stdout + run.stderr).splitlines()) < 25


def test_failed_twin_build_ends_the_run_with_one_sentence(tmp_path: Path):
    go = tmp_path / "go"
    go.write_text('#!/bin/sh\nif [ "$1" = env ]; then echo go1.26.0; exit 0; fi\n'
                  'echo "go: module lookup disabled" >&2; exit 1\n')
    go.chmod(0o755)
    # No kubeconfig anywhere (HOME hides ~/.kube/config), so the run must start the twin.
    env = {"GO": str(go), "BRIXCHECK_TWIN_CACHE": str(tmp_path / "cache"), "KUBECONFIG": "",
           "HOME": str(tmp_path)}
    run = _conformance(env)
    _assert_one_sentence(run, "download kubernetes-v1.31.14 failed (go exited 1)")
    assert not (tmp_path / "cache" / "bin" / "kubernetes-v1.31.14").exists()


def test_bench_runs_from_any_directory(tmp_path: Path):
    run = subprocess.run([sys.executable, "-m", "brixcheck.cli", "bench", "--collect-only",
                          "-q"], cwd=tmp_path, capture_output=True, text=True, check=False,
                         timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "test_scenarios.py::test_scenario[baseline-streaming[baseline]-r0]" in run.stdout


def test_pytest_kubernetes_options_are_gone():
    help_text = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p",
                                "no:cacheprovider"], cwd=CHECKOUT, capture_output=True,
                               text=True, check=True).stdout
    assert "--k8s-kubeconfig" not in help_text
    assert "--kubeconfig=KUBECONFIG" in help_text
