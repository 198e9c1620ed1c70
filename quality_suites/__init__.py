"""Great Expectations suites for the silver and gold tables (issue 9).

Suites are defined in code (`quality_suites.definitions`), stored as JSON in ``quality_suites/suites/``
(``python -m quality_suites`` rewrites them; a test fails when they are stale) and run from that
JSON against Spark DataFrames in an ephemeral GX context with analytics off
(`quality_suites.runner`). Results come back as quality metric rows for the PostgreSQL export, and
Data Docs are built into a report folder. Nothing here imports ``harness``: the same code runs in a
Databricks notebook or job.
"""

from __future__ import annotations

from quality_suites.definitions import CHECK_FRAMES, SUITES, CheckFrame, SuiteSpec
from quality_suites.runner import QualityMetricRow, SuiteRun, build_data_docs, run_suites

__all__ = [
    "CHECK_FRAMES",
    "SUITES",
    "CheckFrame",
    "QualityMetricRow",
    "SuiteRun",
    "SuiteSpec",
    "build_data_docs",
    "run_suites",
]
