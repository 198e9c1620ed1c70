"""`harness watch`: run one triggered update per arrival of complete batches (see harness/watch.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.cli.bundle_options import add_pipeline_options, pipeline_from_args
from harness.errors import WatchError


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    watch = subparsers.add_parser(
        "watch",
        parents=[common],
        help="run one triggered update each time complete batches land (a file-arrival trigger)",
        description=(
            "Wait for complete batches in the landing volume (manifest written last and every listed file "
            "present with its size) and run one triggered update per arrival, as a Databricks job with a "
            "file-arrival trigger does. Ctrl-C stops between updates (a second Ctrl-C aborts)."
        ),
    )
    add_pipeline_options(watch)
    watch.add_argument(
        "--landing",
        metavar="/Volumes/C/S/V/orders",
        help="landing root holding landing/ and manifests/ (default: /Volumes/<catalog>/<schema>/raw/orders)",
    )
    watch.add_argument("--poll-seconds", type=float, default=5.0, help="seconds between polls (default 5)")
    watch.add_argument("--max-updates", type=int, metavar="N", help="stop after N updates")
    watch.add_argument(
        "--once", action="store_true", help="poll once: run an update if batches are pending, then exit"
    )
    watch.add_argument("--master", help="Spark master (local[N], spark://host:port)")
    watch.add_argument(
        "--wait",
        action="store_true",
        help="if another process is updating this pipeline, wait for it instead of failing",
    )
    watch.set_defaults(func=watch_command)


@contextmanager
def stop_on_interrupt(loop: Any) -> Iterator[None]:
    """First Ctrl-C: stop after the running update. Second: abort (KeyboardInterrupt)."""

    def handler(signum: int, frame: Any) -> None:
        if loop.stopping:
            raise KeyboardInterrupt
        print("\nStopping after the current update (Ctrl-C again to abort).", file=sys.stderr, flush=True)
        loop.stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def watch_command(args: argparse.Namespace) -> int:
    from harness.runtime.pipeline_lock import pipeline_lock
    from harness.state import StateLayout

    root, settings = pipeline_from_args(args)
    # the watcher owns the pipeline for its whole life (taken before Spark starts: fails fast)
    with pipeline_lock(StateLayout.at(args.state), settings.name, wait=args.wait, command="watch"):
        return _watch(args, root, settings)


def _watch(args: argparse.Namespace, root: Any, settings: Any) -> int:
    from harness.cli.progress import ProgressPrinter
    from harness.pipeline import LocalPipeline
    from harness.settings.volumes import is_volume_path
    from harness.watch import WatchLoop, landing_root_for, state_file_for

    pipeline = LocalPipeline(
        root, settings, state=args.state, master=args.master, listeners=[ProgressPrinter()]
    )
    landing = args.landing or landing_root_for(pipeline.settings.catalog, pipeline.settings.schema)
    if is_volume_path(landing):
        local = pipeline.volume_path(landing)
    elif Path(landing).is_dir():
        local = Path(landing)
    else:
        raise WatchError(landing, "neither a /Volumes path nor an existing folder")
    loop = WatchLoop(
        local,
        pipeline.run,
        state_file_for(pipeline.layout.root, pipeline.settings.name),
        poll_seconds=args.poll_seconds,
        max_updates=args.max_updates,
        once=args.once,
        on_event=lambda message: print(message, flush=True),
    )
    with stop_on_interrupt(loop):
        summary = loop.run()
    print(f"watch stopped ({summary.stopped_by}): {len(summary.updates)} update(s), {summary.failed} failed")
    return 1 if summary.failed else 0
