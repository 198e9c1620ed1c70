"""dbutils inside a real pipeline update: a builtin while sources load and run; secrets redacted."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.spark

SECRET = "zz-top-secret-42"


def test_a_secret_used_by_pipeline_code_never_reaches_the_event_log_or_output(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.pipeline import LocalPipeline

    monkeypatch.setenv("HARNESS_SECRET__VAULT__API_TOKEN", SECRET)
    source = tmp_path / "src" / "calls.py"
    source.parent.mkdir()
    source.write_text(
        textwrap.dedent(
            """
            import dlt
            from pyspark.sql import functions as F

            token = dbutils.secrets.get("vault", "api_token")
            print(f"loaded token {token}")


            @F.udf("string")
            def call_api(order_id):
                raise ValueError(f"remote refused token {token}")


            @dlt.table
            def calls():
                return spark.range(1).select(call_api(F.col("id").cast("string")).alias("reply"))


            @dlt.table
            def widgets_seen():
                return spark.createDataFrame([(dbutils.widgets.get("region"),)], "region STRING")
            """
        )
    )
    settings = {
        "name": "secrets_demo",
        "catalog": "main",
        "schema": "sec",
        "configuration": {"region": "eu-west"},
        "libraries": [{"file": {"path": "src/calls.py"}}],
    }
    pipeline = LocalPipeline(tmp_path, settings, state=tmp_path / "state", spark=spark)
    result = pipeline.run()

    assert result.status == "FAILED"
    assert result.flows["calls"].status == "FAILED"
    assert [row.region for row in pipeline.table("widgets_seen").collect()] == ["eu-west"]
    events = [row.asDict(recursive=True) for row in pipeline.event_log().collect()]
    text = repr(events)
    assert SECRET not in text
    failure = next(e for e in events if e["origin"]["flow_name"] == "calls" and e["error"])
    assert "remote refused token [REDACTED]" in failure["error"]
    assert SECRET not in (result.flows["calls"].error or "")
    assert "loaded token [REDACTED]" in capsys.readouterr().out
    import builtins

    assert not hasattr(builtins, "dbutils")  # a builtin only while the pipeline loads and runs
