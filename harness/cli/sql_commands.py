"""`harness sql`: SQL over a pipeline's local tables and its event log."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import sys
from typing import Any

from harness.cli.bundle_options import add_pipeline_options, pipeline_from_args


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    sql = subparsers.add_parser(
        "sql",
        parents=[common],
        help="run SQL over the pipeline's tables and event log",
        description=(
            "Run SQL over the pipeline's local tables (bare, LIVE. or catalog.schema. names) and its event log "
            "(SELECT * FROM event_log, or event_log('<pipeline id>') as on Databricks). JSON paths on string "
            "columns work as on Databricks: details:flow_progress.metrics.num_output_rows::bigint."
        ),
    )
    sql.add_argument(
        "query", metavar="QUERY", help="one query, or several separated by ';' (the last one is shown)"
    )
    add_pipeline_options(sql, root_positional=False)
    sql.add_argument("--pipeline-root", help="the pipeline folder (not needed to query)")
    sql.add_argument("--format", choices=("table", "json", "csv"), default="table")
    sql.add_argument(
        "--limit", type=int, default=1000, help="rows to print for --format table (default 1000)"
    )
    sql.set_defaults(func=sql_command)


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def sql_command(args: argparse.Namespace) -> int:
    from pyspark.errors import PySparkException

    from harness.pipeline import LocalPipeline
    from harness.query import sql_error
    from harness.sql.split import split_statements

    root, settings = pipeline_from_args(args)
    pipeline = LocalPipeline(root, settings, state=args.state, spark=getattr(args, "spark", None))
    statements = [s.text for s in split_statements(args.query, "<query>")] or [args.query]
    for statement in statements[:-1]:  # e.g. the docs' CREATE TEMP VIEW event_log_raw AS ...
        pipeline.sql(statement)
    frame = pipeline.sql(statements[-1])
    try:  # analysis errors surface in pipeline.sql; execution errors (casts, overflow) surface here
        if args.format == "table":
            frame.show(args.limit, truncate=False)
            return 0
        collected = frame.collect()
    except PySparkException as exc:
        raise sql_error(exc, args.query) from exc
    rows = [{k: _plain(v) for k, v in row.asDict().items()} for row in collected]
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=None)
        sys.stdout.write("\n")
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=frame.columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return 0
