"""`harness postgres start|stop|status|dsn`: a long-lived local server for dashboards and tools.

`start` starts (or adopts) the local server of the state directory as *persistent*: it outlives
the command and every `provide_postgres` user until `harness postgres stop`. The e2e job, tests
and dashboards that run meanwhile reuse it instead of starting their own.
"""

from __future__ import annotations

import argparse
import os

from harness.errors import PostgresUnavailableError
from harness.postgres.dsn import DSN_ENV, info_from_environment
from harness.postgres.info import PostgresInfo
from harness.postgres.local import HOST, acquire_local, holders, local_info, running_server, stop_local
from harness.postgres.local_files import LOCAL_DATABASE, LocalPaths
from harness.state import StateLayout


def _paths(args: argparse.Namespace) -> LocalPaths:
    return LocalPaths(StateLayout.at(args.state).postgres_dir)


def _describe(info: PostgresInfo) -> str:
    return (
        f"  address:  {info.address}\n  database: {info.database}\n  user:     {info.user}\n"
        f"  dsn:      {info.dsn()}\n  jdbc:     {info.jdbc_url()}\n"
        + (f"  password: in {info.passfile} (libpq passfile format)\n" if info.passfile else "")
    )


def _start(args: argparse.Namespace) -> int:
    paths = _paths(args)
    info, started = acquire_local(paths, persistent=True)
    found = running_server(paths)
    pid = found[0].pid if found else "?"
    print(f"PostgreSQL {'started' if started else 'already running'} (pid {pid}), data in {paths.data}")
    print(_describe(info), end="")
    if os.environ.get(DSN_ENV, "").strip():
        print(f"Note: {DSN_ENV} is set, so the harness uses that server unless HARNESS_PG_PROVIDER=local.")
    return 0


def _stop(args: argparse.Namespace) -> int:
    paths = _paths(args)
    users = [pid for pid, _ in holders(paths) if pid != os.getpid()]
    if users:
        print(f"Warning: processes {', '.join(map(str, users))} still use this server.")
    print("PostgreSQL stopped." if stop_local(paths) else f"No local PostgreSQL running in {paths.root}.")
    return 0


def _status(args: argparse.Namespace) -> int:
    paths = _paths(args)
    found = running_server(paths)
    if found is None:
        print(f"No local PostgreSQL running in {paths.root}.")
        return 3
    record, _ = found
    mode = "persistent (harness postgres stop)" if record.persistent else "ephemeral (stops with its users)"
    users = ", ".join(str(pid) for pid, _ in holders(paths)) or "none"
    print(f"PostgreSQL {record.version} running (pid {record.pid}, as {record.account}), {mode}")
    print(f"  data:     {paths.data}\n  log:      {paths.log}\n  users:    {users}")
    print(_describe(local_info(paths, record)), end="")
    return 0


def _dsn(args: argparse.Namespace) -> int:
    info = None if args.local else info_from_environment()
    if info is None:
        paths = _paths(args)
        found = running_server(paths)
        if found is None:
            raise PostgresUnavailableError(
                host=f"{HOST} (local server)",
                database=LOCAL_DATABASE,
                reason=f"no local server is running in {paths.root}; start one with `harness postgres start`",
            )
        info = local_info(paths, found[0])
    print(info.jdbc_url() if args.jdbc else info.dsn())
    return 0


def add_parser(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "postgres",
        help="run the local PostgreSQL server (start/stop/status/dsn)",
        description="Manage the PostgreSQL server the harness runs in <state>/postgres.",
    )
    commands = parser.add_subparsers(dest="postgres_command", metavar="ACTION", required=True)
    start = commands.add_parser("start", parents=[common], help="start the local server and leave it running")
    start.set_defaults(func=_start)
    stop = commands.add_parser("stop", parents=[common], help="stop the local server")
    stop.set_defaults(func=_stop)
    status = commands.add_parser("status", parents=[common], help="say whether it runs (exit 3 if not)")
    status.set_defaults(func=_status)
    dsn = commands.add_parser("dsn", parents=[common], help="print the DSN (never the password)")
    dsn.add_argument("--jdbc", action="store_true", help="print a jdbc:postgresql:// URL instead")
    dsn.add_argument("--local", action="store_true", help=f"the local server even if {DSN_ENV} is set")
    dsn.set_defaults(func=_dsn)
