"""`brixcheck conformance` and `brixcheck bench`: pytest on the suite's own directories.

From a checkout, pytest runs in the checkout (its pyproject.toml and conftest.py apply, reports
go to its reports/). Installed, the suites come from the package's data, the options from
brixcheck's pytest plugin, and reports go to the current directory, whatever it is.
"""

from __future__ import annotations

import subprocess
import sys

from brixcheck.resources import CHECKOUT, data_path, in_checkout, work_dir

SUITES = {"conformance": "conformance", "bench": "benchmark"}


def pytest_argv(command: str, extra: list[str]) -> list[str]:
    """The pytest command line of a suite command."""
    suite = data_path("suites", SUITES[command])
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    if in_checkout():
        return [*base, str(suite.relative_to(CHECKOUT)), *extra]
    ini = data_path("pytest.ini")
    return [*base, "-c", str(ini), "--rootdir", str(work_dir()), "-p", "brixcheck.pytest_plugin",
            str(suite), *extra]


def run_suite(command: str, extra: list[str]) -> int:
    """Run a suite with pytest; pytest's exit code."""
    cwd = CHECKOUT if in_checkout() else work_dir()
    return subprocess.call(pytest_argv(command, extra), cwd=cwd)
