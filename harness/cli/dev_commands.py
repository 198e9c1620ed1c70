"""`harness dev`: a warm engine for the development loop (see harness/engine.py)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from harness.cli.bundle_options import add_pipeline_options, pipeline_from_args
from harness.settings.bundle import find_bundle_file

#: files under the pipeline folder whose saving triggers an update
SOURCE_SUFFIXES = (".py", ".sql", ".json", ".yml", ".yaml")


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    dev = subparsers.add_parser(
        "dev",
        parents=[common],
        help="keep Spark warm: update on every saved source file or new input file; serve harness run/sql",
        description=(
            "Start Spark once and keep it warm. Run an update now, then whenever a source file under "
            "PIPELINE_ROOT (or the settings file) is saved or a file lands under an --input folder, and print "
            "the per-flow results. While it runs, `harness run` and `harness sql` with the same --state use "
            "this engine instead of starting their own JVM. Ctrl-C stops it."
        ),
    )
    add_pipeline_options(dev)
    dev.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="/Volumes/C/S/V/DIR",
        help="input folder to watch for new files (repeatable; /Volumes paths map under --state)",
    )
    dev.add_argument("--poll-seconds", type=float, default=1.0, help="seconds between checks (default 1)")
    dev.add_argument("--max-updates", type=int, metavar="N", help="stop after N updates (for scripts)")
    dev.add_argument("--idle-exit", type=float, metavar="S", help="stop after S seconds without any work")
    dev.add_argument("--profile", action="store_true", help="print each update's profile")
    dev.add_argument("--master", help="Spark master (local[N])")
    dev.set_defaults(func=dev_command)


def _sources(root: Path, config_files: list[Path]) -> list[Path]:
    files = [p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and "__pycache__" not in p.parts]
    return [*files, *(f for f in config_files if f.is_file())]


def _config_files(args: argparse.Namespace) -> list[Path]:
    """The files whose edit changes the settings: the settings JSON, or the bundle's YAML files."""
    if getattr(args, "settings", None):
        return [Path(args.settings).resolve()]
    bundle_file = find_bundle_file(getattr(args, "bundle", None) or ".").resolve()
    return [bundle_file, *sorted(bundle_file.parent.glob("resources/**/*.yml"))]


def dev_command(args: argparse.Namespace) -> int:
    import time

    from harness.cli.progress import ProgressPrinter, summary
    from harness.engine import ChangeWatcher, EngineServer, serve_one
    from harness.pipeline import LocalPipeline
    from harness.spark import create_session
    from harness.state import StateLayout

    layout = StateLayout.at(args.state)
    root, settings = pipeline_from_args(args)
    root = root.resolve()
    config_files = _config_files(args)
    server = EngineServer(layout.engine_socket)
    server.start()
    stopping: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        spark = create_session(layout, master=args.master)
        probe = LocalPipeline(root, settings, state=layout, spark=spark)
        inputs = [
            probe.volume_path(p) if p.startswith("/Volumes/") else Path(p).resolve() for p in args.input
        ]
        watcher = ChangeWatcher(lambda: _sources(root, config_files), inputs)
        print(f"harness dev: engine warm, listening on {layout.engine_socket}", flush=True)
        updates, idle_since = 0, time.monotonic()
        changed: list[Path] = config_files[:1]  # the first update runs at once
        while not stopping:
            if changed:
                print(
                    f"harness dev: {len(changed)} file(s) changed: {', '.join(p.name for p in changed[:5])}"
                )
                settings = pipeline_from_args(args)[1]  # an edited settings file or bundle applies
                pipeline = LocalPipeline(
                    root, settings, state=layout, spark=spark, listeners=[ProgressPrinter()]
                )
                result = pipeline.run()
                print(summary(result), flush=True)
                if args.profile and result.profile is not None:
                    from harness.runtime.profile import format_profile

                    print(format_profile(result.profile), flush=True)
                watcher.prime()  # the update's own writes are not changes
                updates += 1
                idle_since = time.monotonic()
                if args.max_updates is not None and updates >= args.max_updates:
                    break
            if serve_one(server, spark, timeout=args.poll_seconds):
                idle_since = time.monotonic()
            if args.idle_exit is not None and time.monotonic() - idle_since > args.idle_exit:
                break
            changed = watcher.changed()
    finally:
        signal.signal(signal.SIGINT, previous)
        server.close()
    print("harness dev: stopped", file=sys.stderr)
    return 0
