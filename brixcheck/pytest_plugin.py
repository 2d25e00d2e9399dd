"""The suites' pytest plugin: their command-line options and fixture plugins.

A checkout's conftest.py loads it; an installed brixcheck passes it with `-p`.
"""

from __future__ import annotations

import pytest

from brixcheck.cluster.deployment import load_manifest
from brixcheck.errors import BrixcheckError
from brixcheck.fixtures.options import add_options, model_manifest

pytest_plugins = ["brixcheck.conformance.plugin", "brixcheck.fixtures.target",
                  "brixcheck.fixtures.workloads", "brixcheck.fixtures.stack"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Check the model manifest once, before connecting and before any case runs."""
    config = session.config
    if config.option.collectonly or not any(
            "model" in getattr(item, "fixturenames", ()) or item.get_closest_marker("case")
            for item in session.items):
        return
    try:
        load_manifest(model_manifest(config))
    except BrixcheckError as exc:
        pytest.exit(f"brixcheck: {exc}", returncode=2)
