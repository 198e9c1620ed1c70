"""`harness run` (one triggered update), `harness validate` (analyse only) and `harness path`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.cli.bundle_options import add_pipeline_options, pipeline_from_args, settings_from_args
from harness.cli.progress import ProgressPrinter, summary


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (value or "").split(",") if n.strip())


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    run = subparsers.add_parser(
        "run",
        parents=[common],
        help="run one triggered update of a pipeline",
        description="Run one triggered update of a DLT pipeline on local Spark + Delta, as Databricks would.",
    )
    add_pipeline_options(run)
    group = run.add_mutually_exclusive_group()
    group.add_argument(
        "--full-refresh", action="store_true", help="reset every streaming table and recompute all"
    )
    run.add_argument("--refresh", metavar="T1,T2", help="refresh only these tables")
    run.add_argument(
        "--full-refresh-selection", metavar="T1,T2", help="reset and recompute only these tables"
    )
    run.add_argument(
        "--master", help="Spark master (local[N], spark://host:port) or Spark Connect remote (sc://host:port)"
    )
    run.add_argument(
        "--no-retry", action="store_true", help="do not retry once after Auto Loader records new columns"
    )
    run.add_argument(
        "--wait",
        action="store_true",
        help="if another process is updating this pipeline, wait for it instead of failing",
    )
    run.add_argument(
        "--config",
        metavar="ENV_CONFIG.json",
        help="environment config; exports metrics after the run if export.enabled",
    )
    run.add_argument(
        "--profile",
        action="store_true",
        help="print where the update's time went: per phase and flow, wall time, Spark jobs, fixed costs",
    )
    run.set_defaults(func=run_command)

    validate = subparsers.add_parser(
        "validate",
        parents=[common],
        help="load and analyse a pipeline without writing anything",
        description="Load the pipeline's sources and resolve its graph (dry run): prints datasets and flows.",
    )
    add_pipeline_options(validate)
    validate.add_argument("--master")
    validate.set_defaults(func=validate_command)

    path = subparsers.add_parser(
        "path",
        parents=[common],
        help="print the local folder that stands for a /Volumes path",
        description="Print the local folder the harness uses for a Unity Catalog volume path.",
    )
    path.add_argument("volume_path", metavar="/Volumes/CATALOG/SCHEMA/VOLUME/...")
    add_pipeline_options(
        path, root_positional=False, settings_help="validated when given; the mapping needs only --state"
    )
    path.add_argument("--create", action="store_true", help="create the folder")
    path.set_defaults(func=path_command)


def run_command(args: argparse.Namespace) -> int:
    from harness.pipeline import LocalPipeline
    from harness.runtime.pipeline_lock import pipeline_lock
    from harness.state import StateLayout

    root, settings = pipeline_from_args(args)
    # taken before Spark starts, so a second run on the same pipeline is refused at once
    with pipeline_lock(StateLayout.at(args.state), settings.name, wait=args.wait, command="run"):
        pipeline = LocalPipeline(
            root,
            settings,
            state=args.state,
            master=args.master,
            listeners=[ProgressPrinter()],
            spark=getattr(args, "spark", None),  # set by a warm engine (harness dev)
        )
        result = pipeline.run(
            full_refresh=args.full_refresh,
            refresh=_names(args.refresh),
            full_refresh_selection=_names(args.full_refresh_selection),
            retry_on_schema_change=not args.no_retry,
        )
        print(summary(result))
        if args.profile and result.profile is not None:
            from harness.runtime.profile import format_profile

            print(format_profile(result.profile))
        from harness.cli.export_commands import export_after_run

        export_after_run(pipeline, args.config)
    if not result.succeeded:
        print(f"Error: update {result.update_id} FAILED: {result.error}", file=sys.stderr)
        return 1
    return 0


def validate_command(args: argparse.Namespace) -> int:
    from harness.pipeline import LocalPipeline

    root, settings = pipeline_from_args(args)
    pipeline = LocalPipeline(root, settings, state=args.state, master=args.master)
    graph = pipeline.validate()
    print(f"{'dataset':<36} {'kind':<18} {'flows'}")
    for dataset in sorted(graph.datasets.values(), key=lambda d: d.name):
        print(f"{dataset.name:<36} {dataset.kind.name:<18} {', '.join(dataset.flows)}")
    print(
        f"{len(graph.datasets)} datasets, {len(graph.flows)} flows; execution order: {', '.join(graph.executable_flows())}"
    )
    return 0


def path_command(args: argparse.Namespace) -> int:
    from harness.settings.volumes import VolumeMapper
    from harness.state import StateLayout

    if args.settings or args.bundle:
        settings_from_args(args)  # a wrong file, target or pipeline key is reported, not ignored
    local = VolumeMapper(StateLayout.at(args.state).volumes_dir).to_local(args.volume_path)
    if args.create:
        local.mkdir(parents=True, exist_ok=True)
    print(local)
    return 0
