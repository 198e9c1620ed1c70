"""Environment promotion of the reference pipeline: dev -> staging -> prod (docs/deployment.md).

    python scripts/promote.py check                       # offline: configs and bundle agree
    python scripts/promote.py promote --to staging        # check, local tests, bundle validate + deploy
    python scripts/promote.py promote --to prod --dry-run # print the commands only

``promote --to T`` runs, in order, stopping at the first failure: the offline checks; the pipeline's
unit tests (``pytest tests/pipeline -m unit``; ``--with-reconciliation`` adds the local simulator ->
pipeline reconciliation); ``databricks bundle validate -t T``; ``databricks bundle deploy -t T``; and,
with ``--run``, one triggered update (``databricks bundle run retail_orders -t T``). Only the next
environment can be promoted to (dev -> staging -> prod).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deploy_checks import REPO_ROOT, all_problems

PREVIOUS = {"staging": "dev", "prod": "staging"}


def _run(command: list[str], dry_run: bool) -> None:
    print("$ " + " ".join(command), flush=True)
    if dry_run:
        return
    subprocess.run(command, cwd=REPO_ROOT, check=True)


def check() -> int:
    problems = all_problems()
    for problem in problems:
        print(f"FAIL {problem}")
    print("deployment checks: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def promote(target: str, dry_run: bool, with_reconciliation: bool, run: bool) -> int:
    print(f"promoting {PREVIOUS[target]} -> {target}")
    if check():
        return 1
    marker = "unit or spark" if with_reconciliation else "unit"
    _run([sys.executable, "-m", "pytest", "tests/pipeline", "-q", "-m", marker], dry_run)
    if not dry_run and shutil.which("databricks") is None:
        print(
            "the Databricks CLI is not on PATH: install it (https://docs.databricks.com/dev-tools/cli/install.html)"
        )
        return 1
    _run(["databricks", "bundle", "validate", "-t", target], dry_run)
    _run(["databricks", "bundle", "deploy", "-t", target], dry_run)
    if run:
        _run(["databricks", "bundle", "run", "retail_orders", "-t", target], dry_run)
    print(f"promoted to {target}" + (" (dry run)" if dry_run else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="offline consistency checks of configs and the bundle")
    promote_parser = sub.add_parser(
        "promote", help="check, test, validate and deploy to the next environment"
    )
    promote_parser.add_argument("--to", required=True, choices=sorted(PREVIOUS), help="target environment")
    promote_parser.add_argument(
        "--dry-run", action="store_true", help="print the commands, run only the checks"
    )
    promote_parser.add_argument("--with-reconciliation", action="store_true", help="also run the Spark tests")
    promote_parser.add_argument(
        "--run", action="store_true", help="start one pipeline update after deploying"
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        return check()
    return promote(args.to, args.dry_run, args.with_reconciliation, args.run)


if __name__ == "__main__":
    sys.exit(main())
