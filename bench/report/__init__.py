"""The comparison report: `build_report(results_dir, report_dir)` writes report.md, a self-contained
report.html and figures/*.png; `main` is what the CLI calls."""

from bench.report.build import ReportResult, build_report, main

__all__ = ["ReportResult", "build_report", "main"]
