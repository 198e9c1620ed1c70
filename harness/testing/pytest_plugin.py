"""pytest plugin (auto-loaded when the harness is installed): run your own DLT modules in tests.

Fixtures:

* ``dlt_spark`` — one local Spark + Delta session for the whole test run (UI off, small shuffle
  partitions, metastore and warehouse in a temporary directory). Reuses an active session if the
  project already created one.
* ``dlt_pipeline`` — a factory: ``dlt_pipeline(bundle=".", target="dev", pipeline=KEY,
  variables={...})`` (the pipeline as a Databricks Asset Bundle deploys it, the options of
  ``harness run --bundle``) or ``dlt_pipeline(pipeline_root, settings)`` (a settings JSON or dict)
  returns a `harness.pipeline.LocalPipeline` with a fresh state directory under ``tmp_path`` that
  shares ``dlt_spark``; call ``.run()`` and assert on ``.table(name)`` / ``.event_log()``.

Example::

    def test_silver_drops_bad_rows(dlt_pipeline, tmp_path):
        pipeline = dlt_pipeline("pipeline", {"name": "t", "schema": "s",
                                "libraries": [{"glob": {"include": "transformations/**"}}]})
        (pipeline.volume_path("/Volumes/c/s/v/in") / "a.json").write_text('{"id": 1}\\n')
        result = pipeline.run()
        assert result.status == "COMPLETED"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def dlt_spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    from harness.spark import create_session, stop_session

    session = create_session(tmp_path_factory.mktemp("dlt-spark"), app_name="dlt-harness-pytest")
    yield session
    stop_session()


@pytest.fixture
def dlt_pipeline(dlt_spark: Any, tmp_path: Path) -> Callable[..., Any]:
    from harness.pipeline import LocalPipeline

    def make(
        pipeline_root: str | Path | None = None,
        settings: str | Path | Mapping[str, Any] | None = None,
        *,
        bundle: str | Path | None = None,
        target: str | None = None,
        pipeline: str | None = None,
        variables: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> LocalPipeline:
        state = kwargs.pop("state", tmp_path / "harness-state")
        if settings is None:
            return LocalPipeline.from_bundle(
                bundle or ".", target, pipeline, variables, state=state, spark=dlt_spark, **kwargs
            )
        if bundle is not None or target is not None or pipeline is not None or variables:
            raise TypeError("dlt_pipeline: pass either settings or bundle/target/pipeline/variables")
        return LocalPipeline(pipeline_root or ".", settings, state=state, spark=dlt_spark, **kwargs)

    return make
