"""Provider (c): a PostgreSQL server the harness runs itself in ``<state>/postgres``.

initdb once, then start ``postgres`` directly (not through pg_ctl, so we hold its pid) on a free
loopback TCP port, with Unix sockets off: Spark's JDBC writer, dashboards and users' tools all
connect over TCP, and socket paths under deep state directories exceed the 107-byte limit.
Authentication is scram-sha-256 with a random password kept in ``<state>/postgres/password``.

The server runs in its own session, so a Ctrl-C in the terminal reaches only the harness, which
then stops the server in order (fast shutdown, then immediate, then kill) and checks that the
postmaster and all of its children are gone. A second user of the same state directory reuses
a healthy running server instead of starting another (see `local_files`).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import replace

import psutil

from harness.errors import PostgresUnavailableError
from harness.postgres.binaries import (
    ServerAccount,
    ServerBinaries,
    check_runnable,
    find_binaries,
    grant_traversal,
    server_account,
)
from harness.postgres.info import PostgresInfo, redact
from harness.postgres.local_files import (
    LOCAL_DATABASE,
    LOCAL_USER,
    LocalPaths,
    ServerRecord,
    add_holder,
    clear_record,
    last_port,
    live_holders,
    read_record,
    remove_holder,
    state_lock,
    write_private,
    write_record,
)
from harness.postgres.processes import clear_orphan, postmaster, started, terminate

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT = 60.0


class _PortTaken(Exception):
    """The port we picked was taken between choosing and binding; try another."""


def _unavailable(reason: str, port: int | None = None) -> PostgresUnavailableError:
    host = f"{HOST}:{port}" if port else f"{HOST} (local server)"
    return PostgresUnavailableError(host=host, database=LOCAL_DATABASE, reason=reason)


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if it is free on the loopback interface, else a port the kernel picks."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the postmaster does: a port whose old connections linger in TIME_WAIT is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise _unavailable("no free TCP port on the loopback interface")


def _password(paths: LocalPaths) -> str:
    return paths.password_file.read_text().strip()


def local_info(paths: LocalPaths, record: ServerRecord) -> PostgresInfo:
    return PostgresInfo(
        provider="local",
        host=HOST,
        port=record.port,
        database=LOCAL_DATABASE,
        user=LOCAL_USER,
        sslmode="disable",
        password=_password(paths),
        passfile=str(paths.passfile),
    )


# --- initdb ----------------------------------------------------------------------------------------


def _run_as(account: ServerAccount | None) -> dict[str, object]:
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


def _server_env() -> dict[str, str]:
    """A small, explicit environment: no PG* variables of the caller leak into the server."""
    env = {"PATH": os.defpath, "LC_ALL": "C", "LANG": "C"}
    if "TZ" in os.environ:
        env["TZ"] = os.environ["TZ"]
    return env


def initialize(paths: LocalPaths, binaries: ServerBinaries, account: ServerAccount | None) -> None:
    """Create the password files and run initdb unless ``data/`` already holds a cluster."""
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o711 if account else 0o700)
    grant_traversal(paths.root, account)
    if not paths.password_file.exists():
        password = secrets.token_urlsafe(24)
        write_private(paths.password_file, password + "\n")
        write_private(paths.passfile, f"{HOST}:*:*:{LOCAL_USER}:{password}\n")
    version_file = paths.data / "PG_VERSION"
    if version_file.exists():
        found = version_file.read_text().strip()
        if found != binaries.major:
            raise _unavailable(
                f"the data directory {paths.data} was created by PostgreSQL {found}, but the binaries "
                f"({binaries.bin_dir}, from {binaries.source}) are version {binaries.version}. Remove "
                f"{paths.root} to start afresh, or set HARNESS_PG_BIN to PostgreSQL {found} binaries."
            )
        return
    if paths.data.exists():  # left over from an interrupted initdb
        shutil.rmtree(paths.data)
    paths.data.mkdir(mode=0o700)
    pwfile = paths.root / ".initdb-password"
    write_private(pwfile, _password(paths) + "\n")
    if account is not None:
        os.chown(paths.data, account.uid, account.gid)
        os.chown(pwfile, account.uid, account.gid)
    command = [
        str(binaries.initdb),
        f"--pgdata={paths.data}",
        f"--username={LOCAL_USER}",
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",  # a local, re-creatable database: skip the fsync of ~1000 new files
    ]
    log.info("Initialising a PostgreSQL %s cluster in %s", binaries.version, paths.data)
    try:
        out = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=paths.root,
            env=_server_env(),
            **_run_as(account),  # type: ignore[arg-type]
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if out.returncode != 0:
        shutil.rmtree(paths.data, ignore_errors=True)
        raise _unavailable(
            f"initdb failed in {paths.data} (exit {out.returncode}): {out.stderr.strip()[-800:]}"
        )


def _log_tail(paths: LocalPaths, offset: int) -> str:
    try:
        with paths.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", "replace").strip()[-1500:]
    except OSError:
        return ""


def _wait_ready(
    popen: subprocess.Popen[bytes], paths: LocalPaths, port: int, offset: int, timeout: float
) -> None:
    import psycopg2

    password = _password(paths)
    deadline = time.monotonic() + timeout
    while True:
        if popen.poll() is not None:
            started.pop(popen.pid, None)
            tail = _log_tail(paths, offset)
            if "could not bind" in tail or "Address already in use" in tail:
                raise _PortTaken()
            reason = f"the server exited during start-up (exit {popen.returncode}); log {paths.log}: {tail}"
            raise _unavailable(reason, port)
        try:
            psycopg2.connect(
                host=HOST,
                port=port,
                user=LOCAL_USER,
                password=password,
                dbname="postgres",
                sslmode="disable",
                connect_timeout=2,
            ).close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                detail = redact(str(exc).strip(), password)
                raise _unavailable(
                    f"not ready after {timeout:.0f}s ({detail}); log {paths.log}", port
                ) from None
            time.sleep(0.05)


def _ensure_database(info: PostgresInfo) -> None:
    conn = info.with_database("postgres").connect(connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (info.database,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{info.database}"')
    finally:
        conn.close()


def start_server(
    paths: LocalPaths,
    binaries: ServerBinaries,
    account: ServerAccount | None,
    *,
    persistent: bool,
    timeout: float = START_TIMEOUT,
) -> ServerRecord:
    """initdb if needed, start the server, wait until it answers; call under `state_lock`."""
    check_runnable(binaries, account)
    initialize(paths, binaries, account)
    clear_orphan(paths)
    port = free_port(last_port(paths))
    for _attempt in range(3):
        command = [
            str(binaries.postgres), "-D", str(paths.data), "-p", str(port),
            "-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories=",
        ]  # fmt: skip
        offset = paths.log.stat().st_size if paths.log.exists() else 0
        with paths.log.open("ab") as log_handle:
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                cwd=paths.root,
                env=_server_env(),
                start_new_session=True,
                **_run_as(account),  # type: ignore[arg-type]
            )
        started[popen.pid] = popen
        try:
            _wait_ready(popen, paths, port, offset, timeout)
            proc = psutil.Process(popen.pid)
            record = ServerRecord(
                pid=popen.pid,
                create_time=proc.create_time(),
                port=port,
                persistent=persistent,
                version=binaries.version,
                bin_dir=str(binaries.bin_dir),
                account=account.name if account else "(harness user)",
            )
            write_record(paths, record)
            _ensure_database(local_info(paths, record))
            return record
        except _PortTaken:
            port = free_port()
        except BaseException:  # includes KeyboardInterrupt while waiting: leave nothing behind
            proc = postmaster(paths, popen.pid)
            if proc is not None:
                terminate(proc)
            clear_record(paths)
            raise
    raise _unavailable("three ports in a row were taken while starting; try again")


def running_server(paths: LocalPaths) -> tuple[ServerRecord, psutil.Process] | None:
    """The recorded server if its process is alive and it accepts a connection."""
    record = read_record(paths)
    if record is None:
        return None
    proc = postmaster(paths, record.pid, record.create_time)
    if proc is None:
        return None
    try:
        local_info(paths, record).with_database("postgres").connect(connect_timeout=3).close()
    except Exception:
        return None
    return record, proc


def stop_local(paths: LocalPaths) -> bool:
    """Stop the server of this state directory, whoever started it; True if one was running."""
    with state_lock(paths):
        record = read_record(paths)
        proc = postmaster(paths, record.pid, record.create_time) if record else None
        if proc is not None:
            log.info("Stopping the local PostgreSQL (pid %d, port %d)", proc.pid, record.port)  # type: ignore[union-attr]
            terminate(proc)
        clear_record(paths)
        clear_orphan(paths)
        return proc is not None


def acquire_local(paths: LocalPaths, *, persistent: bool = False) -> tuple[PostgresInfo, bool]:
    """Reuse the healthy server of this state directory or start one; returns (info, started).

    An ephemeral acquisition is written to holders.json and must be paired with `release_local`.
    """
    with state_lock(paths):
        found = running_server(paths)
        started = False
        if found is not None:
            record, _ = found
            log.info(
                "Reusing the running local PostgreSQL (pid %d, port %d) in %s",
                record.pid,
                record.port,
                paths.root,
            )
            if persistent and not record.persistent:
                record = replace(record, persistent=True)
                write_record(paths, record)
        else:
            stale = read_record(paths)
            if stale is not None:
                proc = postmaster(paths, stale.pid, stale.create_time)
                if proc is not None:
                    log.warning("The recorded PostgreSQL (pid %d) does not answer; restarting it", proc.pid)
                    terminate(proc)
                clear_record(paths)
            binaries = find_binaries()
            account = server_account()
            began = time.monotonic()
            record = start_server(paths, binaries, account, persistent=persistent)
            started = True
            log.info(
                "Started PostgreSQL %s (%s) as %s on %s:%d in %.1fs, data in %s",
                binaries.version, binaries.source, record.account, HOST, record.port,
                time.monotonic() - began, paths.data,
            )  # fmt: skip
        if not persistent:
            add_holder(paths)
        return local_info(paths, record), started


def release_local(paths: LocalPaths) -> bool:
    """Give up one ephemeral acquisition; stops the server if it was the last and it is not persistent."""
    with state_lock(paths):
        remaining = remove_holder(paths)
        record = read_record(paths)
        if record is None and not remaining:
            return _stop_own_start(paths)  # interrupted while starting, before the record was written
        if remaining or record is None or record.persistent:
            return False
        proc = postmaster(paths, record.pid, record.create_time)
        if proc is not None:
            log.info("Stopping the local PostgreSQL (pid %d, port %d): last user left", proc.pid, record.port)
            terminate(proc)
        clear_record(paths)
        return proc is not None


def _stop_own_start(paths: LocalPaths) -> bool:
    stopped = False
    for pid, popen in list(started.items()):
        if str(paths.data) in map(str, popen.args):  # type: ignore[arg-type]
            proc = postmaster(paths, pid)
            if proc is not None:
                terminate(proc)
                stopped = True
    clear_orphan(paths)
    return stopped


def holders(paths: LocalPaths) -> list[tuple[int, float]]:
    return live_holders(paths)
