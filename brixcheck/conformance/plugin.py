"""pytest plugin that turns conformance tests into case outcomes and a versioned report.

A test is a case when it carries `@pytest.mark.case(CASE)`. Before it runs, the plugin compares
the case's capabilities with the target's and skips it as NOT-SUPPORTED when one is missing.
After it runs, the outcome is recorded in the report hook, so a crash in the body cannot lose
it: passed -> PASS, failed in any phase -> FAIL (phase recorded), skipped -> SKIP, expected
failure of a known upstream bug -> SKIP with the bug, unexpected pass of one -> FAIL. A failure
carries the case's remedy into the terminal, the JUnit XML and the JSON report.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from brixcheck.conformance.model import Capability, Case, CaseResult, Outcome

SCHEMA_VERSION = "brixcheck.conformance/v1alpha1"
NOT_SUPPORTED_PREFIX = "NOT-SUPPORTED: "
RESULTS = pytest.StashKey[list[CaseResult]]()
ENVIRONMENT = pytest.StashKey[dict[str, Any]]()
TARGET = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "case(case): the conformance Case this test checks")
    config.stash[RESULTS] = []
    config.stash[ENVIRONMENT] = {}


def case_of(item: pytest.Item) -> Case | None:
    """The Case a test declares, if any."""
    marker = item.get_closest_marker("case")
    return marker.args[0] if marker else None


@pytest.fixture(autouse=True)
def _conformance_gate(request: pytest.FixtureRequest) -> None:
    """Skip a case as NOT-SUPPORTED when the target lacks a capability it needs."""
    case = case_of(request.node)
    if case is None:
        return
    if case.known_issue:
        request.node.add_marker(pytest.mark.xfail(reason=case.known_issue, strict=True))
    target = request.getfixturevalue("target")
    if Capability.AIBRIX_GATEWAY in case.capabilities:
        request.getfixturevalue("gateway_probe")  # probed once, on first need
    request.config.stash[ENVIRONMENT] = target.environment
    request.config.stash[TARGET] = target
    missing = sorted(set(case.capabilities) - set(target.capabilities))
    if missing:
        pytest.skip(f"{NOT_SUPPORTED_PREFIX}the target lacks {', '.join(missing)}"
                    f" ({target.describe_missing(missing)})")


def _failure_message(report: pytest.TestReport) -> str:
    """The assertion's own message (first line), not pytest's source excerpt."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else report.longreprtext
    first = text.strip().splitlines()[0] if text.strip() else "failed"
    return first.removeprefix("AssertionError: ")[:500]


def _outcome(report: pytest.TestReport) -> tuple[Outcome, str]:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return Outcome.SKIP, f"known upstream bug: {report.wasxfail}"
        return Outcome.FAIL, f"passed although a known bug was expected: {report.wasxfail}"
    if report.failed:
        return Outcome.FAIL, _failure_message(report)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(NOT_SUPPORTED_PREFIX):
            return Outcome.NOT_SUPPORTED, reason.removeprefix(NOT_SUPPORTED_PREFIX)
        return Outcome.SKIP, reason
    return Outcome.PASS, ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item):
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    case = case_of(item)
    if case is None:
        return
    # One outcome per case: the call's, or the setup's/teardown's when that phase decided it.
    decided = report.when == "call" or report.failed or (report.skipped and report.when == "setup")
    if not decided:
        return
    result_outcome, reason = _outcome(report)
    if result_outcome is Outcome.FAIL:
        diagnosis = _diagnosis(item.config, case)
        if diagnosis:
            reason = f"{reason} | doctor: {diagnosis}"
        report.sections.append(("remedy", case.remedy))
        item.user_properties.append(("remedy", case.remedy))
    item.user_properties.append(("case", case.id))
    item.user_properties.append(("outcome", result_outcome.value))
    details = dict(getattr(item, "case_details", {}))
    item.config.stash[RESULTS].append(CaseResult(case, result_outcome, reason,
                                                 report.duration, report.when, details))


def _diagnosis(config: pytest.Config, case: Case) -> str:
    """What `brixcheck doctor` finds that explains this case's failure (same code, same words)."""
    target = config.stash.get(TARGET, None)
    if not case.diagnoses or target is None:
        return ""
    from brixcheck.doctor import diagnose
    from brixcheck.doctor.render import one_line

    try:
        findings = diagnose(target.api_client, time_scale=target.time_scale)
    except Exception as exc:  # noqa: BLE001 - a diagnosis problem must not hide the failure
        return f"diagnosis failed: {exc}"
    return " | ".join(one_line(f) for f in findings if f.id in case.diagnoses)


def _report(config: pytest.Config) -> dict[str, Any]:
    results = config.stash[RESULTS]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "runId": uuid.uuid4().hex[:12],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "environment": config.stash[ENVIRONMENT],
        "counts": dict(Counter(r.outcome.value for r in results)),
        "cases": [{"id": r.case.id, "outcome": r.outcome.value, "phase": r.phase,
                   "durationSeconds": round(r.duration_s, 3), "reason": r.reason,
                   "description": r.case.description, "checks": r.case.checks,
                   "remedy": r.case.remedy if r.outcome is Outcome.FAIL else "",
                   "details": r.details} for r in results],
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not session.config.stash[RESULTS]:
        return
    out = Path(session.config.rootpath) / "reports"
    out.mkdir(exist_ok=True)
    report = _report(session.config)
    path = out / f"conformance-{report['runId']}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    (out / "conformance-latest.json").write_text(path.read_text())


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash[RESULTS]
    if not results:
        return
    write = terminalreporter.write_line
    terminalreporter.section("brixcheck conformance")
    for result in results:
        write(f"{result.outcome.value:<14} {result.case.id:<38} {result.reason[:70]}")
        if result.outcome is Outcome.FAIL:
            write(f"{'':<14} remedy: {result.case.remedy}")
    counts = Counter(r.outcome.value for r in results)
    write(", ".join(f"{n} {o}" for o, n in sorted(counts.items())) +
          "   report: reports/conformance-latest.json")
