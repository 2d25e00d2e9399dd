"""Benchmark report writers: versioned JSON, summary CSV, self-contained HTML, comparisons.

Writers render what `brixcheck.analysis` computed and `brixcheck.plots` drew; they never
compute a metric.
"""

from brixcheck.report.document import SCHEMA_VERSION, RunInfo, RunStatus, benchmark_document
from brixcheck.report.writer import ReportPaths, report_figures, write_benchmark_report

__all__ = ["SCHEMA_VERSION", "ReportPaths", "RunInfo", "RunStatus", "benchmark_document",
           "report_figures", "write_benchmark_report"]
