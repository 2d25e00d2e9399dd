"""docs/reports.md quotes every metric formula exactly as the code documents it."""

from __future__ import annotations

from pathlib import Path

from brixcheck.analysis import metric_formulas

DOC = Path(__file__).resolve().parents[3] / "docs" / "reports.md"


def test_reports_doc_lists_every_formula_verbatim():
    text = DOC.read_text()
    missing = [name for name, formula in metric_formulas().items()
               if f"- **{name}**: {formula}\n" not in text]
    assert not missing, f"docs/reports.md is stale for {missing}; regenerate its formula list"
