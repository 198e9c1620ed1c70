"""The ``spark`` a Databricks notebook gets, locally: a session on a pipeline's state with its tables.

On Databricks a notebook finds ``spark`` as a global and reads the pipeline's tables by
``catalog.schema.table``. Locally, `notebook_session` builds the harness's session on the pipeline's
state directory (the same one `harness sql` uses) and registers every Delta table of the pipeline
in that state's metastore, so the notebooks in ``pipeline/notebooks/`` run unchanged: they take the
namespace as a parameter (``catalog.schema`` there, the local database ``catalog__schema`` here).

A kernel start-up file (IPython ``profile_default/startup/``) does the set-up, so the notebook
itself contains nothing the harness adds::

    from harness.notebook import notebook_session
    spark, namespace = notebook_session(state=".harness", bundle=".", target="dev")   # databricks.yml

Registering is needed when the pipeline ran on another session's metastore (the test suite's
shared session): the data is in the pipeline's state either way, its catalog entries may not be.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["NAMESPACE_ENV", "notebook_session", "register_tables"]

#: the variable the notebooks read their ``namespace`` parameter from outside Databricks
NAMESPACE_ENV = "NOTEBOOK_NAMESPACE"


def register_tables(pipeline: Any) -> list[str]:
    """Register each Delta table under the pipeline's state in the session's metastore; returns their names.

    Idempotent (a table already registered at the same location is left alone).
    """
    from harness.runtime.tables import TableLocation, delta_table_exists

    store = pipeline.runtime.store
    root = Path(store.tables_root)
    names = []
    for database in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for table in sorted(p for p in database.iterdir() if delta_table_exists(p)):
            store.register(TableLocation(table.name.lower(), database.name, table.name, str(table), True))
            names.append(f"{database.name}.{table.name}")
    from harness.spark.catalog_store import save_catalog

    save_catalog(pipeline.spark)
    return names


def notebook_session(
    pipeline_root: str | os.PathLike[str] | None = None,
    settings: str | os.PathLike[str] | None = None,
    state: str | os.PathLike[str] = ".harness",
    *,
    bundle: str | os.PathLike[str] | None = None,
    target: str | None = None,
    pipeline: str | None = None,
    master: str | None = None,
) -> tuple[Any, str]:
    """(SparkSession, namespace) for a notebook over the pipeline's tables; also sets `NAMESPACE_ENV`.

    The pipeline is a bundle's (``bundle``, ``target``, ``pipeline``, as ``harness run --bundle``)
    or, with ``settings``, a settings JSON with its ``pipeline_root``.
    """
    from harness.pipeline import LocalPipeline

    if settings is None:
        local = LocalPipeline.from_bundle(bundle or ".", target, pipeline, state=state, master=master)
    else:
        local = LocalPipeline(pipeline_root or ".", settings, state=state, master=master)
    register_tables(local)
    namespace = local.runtime.names.database
    os.environ[NAMESPACE_ENV] = namespace
    _speak_databricks_sql(local)
    return local.spark, namespace


def _speak_databricks_sql(pipeline: Any) -> None:
    """`spark.sql` in the notebook accepts Databricks' event_log() and JSON-path spellings, as on Databricks."""
    from harness.pipeline import EVENT_LOG_VIEW

    spark = pipeline.spark
    plain_sql = spark.sql
    pipeline.event_log().createOrReplaceTempView(EVENT_LOG_VIEW)

    def sql(query: str, *args: Any, **kwargs: Any) -> Any:
        return plain_sql(pipeline.prepare_sql(query), *args, **kwargs)

    spark.sql = sql
