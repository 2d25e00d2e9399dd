"""Conformance cases as declared data: id, description, needs, what they check, the remedy.

A case's metadata is a frozen value next to its test; only the assertion is code. The outcome
set is closed: PASS, FAIL, SKIP, NOT-SUPPORTED. NOT-SUPPORTED is decided before the test runs,
from the capabilities the target has; SKIP means a runtime precondition could not be established
(the reason says which); a known upstream bug makes the case a strict expected failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from brixcheck.cluster.capability import Capability


class Outcome(StrEnum):
    """The closed set of case outcomes."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    NOT_SUPPORTED = "NOT-SUPPORTED"


@dataclass(frozen=True)
class Case:
    """One conformance case.

    `diagnoses` names the `brixcheck doctor` findings that explain a failure of this case; when it
    fails, those findings' causes and remedies are the failure message (one source of truth).
    """

    id: str
    description: str
    checks: str
    remedy: str
    capabilities: frozenset[Capability] = field(default_factory=frozenset)
    known_issue: str | None = None
    diagnoses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.id[:1].isupper() or not self.id.isalnum():
            raise ValueError(f"case id {self.id!r} must be PascalCase letters and digits")


@dataclass(frozen=True)
class CaseResult:
    """What one case ended as, with the evidence."""

    case: Case
    outcome: Outcome
    reason: str = ""
    duration_s: float = 0.0
    phase: str = "call"
    details: dict[str, object] = field(default_factory=dict)
