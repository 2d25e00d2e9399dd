"""Doctor's report text: all clear, findings with indented remedies, one-line form."""

from __future__ import annotations

from brixcheck.doctor.findings import Finding, FindingId
from brixcheck.doctor.render import one_line, report_lines
from tests.unit.doctor import fakes

FINDING = Finding(FindingId.DISK_PRESSURE, "Node x reports DiskPressure.",
                  ("sudo k3s crictl rmi --prune", "# a comment"), ("node/x DiskPressure=True",))


def test_report_all_clear_names_what_was_checked():
    seen = fakes.observed([fakes.node()], [fakes.pod("a"), fakes.pod("b")])
    assert report_lines([], seen, []) == ["all clear: no problem found in 1 node, 2 pods"]


def test_report_finding_has_cause_then_indented_remedy():
    lines = report_lines([FINDING], fakes.observed([fakes.node()]), ["GPU not checked"])
    assert lines[0] == "note: GPU not checked"
    assert lines[1] == "[DiskPressure] Node x reports DiskPressure."
    remedy = lines.index("  remedy:")
    assert lines[remedy + 1] == "    sudo k3s crictl rmi --prune"
    assert lines[-1] == "1 problem found in 1 node, 0 pods"


def test_one_line_drops_comment_lines():
    assert one_line(FINDING) == ("DiskPressure: Node x reports DiskPressure. Remedy: "
                                 "sudo k3s crictl rmi --prune")
