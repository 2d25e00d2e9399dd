"""Doctor's output: each finding as cause, evidence and indented remedy; or all clear.

Also the one-line form conformance cases put in their failure messages.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from brixcheck.doctor.facts import plural
from brixcheck.doctor.findings import Finding, Observed

INDENT = "    "


def scope(seen: Observed) -> str:
    """'1 node, 12 pods'."""
    return f"{plural(len(seen.nodes), 'node')}, {plural(len(seen.pods), 'pod')}"


def finding_lines(finding: Finding) -> list[str]:
    """One finding: `[Id] cause`, its evidence, then the remedy commands indented."""
    lines = [f"[{finding.id}] {finding.cause}"]
    if finding.evidence:
        lines.append("  evidence:")
        lines += [f"{INDENT}{item}" for item in finding.evidence]
    if finding.remedy:
        lines.append("  remedy:")
        lines += [f"{INDENT}{command}" for command in finding.remedy]
    return lines


def report_lines(findings: list[Finding], seen: Observed, notes: list[str]) -> list[str]:
    """The whole report: notes, each finding, and the summary line."""
    lines = [f"note: {note}" for note in notes]
    if not findings:
        return [*lines, f"all clear: no problem found in {scope(seen)}"]
    for finding in findings:
        lines += [*finding_lines(finding), ""]
    return [*lines, f"{plural(len(findings), 'problem')} found in {scope(seen)}"]


def one_line(finding: Finding) -> str:
    """`Id: cause; remedy: cmd1 && ...` for a conformance case's failure message."""
    commands = [c for c in finding.remedy if not c.startswith("#")]
    return f"{finding.id}: {finding.cause} Remedy: {' ; '.join(commands)}"


def as_json(findings: list[Finding], seen: Observed, notes: list[str]) -> dict[str, Any]:
    """Findings as plain data, for scripts."""
    return {"clear": not findings, "nodes": len(seen.nodes), "pods": len(seen.pods),
            "notes": notes, "findings": [asdict(f) for f in findings]}
