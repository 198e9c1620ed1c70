"""`dbutils` for pipeline code, as Databricks provides it in pipeline source files.

Only the parts that have a local meaning exist: `fs` (over the local volumes, a local DBFS root
and `file:/` paths), `secrets` (from the environment or a local secrets file, redacted wherever
the harness writes text) and `widgets` (the pipeline configuration). Everything else
(`dbutils.notebook.run`, `dbutils.jobs`, ...) raises `DbutilsUnsupportedError` naming the call.
"""

from __future__ import annotations

from harness.dbutils.api import DBUtils
from harness.dbutils.fs import FileInfo
from harness.dbutils.redaction import redact

__all__ = ["DBUtils", "FileInfo", "redact"]
