"""Paired strategy comparisons in words: "X is lower than Y by d ms (95% CI a..b)".

Only words and layout; the differences and intervals come from `brixcheck.analysis.paired`.
"""

from __future__ import annotations

from brixcheck.analysis.paired import PairedDifference

METRIC_NAMES = {"ttft_ms": "TTFT", "e2e_ms": "E2E", "tpot_ms": "TPOT", "itl_ms": "ITL"}


def statement(diff: PairedDifference) -> str:
    """One sentence for one paired difference.

    Args:
        diff: mean of first - second with its confidence interval.

    Returns:
        "X is lower than Y on TTFT by d ms (95% CI a..b ms, n paired requests)" when the
        interval excludes zero, else a "no significant difference" sentence.
    """
    ci = diff.interval
    name = METRIC_NAMES.get(diff.metric, diff.metric)
    level = f"{ci.confidence:.0%} CI"
    where = f" at {diff.within}" if diff.within else ""
    tail = f"{ci.n} paired requests"
    if ci.high < 0:
        return (f"{diff.first} is lower than {diff.second} on {name}{where} by "
                f"{-ci.estimate:.2f} ms ({level} {-ci.high:.2f}..{-ci.low:.2f} ms, {tail})")
    if ci.low > 0:
        return (f"{diff.second} is lower than {diff.first} on {name}{where} by "
                f"{ci.estimate:.2f} ms ({level} {ci.low:.2f}..{ci.high:.2f} ms, {tail})")
    return (f"no significant difference on {name}{where} between {diff.first} and "
            f"{diff.second}: {diff.first} - {diff.second} = {ci.estimate:+.2f} ms ({level} "
            f"{ci.low:+.2f}..{ci.high:+.2f} ms, {tail})")


def comparison_markdown(diffs: list[PairedDifference], resamples: int, seed: int) -> str:
    """The comparison report as Markdown (for CI job summaries and the terminal).

    Args:
        diffs: paired differences.
        resamples: bootstrap resample count used.
        seed: bootstrap seed used.

    Returns:
        A heading, the method in one paragraph, one bullet per difference.
    """
    lines = ["# Strategy comparison (paired by request index)", "",
             "Each request index is the same prompt at the same scheduled time under every "
             "strategy; the difference is taken request by request over requests that "
             f"succeeded under both, and its mean gets a percentile-bootstrap CI ({resamples} "
             f"resamples, seed {seed}).", ""]
    lines += [f"- {statement(d)}" for d in diffs] or ["- no strategy pairs to compare"]
    return "\n".join(lines) + "\n"
