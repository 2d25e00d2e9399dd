"""docs/conformance.md's options table is the one generated from the options model."""

from __future__ import annotations

import re

from brixcheck.fixtures.options import options_reference
from brixcheck.resources import CHECKOUT


def test_options_reference_in_the_docs_is_current():
    text = (CHECKOUT / "docs" / "conformance.md").read_text()
    found = re.search(r"<!-- options:begin -->\n(.*?)<!-- options:end -->", text, re.S)
    assert found, "docs/conformance.md lost its options:begin/end markers"
    assert found.group(1).strip() == options_reference(), (
        "the options table is stale: replace it with `python -m brixcheck.fixtures.options`")
