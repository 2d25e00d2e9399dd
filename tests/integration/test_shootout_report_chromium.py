"""The shoot-out report leads with the answer: in headless Chromium, at 1280x800, the
strategy table of eleven strategies (8 AIBrix, 3 vllm-router) ends above the fold.

Asserts on pixels: the table closes with a blue rule (#1565c0, 4 px, table-wide) and its best
cells are green; both must be inside the first screen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brixcheck.analysis import AnalysisOptions, analyze
from brixcheck.report import RunInfo, write_benchmark_report
from tests.integration.test_report_chromium import _browser, _pixels_near, _screenshot
from tests.unit.synthetic import ELEVEN, shootout_frame

TABLE_RULE = (21, 101, 192)  # #leaderboard border-bottom, #1565c0
BEST_GREEN = (232, 245, 233)  # td.best background, #e8f5e9
FOLD = 800
WIDTH = 1280  # the screenshot's window width

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _rule_rows(rgb: np.ndarray, min_width: int) -> np.ndarray:
    near = (np.abs(rgb.astype(int) - np.array(TABLE_RULE)).max(axis=2) <= 12)
    return np.flatnonzero(near.sum(axis=1) >= min_width)


def test_shootout_table_is_above_the_fold(tmp_path: Path):
    browser = _browser()
    result = analyze(shootout_frame(repeats=2, strategies=ELEVEN),
                     AnalysisOptions(by=("strategy", "repeat"), warmup_s=2.0))
    paths = write_benchmark_report(result, RunInfo("shootout", "2026-01-01T00:00:00Z",
                                                   {"target": "twin"}), tmp_path / "report")
    rgb = _screenshot(browser, paths.html, tmp_path / "shot.png", tmp_path / "profile")
    rows = _rule_rows(rgb, min_width=1000)
    assert rows.size, "the strategy table's closing rule is nowhere on the page"
    assert rows.max() < FOLD, f"the strategy table ends at y={rows.max()}, below the fold"
    right = np.flatnonzero(np.abs(rgb[rows.max()].astype(int) - np.array(TABLE_RULE))
                            .max(axis=1) <= 12).max()
    assert right < WIDTH - 8, "the strategy table is wider than the window"
    first_screen = rgb[:FOLD]
    assert _pixels_near(first_screen, BEST_GREEN, tolerance=4) > 2000, "no best cell on screen"
