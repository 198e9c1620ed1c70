"""Auto Loader (``cloudFiles``) emulation on Spark's native file stream source.

`cloud_files_stream` builds the streaming DataFrame a ``readStream.format("cloudFiles")`` call
returns on Databricks; `translate_stream_failure` turns its new-columns failure into
`NewColumnsDetectedError` after evolving the stored schema; `ingested_files` reads the file state
from a query checkpoint; `metrics_name` / `batch_metrics` give the per-batch record counts.
See docs/autoloader.md.
"""

from harness.autoloader.evolution import translate_stream_failure
from harness.autoloader.files import IngestedFile, ingested_files
from harness.autoloader.metrics import METRIC_EXPRESSIONS, batch_metrics, metrics_name
from harness.autoloader.options import CloudFilesOptions, parse_cloud_files_options
from harness.autoloader.source import cloud_files_stream
from harness.autoloader.store import SchemaStore, StoredSchema

__all__ = [
    "METRIC_EXPRESSIONS",
    "CloudFilesOptions",
    "IngestedFile",
    "SchemaStore",
    "StoredSchema",
    "batch_metrics",
    "cloud_files_stream",
    "ingested_files",
    "metrics_name",
    "parse_cloud_files_options",
    "translate_stream_failure",
]
