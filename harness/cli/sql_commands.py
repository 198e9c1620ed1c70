"""`harness sql`: SQL over a pipeline's local tables and its event log."""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import sys
from typing import Any


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    sql = subparsers.add_parser(
        "sql",
        parents=[common],
        help="run SQL over the pipeline's tables and event log",
        description=(
            "Run SQL over the pipeline's local tables (bare, LIVE. or catalog.schema. names) and its event log "
            "(SELECT * FROM event_log)."
        ),
    )
    sql.add_argument("query", metavar="QUERY")
    sql.add_argument("--settings", required=True, metavar="SETTINGS.json")
    sql.add_argument("--pipeline-root", default=".", help="the pipeline folder (not needed to query)")
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
    from harness.pipeline import LocalPipeline

    pipeline = LocalPipeline(
        args.pipeline_root, args.settings, state=args.state, spark=getattr(args, "spark", None)
    )
    frame = pipeline.sql(args.query)
    if args.format == "table":
        frame.show(args.limit, truncate=False)
        return 0
    rows = [{k: _plain(v) for k, v in row.asDict().items()} for row in frame.collect()]
    if args.format == "json":
        json.dump(rows, sys.stdout, indent=None)
        sys.stdout.write("\n")
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=frame.columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return 0
