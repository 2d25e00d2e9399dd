"""A wheel of brixcheck carries its suites, locustfile, manifests and twin pins as package data,
and an installed brixcheck finds them from any directory (no source checkout needed)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from brixcheck.resources import CHECKOUT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DATA = ("brixcheck/_data/pytest.ini", "brixcheck/_data/locustfiles/streaming_chat.py",
        "brixcheck/_data/suites/conformance/test_cluster.py",
        "brixcheck/_data/suites/benchmark/scenarios/baseline-streaming.yaml",
        "brixcheck/_data/manifests/models/deepseek-r1-qwen-1b5.yaml",
        "brixcheck/_data/manifests/loadgen/master.yaml", "brixcheck/_data/twin/k8s/go.mod")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, installed (without dependencies: this venv has them) into its own folder."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(out), str(CHECKOUT)], capture_output=True, text=True,
                           check=False, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(out.glob("brixcheck-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not [name for name in DATA if name not in names]
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    return target


def _brixcheck(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "brixcheck.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def test_installed_brixcheck_finds_its_suites_from_any_directory(installed: Path,
                                                                 tmp_path: Path):
    version = _brixcheck(installed, tmp_path, "--version")
    assert version.stdout.startswith("brixcheck ")
    for command in ("bench", "conformance"):
        run = _brixcheck(installed, tmp_path, command, "--collect-only", "-q")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert " tests collected" in run.stdout
    where = subprocess.run(
        [sys.executable, "-c", "from brixcheck.resources import data_path, work_dir;"
         "print(data_path('locustfiles', 'streaming_chat.py')); print(work_dir())"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(installed / "brixcheck/_data/locustfiles/streaming_chat.py"),
                     str(tmp_path)]
