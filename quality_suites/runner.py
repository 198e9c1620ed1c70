"""Run the stored suites against Spark tables in an ephemeral GX context; metric rows and Data Docs.

Why ephemeral: nothing is written to a ``gx/`` project folder or a cloud store, so a run leaves
only what we ask for (the Data Docs folder). Analytics are off through ``GX_ANALYTICS_ENABLED`` (set
before GX is imported, where GX reads it) and the context's own ``analytics_enabled``; progress
bars are off so logs stay readable. Data Docs are static HTML built without any network access
(the pages link CSS/JS from public CDNs, so offline viewers see them unstyled).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.utils.errors import QualitySuiteError

__all__ = ["QualityMetricRow", "SuiteRun", "build_data_docs", "new_context", "run_suites"]

DOCS_SITE = "local_report"


@dataclass(frozen=True)
class QualityMetricRow:
    """One expectation's outcome, in the shape the metrics export writes (``gx_quality_results``)."""

    run_id: str
    suite: str
    table_name: str
    expectation: str
    column_name: str | None
    success: bool
    observed_value: str | None
    unexpected_count: int | None
    element_count: int | None
    evaluated_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SuiteRun:
    suite: str
    table_name: str
    success: bool
    rows: tuple[QualityMetricRow, ...]

    @property
    def target(self) -> str:
        """The table or check frame validated (same as ``table_name``; the e2e report reads this name)."""
        return self.table_name

    @property
    def failed(self) -> list[QualityMetricRow]:
        return [r for r in self.rows if not r.success]


def new_context(docs_dir: Path | None = None) -> Any:
    """An ephemeral GX context, analytics and progress bars off, with a local Data Docs site if asked."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.analytics_enabled = False
    if docs_dir is not None:
        context.add_data_docs_site(
            site_name=DOCS_SITE,
            site_config={
                "class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
            },
        )
    return context


def _frame(spark: Any, namespace: str, target: str, suite: str) -> Any:
    from quality_suites.definitions import CHECK_FRAMES

    frame = CHECK_FRAMES.get(target)
    try:
        if frame is not None:
            return spark.sql(frame.sql.format(ns=namespace))
        return spark.table(f"{namespace}.{target}")
    except Exception as exc:  # AnalysisException: table or column missing
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QualitySuiteError(suite, f"cannot read {namespace}.{target}: {first}") from exc


def _observed(result: dict[str, Any]) -> str | None:
    if "observed_value" in result:
        return json.dumps(result["observed_value"], default=str)
    if "unexpected_count" in result:
        return json.dumps(result["unexpected_count"])
    return None


def _rows(
    run_id: str, suite: str, target: str, results: Iterable[Any], now: dt.datetime
) -> list[QualityMetricRow]:
    rows = []
    for res in results:
        config = res.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or (
            f"{kwargs['column_A']},{kwargs['column_B']}" if "column_A" in kwargs else None
        )
        detail = dict(res.result or {})
        rows.append(
            QualityMetricRow(
                run_id=run_id,
                suite=suite,
                table_name=target,
                expectation=config.type,
                column_name=column,
                success=bool(res.success),
                observed_value=_observed(detail),
                unexpected_count=detail.get("unexpected_count"),
                element_count=detail.get("element_count"),
                evaluated_at=now,
            )
        )
    return rows


def run_suites(
    spark: Any,
    namespace: str,
    *,
    run_id: str,
    now: dt.datetime,
    suites: Sequence[str] | None = None,
    docs_dir: Path | None = None,
    frames: dict[str, Any] | None = None,
) -> list[SuiteRun]:
    """Validate each suite (all by default) and return its rows; Data Docs go to ``docs_dir`` if given.

    ``namespace`` holds the tables (``catalog.schema`` on Databricks, the local database on the
    harness). ``frames`` overrides the DataFrame of a target (tests, or a notebook's own frame).
    """
    import great_expectations as gx

    from quality_suites.definitions import SUITES
    from quality_suites.store import load_suite

    context = new_context(docs_dir)
    source = context.data_sources.add_spark(name="pipeline_tables")
    runs = []
    for name in suites or sorted(SUITES):
        if name not in SUITES:
            raise QualitySuiteError(name, f"no such suite; known: {sorted(SUITES)}")
        spec = SUITES[name]
        df = (frames or {}).get(spec.target)
        if df is None:
            df = _frame(spark, namespace, spec.target, name)
        suite = context.suites.add(load_suite(name))
        batch = source.add_dataframe_asset(name=spec.target).add_batch_definition_whole_dataframe("all_rows")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{name}_checkpoint", validation_definitions=[definition], result_format="SUMMARY"
            )
        )
        result = checkpoint.run(batch_parameters={"dataframe": df}, run_id=gx.RunIdentifier(run_name=run_id))
        [validation] = result.run_results.values()
        rows = _rows(run_id, name, spec.target, validation.results, now)
        runs.append(SuiteRun(name, spec.target, all(r.success for r in rows), tuple(rows)))
    if docs_dir is not None:
        build_data_docs(
            context
        )  # once at the end: a per-checkpoint docs action rebuilds the whole site each time
    return runs


def build_data_docs(context: Any) -> str:
    """Rebuild the local Data Docs site of a context from `new_context`; returns the index URL."""
    return context.build_data_docs(site_names=[DOCS_SITE])[DOCS_SITE]
