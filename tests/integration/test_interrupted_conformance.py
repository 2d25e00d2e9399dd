"""A conformance run that is interrupted, killed twice or out of disk loses nothing it had.

Each test runs a small suite of three cases under the real conformance plugin in a pytest child
process, sends it real signals and reads what it left on disk: the partial report, the last
complete report (untouched), and the clean-up its fixture teardown did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brixcheck.interrupts import EXIT_INTERRUPTED

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]

CONFTEST = '''
import os, time
from pathlib import Path
from types import SimpleNamespace
import pytest
from brixcheck.cluster.capability import Capability
from brixcheck.conformance.plugin import NAMESPACE, run_id_of

pytest_plugins = ["brixcheck.conformance.plugin"]
HERE = Path(__file__).parent

def wait_for_file(name):
    deadline = time.monotonic() + 60
    while not (HERE / name).exists() and time.monotonic() < deadline:
        time.sleep(0.02)

@pytest.fixture(scope="session")
def target():
    return SimpleNamespace(capabilities={Capability.KUBERNETES_API}, environment={"target": "t"},
                           describe_missing=lambda m: "")

@pytest.fixture(scope="session")
def namespace(request):
    name = f"brixcheck-{run_id_of(request.config)}"
    request.config.stash[NAMESPACE] = name
    (HERE / "created").write_text(name)
    yield name
    if os.environ.get("BLOCK_TEARDOWN"):
        (HERE / "tearing-down").write_text("")
        wait_for_file("never")
    (HERE / "deleted").write_text(name)
'''

CASES = '''
import os
import pytest
from conftest import wait_for_file, HERE
from brixcheck.cluster.capability import Capability
from brixcheck.conformance.case import Case

def case(n):
    return Case(id=f"Case{n}", description="d", checks="c", remedy="r",
                capabilities=frozenset({Capability.KUBERNETES_API}))

@pytest.mark.case(case(1))
def test_one(namespace):
    assert namespace

@pytest.mark.case(case(2))
def test_two(namespace):
    if os.environ.get("BLOCK"):
        (HERE / "waiting").write_text("")
        wait_for_file("never")

@pytest.mark.case(case(3))
def test_three(namespace):
    assert namespace
'''
OLD_LATEST = '{"runId": "last-complete-run"}'


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_cases.py").write_text(CASES)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "conformance-latest.json").write_text(OLD_LATEST)
    return tmp_path


def _start(suite: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                             "-p", "no:locust", str(suite)], cwd=suite, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO), **env})


def _await(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)


def _run_reports(suite: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (suite / "reports").glob("conformance-*.json")
            if p.name != "conformance-latest.json"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_keeps_a_partial_report_and_the_last_complete_one(suite: Path, sig):
    proc = _start(suite, BLOCK="1")
    _await(suite / "waiting", proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err  # pytest's "interrupted"
    assert (suite / "deleted").exists(), "the namespace teardown did not run"
    assert (suite / "reports" / "conformance-latest.json").read_text() == OLD_LATEST
    [report] = _run_reports(suite)
    assert report["partial"] == {"partial": True, "reason":
                                 f"interrupted by {sig.name} after 1 of 3 cases"}
    assert [c["id"] for c in report["cases"]] == ["Case1"]
    assert f"PARTIAL (interrupted by {sig.name}" in out


def test_report_names_its_run_id_and_namespace(suite: Path):
    proc = _start(suite)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    latest = json.loads((suite / "reports" / "conformance-latest.json").read_text())
    assert latest["namespace"] == (suite / "created").read_text()
    assert latest["namespace"] == f"brixcheck-{latest['runId']}"
    assert latest["partial"] == {"partial": False, "reason": ""}
    assert (suite / "reports" / f"conformance-{latest['runId']}.json").exists()


def test_second_signal_during_clean_up_ends_without_traceback(suite: Path):
    proc = _start(suite, BLOCK="1", BLOCK_TEARDOWN="1")
    _await(suite / "waiting", proc)
    proc.send_signal(signal.SIGINT)
    _await(suite / "tearing-down", proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED
    assert "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith(
        "brixcheck: SIGTERM during clean-up after interrupted by SIGINT; stopping now")


def test_full_disk_keeps_the_summary_and_the_old_report(suite: Path):
    reports = suite / "reports"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(reports)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here ({mounted.stderr.strip()})")
    try:
        (reports / "conformance-latest.json").write_text(OLD_LATEST)
        filler = subprocess.run(["dd", "if=/dev/zero", f"of={reports / 'filler'}", "bs=4k"],
                                capture_output=True, text=True, check=False)
        assert "No space left" in filler.stderr
        out, err = _start(suite).communicate(timeout=60)
        assert (reports / "conformance-latest.json").read_text() == OLD_LATEST
        assert sorted(p.name for p in reports.iterdir()) == ["conformance-latest.json", "filler"]
    finally:
        subprocess.run(["umount", str(reports)], check=True)
    assert "Traceback" not in out + err
    assert "3 PASS   report NOT written: brixcheck: no space left to write conformance-" in out
    assert f"in {reports} (" in out


def test_unwritable_reports_directory_is_one_sentence(suite: Path):
    reports = suite / "reports"
    for old in reports.iterdir():
        old.unlink()
    reports.rmdir()
    reports.write_text("a file where the reports directory should be")
    proc = _start(suite)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in out + err
    assert "3 PASS   report NOT written: brixcheck: cannot write conformance-" in out
