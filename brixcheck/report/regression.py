"""The regression gate's verdicts as text for the terminal and CI logs."""

from __future__ import annotations

from brixcheck.analysis.regression import Verdict

_HEADER = (f"{'group':<18} {'metric':<22} {'baseline':>10} {'candidate':>10} {'change':>8} "
           f"{'tol':>6} {'p':>9} {'p(Holm)':>9}  test / verdict")


def verdict_line(verdict: Verdict) -> str:
    """One aligned line per verdict.

    Args:
        verdict: the decision for one metric of one group.

    Returns:
        Group, metric, both values, relative change, tolerance, raw and Holm-adjusted
        p-values, test and outcome.
    """
    outcome = "REGRESSION" if verdict.regression else "ok"
    return (f"{verdict.group:<18} {verdict.metric:<22} {verdict.baseline:>10.3f} "
            f"{verdict.candidate:>10.3f} {verdict.change:>+8.1%} {verdict.tolerance:>6.0%} "
            f"{verdict.p_value:>9.2g} {verdict.p_adjusted:>9.2g}  {verdict.test} / {outcome}")


def gate_text(candidate: str, baseline: str | None, verdicts: list[Verdict], note: str,
              alpha: float) -> str:
    """The gate's full report.

    Args:
        candidate: candidate run id.
        baseline: baseline run id (None when there was none).
        verdicts: all verdicts.
        note: why nothing was compared, if so.
        alpha: the significance level used.

    Returns:
        Lines of text ending with the overall result.
    """
    lines = [f"candidate {candidate} vs baseline {baseline or '-'} (family-wise alpha "
             f"{alpha:g}, Holm-adjusted; a regression must be significant and beyond its "
             "tolerance)"]
    if note:
        lines.append(note)
    if verdicts:
        lines += [_HEADER, *map(verdict_line, verdicts)]
    bad = [v for v in verdicts if v.regression]
    lines.append(f"RESULT: {len(bad)} significant regression(s)" if bad else
                 "RESULT: no significant regression")
    return "\n".join(lines)
