"""The HTML report renders in a real browser: headless Chromium screenshot, checked for content.

Asserts on pixels, not markup: the screenshot is not blank, the INVALID banner's red is on
screen, and the embedded figures' lines (matplotlib's default blue) are drawn, which proves the
base64 images decode in a browser without any external asset.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from brixcheck.analysis import AnalysisOptions, ValidityBounds, analyze, records_to_frame
from brixcheck.report import RunInfo, write_benchmark_report
from tests.unit.synthetic import two_strategies

BROWSERS = ("chromium", "chromium-browser", "chromium-headless-shell", "google-chrome")
BANNER_RED = (198, 40, 40)  # .banner.INVALID background, #c62828
MPL_BLUE = (31, 119, 180)  # matplotlib's first line colour, #1f77b4

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on PATH: install it with `apt-get install -y chromium` "
                "(Debian) to run the browser check of the HTML report")


def _pixels_near(rgb: np.ndarray, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    return int((np.abs(rgb.astype(int) - np.array(colour)).max(axis=2) <= tolerance).sum())


def _screenshot(browser: str, page: Path, out: Path, profile: Path) -> np.ndarray:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--user-data-dir={profile}",
                    "--window-size=1280,4200", f"--screenshot={out}", page.as_uri()],
                   check=True, capture_output=True, timeout=90)
    return (mpimg.imread(out)[:, :, :3] * 255).round().astype(np.uint8)


def test_html_report_renders_in_headless_chromium(tmp_path: Path):
    browser = _browser()
    options = AnalysisOptions(warmup_s=2.0, bounds=ValidityBounds(max_send_lag_p99_ms=0.01))
    result = analyze(records_to_frame(two_strategies()), options)
    paths = write_benchmark_report(result, RunInfo("browser", "2026-01-01T00:00:00Z",
                                                   {"target": "twin"}), tmp_path / "report")
    rgb = _screenshot(browser, paths.html, tmp_path / "shot.png", tmp_path / "profile")
    grey = rgb.mean(axis=2)
    assert rgb.shape[0] >= 4000
    assert grey.std() > 20, "screenshot is blank (one flat colour)"
    assert (grey < 200).mean() > 0.02, "almost nothing dark on the page: text did not render"
    assert _pixels_near(rgb[:600], BANNER_RED) > 5000, "INVALID banner not visible at the top"
    assert _pixels_near(rgb, MPL_BLUE, tolerance=20) > 500, "figures did not render"
