"""Screenshot the first screen (1280x800) of a benchmark report in headless Chromium.

Usage: python -m benchmarks.report_first_screen REPORT.html OUT.png
Prints where the strategy table ends (its closing rule, y in pixels) so the figure in
docs/reports.md comes with the measurement it shows.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from matplotlib import image as mpimg

TABLE_RULE = np.array((21, 101, 192))  # #leaderboard border-bottom, #1565c0
WINDOW = (1280, 800)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    ns = parser.parse_args(argv)
    browser = shutil.which("chromium")
    if browser is None or not ns.report.is_file():
        print("needs chromium on PATH (make browser-deps) and an existing report file",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--user-data-dir={profile}",
                        f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={ns.out}",
                        ns.report.resolve().as_uri()], check=True, capture_output=True,
                       timeout=90)
    rgb = (mpimg.imread(ns.out)[:, :, :3] * 255).round().astype(int)
    rows = np.flatnonzero((np.abs(rgb - TABLE_RULE).max(axis=2) <= 12).sum(axis=1) >= 600)
    where = f"ends at y={rows.max()} of {WINDOW[1]}" if rows.size else "not on the first screen"
    print(f"{ns.out}: {WINDOW[0]}x{WINDOW[1]}, strategy table {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
