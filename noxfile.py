"""nox sessions: `tests` (all tests), `e2e` (the main job), `bench` (benchmarks), `lint` (ruff).

Virtualenvs are reused and the project is installed only when pyproject.toml changed since the
last install (a stamp file holds its hash), so a second run does not reinstall pyspark. Arguments
after `--` go to pytest (`nox -s tests -- -k autoloader -x`) or to the e2e job
(`nox -s e2e -- --batches 5 --orders-per-batch 2000`).
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

#: Where Spark's Ivy keeps the Delta jars: shared by every session and test run, so they are
#: downloaded from Maven Central once per checkout.
IVY_DIR = ROOT / ".harness" / "ivy"


def _install_project(session: nox.Session, extras: str = "dev") -> None:
    """pip install -e .[extras], skipped when this venv already has the current pyproject.toml."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = Path(session.virtualenv.location) / f".installed-{extras}"
    if stamp.is_file() and stamp.read_text() == digest:
        session.log("project already installed for this pyproject.toml; skipping pip")
        return
    session.install("-e", f".[{extras}]")
    stamp.write_text(digest)


def _dev_pin(name: str) -> str:
    """`name==version` as pinned in pyproject.toml's dev extra (versions live in one place)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["optional-dependencies"]["dev"]:
        if requirement.split("==")[0].split("[")[0] == name:
            return requirement
    raise LookupError(f"{name} is not pinned in pyproject.toml [project.optional-dependencies] dev")


def _env() -> dict[str, str]:
    return {"HARNESS_IVY_DIR": os.environ.get("HARNESS_IVY_DIR", str(IVY_DIR)), "PYTHONHASHSEED": "0"}


@nox.session
def tests(session: nox.Session) -> None:
    """Every test of the default run (unit, spark, postgres); `slow` and `cluster` need -m."""
    _install_project(session)
    args = session.posargs or ["-m", "not slow and not cluster", "-q"]
    session.run("pytest", *args, env=_env())


@nox.session
def e2e(session: nox.Session) -> None:
    """The main job: simulate -> pipeline updates -> quality -> export -> reconcile -> report.

    The reference pipeline runs as its Databricks Asset Bundle deploys it (databricks.yml, target dev).
    """
    _install_project(session)
    session.run("harness", "e2e", "--bundle", str(ROOT), "--target", "dev", *session.posargs, env=_env())


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (quick sizes by default; e.g. `nox -s bench -- --bench-size=large`)."""
    _install_project(session)
    session.run(
        "pytest", "benchmarks", "-p", "no:cacheprovider", "--benchmark-only", *session.posargs, env=_env()
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install(_dev_pin("ruff"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
