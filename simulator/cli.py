"""`harness simulate` / `python -m simulator`: drop seeded order batches into the landing folders."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError
from harness.state import StateLayout
from simulator.config import DEFAULT_START, DEFECT_KINDS, FORMATS, PROFILES, SimulatorConfig, parse_rate
from simulator.engine import BatchResult, Simulator

#: Dev landing root under the local volume: /Volumes/retail_dev/ecommerce/raw/orders.
DEV_LANDING = ("retail_dev", "ecommerce", "raw", "orders")


def default_out(state: str | None) -> Path:
    return StateLayout.at(state).volumes_dir.joinpath(*DEV_LANDING)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--out", metavar="DIR", help="landing root (default: <state>/volumes/retail_dev/ecommerce/raw/orders)"
    )
    add("--batches", type=int, default=1, metavar="N", help="generate batches 1..N (default: 1)")
    add(
        "--first-batch",
        type=int,
        default=1,
        metavar="K",
        help="write only batches >= K (1..K-1 are regenerated in memory)",
    )
    add(
        "--orders-per-batch",
        type=int,
        default=1000,
        metavar="M",
        help="baseline new orders per batch (default: 1000)",
    )
    add("--seed", type=int, default=42, help="random seed (default: 42)")
    add(
        "--start",
        default=DEFAULT_START,
        help=f"simulated clock start, ISO-8601 UTC (default: {DEFAULT_START})",
    )
    add("--interval", default="1d", help="simulated time per batch: 90s, 30m, 6h, 1d, 1w (default: 1d)")
    add("--customers", type=int, default=10_000, help="customer pool size (default: 10000)")
    add("--products", type=int, default=500, help="catalogue size (default: 500)")
    add(
        "--profile",
        choices=sorted(PROFILES),
        default="realistic",
        help="defect rate profile (default: realistic)",
    )
    add(
        "--defect-rate",
        action="append",
        default=[],
        metavar="KIND=RATE",
        help=f"override one defect rate (repeatable); kinds: {', '.join(DEFECT_KINDS)}",
    )
    add(
        "--late-change-rate",
        type=float,
        help="share of customer changes delivered late (default: by profile)",
    )
    add(
        "--schema-drift-at",
        type=int,
        metavar="K",
        help="from batch K on: gift_wrap field, shipping_cost object",
    )
    add("--format", choices=FORMATS, default="ndjson", help="order/customer file format (default: ndjson)")
    add(
        "--lines-per-file",
        type=int,
        default=250_000,
        help="split a batch's order lines into parts of this size",
    )
    add("--overwrite", action="store_true", help="replace batches that already exist in --out")
    add(
        "--no-fsync",
        action="store_true",
        help="skip fsync (faster on scratch disks; a crash may leave stale data)",
    )
    add("--quiet", action="store_true", help="no progress lines")


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig(
        seed=args.seed,
        orders_per_batch=args.orders_per_batch,
        customers=args.customers,
        products=args.products,
        start=args.start,
        interval=args.interval,
        profile=args.profile,
        defect_rates=dict(parse_rate(text) for text in args.defect_rate),
        late_change_rate=args.late_change_rate,
        schema_drift_at=args.schema_drift_at,
        format=args.format,
        lines_per_file=args.lines_per_file,
    )


def handler(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    out = Path(args.out) if args.out else default_out(args.state)
    simulator = Simulator(config, out, fsync=not args.no_fsync, overwrite=args.overwrite)

    def progress(result: BatchResult) -> None:
        if not args.quiet:
            rate = result.new_orders / result.seconds if result.seconds else 0.0
            print(
                f"batch {result.batch_id}/{args.batches}: {result.new_orders:,} new orders, "
                f"{result.order_lines:,} order lines, {result.customer_lines:,} customer lines "
                f"in {result.seconds:.2f}s ({rate:,.0f} orders/s)",
                file=sys.stderr,
                flush=True,
            )

    results = list(simulator.run(args.batches, args.first_batch, progress))
    last = results[-1]
    print(
        f"Wrote batches {args.first_batch}..{args.batches} to {out} "
        f"({sum(r.order_lines for r in results):,} order lines, {sum(r.customer_lines for r in results):,} customer "
        f"lines); last manifest: {last.manifest_path}"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "simulate",
        parents=[common],
        help="drop seeded order batches (with defects and a manifest) into the landing volume",
        description="Generate order event and customer change files, with injected defects and a ground-truth "
        "manifest per batch, into the landing folders the pipeline reads.",
    )
    add_arguments(parser)
    parser.set_defaults(func=handler)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m simulator`: the same options as `harness simulate`, without the harness CLI."""
    from harness.cli.main import common_options

    parser = argparse.ArgumentParser(
        prog="python -m simulator", parents=[common_options()], description=__doc__
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    try:
        return handler(args)
    except HarnessError as exc:
        if args.debug:
            raise
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
