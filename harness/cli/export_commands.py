"""`harness export-metrics` and `harness redrive-dead-letters`, plus the export after `harness run`."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "pipeline_root", metavar="PIPELINE_ROOT", help="folder with the pipeline's source files"
    )
    parser.add_argument(
        "--settings", required=True, metavar="SETTINGS.json", help="Databricks pipeline settings JSON"
    )
    parser.add_argument(
        "--config",
        metavar="ENV_CONFIG.json",
        help="environment config with the export / cost / sla sections (default: export defaults, no SLA)",
    )
    parser.add_argument(
        "--dsn",
        help="PostgreSQL to export to (libpq URL, key=value or jdbc:postgresql://); default: the provider chain",
    )
    parser.add_argument(
        "--connect-from-config",
        action="store_true",
        help="connect with the config's export section (host, port, ..., password from password_env)",
    )
    parser.add_argument("--master", help="Spark master (default local)")


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    export = subparsers.add_parser(
        "export-metrics",
        parents=[common],
        help="stage the event log's metrics and export them to PostgreSQL (incremental, idempotent)",
        description="Compute metrics of every finished update not exported yet, stage them in Delta under the "
        "state directory and upsert them into PostgreSQL; failed batches go to the dead-letter folder.",
    )
    _common(export)
    export.set_defaults(func=export_command)

    redrive = subparsers.add_parser(
        "redrive-dead-letters",
        parents=[common],
        help="replay the metrics batches in the dead-letter folder",
        description="Replay dead-lettered metric batches into PostgreSQL (idempotent: a batch already there changes nothing).",
    )
    _common(redrive)
    redrive.set_defaults(func=redrive_command)


def _config(path: str | None) -> Any:
    from pipeline.metrics.config import MetricsConfig, load_metrics_config

    return load_metrics_config(path) if path else MetricsConfig()


def _pipeline(args: argparse.Namespace) -> Any:
    from harness.pipeline import LocalPipeline

    return LocalPipeline(args.pipeline_root, args.settings, state=args.state, master=args.master)


def export_command(args: argparse.Namespace) -> int:
    from harness.metrics_export import describe, export_connection, export_local

    config = _config(args.config)
    pipeline = _pipeline(args)
    with export_connection(pipeline.layout, config, args.dsn, args.connect_from_config) as connect:
        staged, report = export_local(pipeline, config, connect)
    print(describe(staged, report))
    if not report.ok:
        print(f"Error: metrics export incomplete: {report.error}", file=sys.stderr)
        return 1
    return 0


def redrive_command(args: argparse.Namespace) -> int:
    from harness.metrics_export import dead_letter_dir, describe, export_connection, redrive_local

    config = _config(args.config)
    pipeline = _pipeline(args)
    with export_connection(pipeline.layout, config, args.dsn, args.connect_from_config) as connect:
        reports = redrive_local(pipeline, config, connect)
    if not reports:
        print(f"No dead letters in {dead_letter_dir(pipeline)}.")
        return 0
    for report in reports:
        print(describe(None, report))
    failed = [r for r in reports if not r.ok]
    if failed:
        print(f"Error: re-drive incomplete: {failed[0].error}", file=sys.stderr)
        return 1
    return 0


def export_after_run(pipeline: Any, config_path: str | None) -> None:
    """The automatic export after `harness run` when the config's ``export.enabled`` is true.

    A failed export never fails the run (its data waits in the dead-letter folder); it is reported.
    """
    if not config_path:
        return
    from harness.metrics_export import describe, export_connection, export_local
    from pipeline.utils.errors import PipelineError

    try:
        config = _config(config_path)
    except PipelineError as exc:
        print(f"Warning: no metrics export: {exc}", file=sys.stderr)
        return
    if not config.export.enabled:
        return
    from harness.errors import HarnessError
    from harness.runtime.crashpoints import crash_point

    def committed(batch: Any) -> None:
        crash_point("export:after_batch")  # one batch in PostgreSQL, the next not yet

    try:
        with export_connection(pipeline.layout, config) as connect:

            @functools.wraps(connect)  # the exporter names the target behind it (describe_target)
            def connect_after_staging() -> Any:
                crash_point("export:after_staging")  # metrics staged in Delta, PostgreSQL not written
                return connect()

            crash_point("export:before")  # the update is done, nothing of it staged or exported
            staged, report = export_local(
                pipeline, config, connect_after_staging, on_batch_committed=committed
            )
    except (HarnessError, PipelineError) as exc:  # e.g. no PostgreSQL at all: the run itself succeeded
        print(f"Warning: no metrics export: {exc}", file=sys.stderr)
        return
    except Exception as exc:  # an exporter bug must not fail a completed update either (docs/metrics.md)
        log.exception("metrics export after the run failed")
        print(
            f"Warning: no metrics export: {type(exc).__name__}: {exc}; the next export picks the update up",
            file=sys.stderr,
        )
        return
    print(describe(staged, report))
    if not report.ok:
        print(
            f"Warning: metrics export incomplete ({report.error}); run `harness redrive-dead-letters` later.",
            file=sys.stderr,
        )
