"""Fixtures shared by the unit tests: synthetic benchmark records."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from brixcheck.analysis import records_to_frame
from tests.unit.synthetic import two_strategies


@pytest.fixture(scope="session")
def bench_records() -> list[dict[str, Any]]:
    """Records of two strategies over three pods, same seed (paired by request index)."""
    return two_strategies()


@pytest.fixture
def bench_frame(bench_records: list[dict[str, Any]]) -> pd.DataFrame:
    """The request frame of `bench_records`."""
    return records_to_frame(bench_records)
