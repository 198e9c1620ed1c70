"""`harness e2e`: the main job (what `nox -s e2e` runs), on embedded defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.cli.bundle_options import add_pipeline_options


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    from harness.e2e.options import E2EOptions

    defaults = E2EOptions(state=Path("."))
    e2e = subparsers.add_parser(
        "e2e",
        help="the whole flow offline: simulate, update, quality, export, reconcile, report",
        description="Simulate order batches, run one triggered update of the reference pipeline after "
        "each, run the quality suites, export the metrics to PostgreSQL, reconcile everything against "
        "the simulator's manifest and write a report. Exits non-zero on any mismatch.",
    )
    e2e.add_argument(
        "--state",
        type=Path,
        default=None,
        metavar="DIR",
        help="state directory (default: a fresh .harness/e2e/run-<timestamp>)",
    )
    e2e.add_argument("--debug", action="store_true", help="show tracebacks")
    e2e.add_argument("--batches", type=int, default=defaults.batches)
    e2e.add_argument("--orders-per-batch", type=int, default=defaults.orders_per_batch)
    e2e.add_argument("--seed", type=int, default=defaults.seed)
    e2e.add_argument("--customers", type=int, default=defaults.customers, help="size of the customer base")
    e2e.add_argument(
        "--interval", default=defaults.interval, help="simulated time between batches (90s, 6h, 1d, 1w)"
    )
    e2e.add_argument("--profile", default=defaults.profile, choices=["clean", "realistic", "hostile"])
    e2e.add_argument(
        "--schema-drift-at",
        type=int,
        default=defaults.schema_drift_at,
        help="batch of the schema drift (0: none)",
    )
    e2e.add_argument(
        "--driver-memory",
        default=defaults.driver_memory,
        help="JVM heap of the Spark driver (default %(default)s; HARNESS_DRIVER_MEMORY overrides)",
    )
    e2e.add_argument("--master", help="Spark master (spark://...) or Spark Connect remote (sc://...)")
    add_pipeline_options(e2e, root_positional=False)
    e2e.set_defaults(bundle=str(defaults.bundle), target=defaults.target)
    e2e.add_argument("--pipeline-root", type=Path, help="the pipeline folder (with --settings)")
    e2e.add_argument("--environment-config", type=Path, default=defaults.environment_config)
    e2e.set_defaults(func=e2e_command)


def e2e_command(args: argparse.Namespace) -> int:
    from harness.e2e.options import E2EOptions, fresh_state_dir
    from harness.e2e.runner import run_e2e
    from harness.settings.bundle import parse_var_options

    json_settings = args.settings is not None
    options = E2EOptions(
        state=(args.state or fresh_state_dir()).resolve(),
        batches=args.batches,
        orders_per_batch=args.orders_per_batch,
        seed=args.seed,
        customers=args.customers,
        interval=args.interval,
        profile=args.profile,
        schema_drift_at=args.schema_drift_at or None,
        master=args.master,
        driver_memory=args.driver_memory,
        bundle=Path(args.bundle).resolve(),
        target=None if json_settings else args.target,
        pipeline=None if json_settings else args.pipeline,
        variables=tuple(sorted(parse_var_options(args.var).items())),
        settings=Path(args.settings).resolve() if json_settings else None,
        pipeline_root=args.pipeline_root.resolve() if args.pipeline_root else None,
        environment_config=args.environment_config.resolve(),
    )
    outcome = run_e2e(options)
    print(f"e2e {outcome.status}: {outcome.total_seconds}s, peak memory {outcome.peak_memory_mb} MB")
    print(f"report: {options.report_dir / 'report.html'}")
    return 0
