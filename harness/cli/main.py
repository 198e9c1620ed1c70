"""`harness` entry point: builds the argument parser from the command modules and runs one command.

Each command module exposes ``add_parser(subparsers, common)`` which adds its sub-command(s) with
``parents=[common]`` (so every command takes ``--state DIR`` and ``--debug``) and sets
``func=<handler(args) -> int>``. Errors derived from `HarnessError` or from `PipelineError` (the root
of `pipeline/`'s errors, which never imports the harness) are printed once as ``Error: ...`` with a
non-zero exit code; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from harness.errors import HarnessError
from harness.state import DEFAULT_STATE_DIR
from pipeline.utils.errors import PipelineError

#: Command modules, in the order `harness --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "harness.cli.run_commands",
    "harness.cli.watch_commands",
    "harness.cli.dev_commands",
    "harness.cli.sql_commands",
    "harness.cli.spark_commands",
    "simulator.cli",
    "harness.postgres.cli",
    "harness.cli.export_commands",
    "harness.cli.e2e_commands",
    "harness.cli.ui_commands",
)


def common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state",
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help=f"harness state directory: warehouse, checkpoints, volumes, event log (default: {DEFAULT_STATE_DIR})",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Run Databricks DLT / Lakeflow Declarative Pipelines locally on Spark + Delta Lake.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a command group not built yet
                continue
            raise
        module.add_parser(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("py4j", "urllib3", "matplotlib", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if not args.debug:  # pyspark logs each failed query as JSON; the CLI prints it once as `Error: ...`
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    try:
        forwarded = _on_warm_engine(args, list(argv) if argv is not None else sys.argv[1:])
        if forwarded is not None:
            return forwarded
        return int(args.func(args) or 0)
    except (HarnessError, PipelineError) as exc:
        if args.debug:
            raise
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def _on_warm_engine(args: argparse.Namespace, argv: list[str]) -> int | None:
    """Run `harness run` / `harness sql` on a warm engine (`harness dev`) of this state directory, if any."""
    from harness.engine import SERVED_COMMANDS, call_engine
    from harness.state import StateLayout

    if args.command not in SERVED_COMMANDS or getattr(args, "master", None):
        return None
    answer = call_engine(StateLayout.at(args.state).engine_socket, argv)
    if answer is None:
        return None
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exit", 1))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
