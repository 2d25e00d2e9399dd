"""Benchmark analysis: pure functions from per-request records to summaries (pandas).

Reads the load generator's JSON-lines records (`load_records`, the only input boundary) and
computes metrics, validity, paired comparisons and regression verdicts. It never plots, writes
files, or imports `brixcheck.load`, `brixcheck.twin` or Locust.
"""

from brixcheck.analysis.frame import load_records, records_to_frame
from brixcheck.analysis.metrics import DEFAULT_SLOS, SloSet
from brixcheck.analysis.summary import (
    AnalysisOptions,
    BenchmarkResult,
    analyze,
    error_table,
    metric_formulas,
    pod_share_matrix,
    pod_table,
    summarize,
)
from brixcheck.analysis.validity import Schedule, Validity, ValidityBounds, check_validity

__all__ = [
    "DEFAULT_SLOS", "AnalysisOptions", "BenchmarkResult", "Schedule", "SloSet", "Validity",
    "ValidityBounds", "analyze", "check_validity", "error_table", "load_records",
    "metric_formulas", "pod_share_matrix", "pod_table", "records_to_frame", "summarize",
]
