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
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from brixcheck.cluster.capability import Capability
from brixcheck.conformance.case import Case, CaseResult, Outcome
from brixcheck.errors import BrixcheckError
from brixcheck.files import write_atomic
from brixcheck.interrupts import CURRENT as INTERRUPTS

if TYPE_CHECKING:
    from brixcheck.cluster.target import Target

SCHEMA_VERSION = "brixcheck.conformance/v1alpha1"
# How a NOT-SUPPORTED skip reads: written only by not_supported(), read by not_supported_reason().
NOT_SUPPORTED_PREFIX = f"{Outcome.NOT_SUPPORTED.value}: "
RESULTS = pytest.StashKey[list[CaseResult]]()
ENVIRONMENT = pytest.StashKey[dict[str, Any]]()
TARGET = pytest.StashKey[Any]()
RUN_ID = pytest.StashKey[str]()
NAMESPACE = pytest.StashKey[str]()
SELECTED = pytest.StashKey[int]()
WRITE_ERROR = pytest.StashKey[str]()
PARTIAL = pytest.StashKey[str]()
LATEST = "conformance-latest.json"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "case(case): the conformance Case this test checks")
    config.stash[RESULTS] = []
    config.stash[ENVIRONMENT] = {}
    config.stash[RUN_ID] = uuid.uuid4().hex[:8]
    config.stash[NAMESPACE] = ""
    config.stash[SELECTED] = 0
    INTERRUPTS.install()


def pytest_unconfigure() -> None:
    INTERRUPTS.restore()
    INTERRUPTS.reason = ""


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[SELECTED] = sum(1 for item in session.items if case_of(item))


def run_id_of(config: pytest.Config) -> str:
    """The run's id: in the report, in the namespace name and on everything it creates."""
    return config.stash[RUN_ID]


def case_of(item: pytest.Item) -> Case | None:
    """The Case a test declares, if any."""
    marker = item.get_closest_marker("case")
    return marker.args[0] if marker else None


def not_supported(reason: str) -> NoReturn:
    """Skip the running test as NOT-SUPPORTED: the target cannot show what it checks."""
    pytest.skip(f"{NOT_SUPPORTED_PREFIX}{reason}")


def not_supported_reason(skip_reason: str) -> str | None:
    """The reason of a NOT-SUPPORTED skip (None: another kind of skip)."""
    reason = skip_reason.removeprefix("Skipped: ")
    return reason.removeprefix(NOT_SUPPORTED_PREFIX) \
        if reason.startswith(NOT_SUPPORTED_PREFIX) else None


def require_capabilities(target: Target, needed: Iterable[Capability], need: str = "") -> None:
    """NOT-SUPPORTED unless the target has every needed capability; `need` says what needs it
    (default: which capabilities the target lacks)."""
    missing = sorted(set(needed) - set(target.capabilities))
    if missing:
        not_supported(f"{need or 'the target lacks ' + ', '.join(missing)}"
                      f" ({target.describe_missing(missing)})")


STACK_CAPABILITIES = frozenset({Capability.AIBRIX_STACK, Capability.AIBRIX_GATEWAY})


@pytest.fixture(autouse=True)
def _conformance_gate(request: pytest.FixtureRequest) -> None:
    """Skip a case as NOT-SUPPORTED when the target lacks a capability it needs."""
    case = case_of(request.node)
    if case is None:
        return
    if case.known_issue:
        request.node.add_marker(pytest.mark.xfail(reason=case.known_issue, strict=True))
    target = request.getfixturevalue("target")
    if case.capabilities & STACK_CAPABILITIES:
        request.getfixturevalue("aibrix_stack")  # may install AIBrix and add the capability
    if Capability.AIBRIX_GATEWAY in case.capabilities:
        request.getfixturevalue("gateway_probe")  # probed once, on first need
    request.config.stash[ENVIRONMENT] = target.environment
    request.config.stash[TARGET] = target
    require_capabilities(target, case.capabilities)


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
        unsupported = not_supported_reason(reason)
        if unsupported is not None:
            return Outcome.NOT_SUPPORTED, unsupported
        return Outcome.SKIP, reason.removeprefix("Skipped: ")
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


def _partial_reason(config: pytest.Config, exitstatus: int) -> str:
    """Why the run is incomplete (empty: it ran every selected case)."""
    ran, selected = len(config.stash[RESULTS]), config.stash[SELECTED]
    if INTERRUPTS.reason or exitstatus == pytest.ExitCode.INTERRUPTED:
        why = INTERRUPTS.reason or "interrupted"
    elif ran < selected:
        why = "the run ended early"
    else:
        return ""
    return f"{why} after {ran} of {selected} cases"


def _report(config: pytest.Config, partial_reason: str) -> dict[str, Any]:
    results = config.stash[RESULTS]
    return {
        "schemaVersion": SCHEMA_VERSION,
        "runId": run_id_of(config),
        "namespace": config.stash[NAMESPACE],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "partial": {"partial": bool(partial_reason), "reason": partial_reason},
        "environment": config.stash[ENVIRONMENT],
        "counts": dict(Counter(r.outcome.value for r in results)),
        "cases": [{"id": r.case.id, "outcome": r.outcome.value, "phase": r.phase,
                   "durationSeconds": round(r.duration_s, 3), "reason": r.reason,
                   "description": r.case.description, "checks": r.case.checks,
                   "remedy": r.case.remedy if r.outcome is Outcome.FAIL else "",
                   "details": r.details} for r in results],
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write this run's report; only a complete run replaces conformance-latest.json."""
    config = session.config
    if not config.stash[RESULTS]:
        return
    out = Path(config.rootpath) / "reports"
    config.stash[PARTIAL] = _partial_reason(config, exitstatus)
    report = _report(config, config.stash[PARTIAL])
    text = json.dumps(report, indent=2, default=str)
    try:
        write_atomic(out / f"conformance-{report['runId']}.json", text)
        if not report["partial"]["partial"]:
            write_atomic(out / LATEST, text)
    except BrixcheckError as exc:
        config.stash[WRITE_ERROR] = str(exc)
        session.exitstatus = 2


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
    summary = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
    run_file = f"reports/conformance-{run_id_of(config)}.json"
    partial = config.stash.get(PARTIAL, "")
    error = config.stash.get(WRITE_ERROR, "")
    if error:
        write(f"{summary}   report NOT written: brixcheck: {error}", red=True)
    elif partial:
        write(f"{summary}   PARTIAL ({partial}): {run_file}; {LATEST} keeps the last "
              "complete run", yellow=True)
    else:
        write(f"{summary}   report: reports/{LATEST} ({run_file})")
