"""dbutils without Spark: fs over volumes / DBFS / file: paths, secrets, widgets, refusals."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from harness.dbutils import DBUtils, redact
from harness.dbutils.redaction import REDACTED, redacted_output
from harness.dbutils.secrets import secret_env_name
from harness.errors import DbfsPathError, DbutilsUnsupportedError, SecretNotFoundError, WidgetNotDefinedError
from harness.settings.volumes import VolumeMapper

pytestmark = pytest.mark.unit


@pytest.fixture
def dbutils(tmp_path: Path) -> DBUtils:
    return DBUtils(
        VolumeMapper(tmp_path / "volumes"),
        tmp_path / "dbfs",
        {"env": "dev", "landing": "/Volumes/main/raw/in"},
        tmp_path / "secrets.json",
    )


def test_ls_on_a_volume_lists_folders_with_a_slash_and_files_with_size(
    dbutils: DBUtils, tmp_path: Path
) -> None:
    root = tmp_path / "volumes" / "main" / "raw" / "in"
    (root / "region=eu").mkdir(parents=True)
    (root / "b.json").write_text('{"a": 1}\n')
    listing = dbutils.fs.ls("/Volumes/main/raw/in")
    assert [(f.name, f.path, f.size, f.isDir()) for f in listing] == [
        ("b.json", "dbfs:/Volumes/main/raw/in/b.json", 9, False),
        ("region=eu/", "dbfs:/Volumes/main/raw/in/region=eu/", 0, True),
    ]
    assert listing[0].modificationTime > 1_600_000_000_000  # milliseconds
    assert [f.name for f in dbutils.fs.ls("dbfs:/Volumes/main/raw/in/")] == ["b.json", "region=eu/"]


def test_put_head_cp_mv_rm_on_dbfs_and_file_paths(dbutils: DBUtils, tmp_path: Path) -> None:
    assert dbutils.fs.put("/tmp/notes/a.txt", "héllo world") is True
    assert (tmp_path / "dbfs" / "tmp" / "notes" / "a.txt").read_text() == "héllo world"
    assert dbutils.fs.head("dbfs:/tmp/notes/a.txt", 6) == "héllo"
    with pytest.raises(DbfsPathError) as exists:
        dbutils.fs.put("/tmp/notes/a.txt", "again")
    assert exists.value.call == "dbutils.fs.put"
    dbutils.fs.put("/tmp/notes/a.txt", "again", overwrite=True)
    local = tmp_path / "elsewhere"
    dbutils.fs.mkdirs(f"file:{local}")
    dbutils.fs.cp("/tmp/notes/a.txt", f"file:{local}/b.txt")
    assert (local / "b.txt").read_text() == "again"
    assert [f.path for f in dbutils.fs.ls(f"file:{local}")] == [f"file:{local}/b.txt"]
    with pytest.raises(DbfsPathError, match="recurse=True"):
        dbutils.fs.cp("/tmp/notes", "/tmp/copy")
    dbutils.fs.cp("/tmp/notes", "/tmp/copy", recurse=True)
    dbutils.fs.mv("/tmp/copy/a.txt", "/Volumes/main/raw/in/moved.txt")
    assert (tmp_path / "volumes" / "main" / "raw" / "in" / "moved.txt").read_text() == "again"
    with pytest.raises(DbfsPathError, match="not empty"):
        dbutils.fs.rm("/tmp/notes")
    assert dbutils.fs.rm("/tmp/notes", recurse=True) is True
    assert dbutils.fs.rm("/tmp/notes") is False


def test_a_missing_path_names_the_call_and_the_path(dbutils: DBUtils) -> None:
    with pytest.raises(DbfsPathError) as missing:
        dbutils.fs.ls("/Volumes/main/raw/nothing_here")
    assert (missing.value.path, missing.value.call, missing.value.missing) == (
        "/Volumes/main/raw/nothing_here",
        "dbutils.fs.ls",
        True,
    )
    assert isinstance(missing.value, OSError)
    with pytest.raises(DbfsPathError):
        dbutils.fs.ls("dbfs:/../etc")


def test_widgets_read_the_configuration_and_declared_defaults(dbutils: DBUtils) -> None:
    assert dbutils.widgets.get("env") == "dev"
    dbutils.widgets.text("env", "prod")  # the configuration wins over a declared default
    dbutils.widgets.dropdown("region", "eu", ["eu", "us"])
    assert (dbutils.widgets.get("env"), dbutils.widgets.get("region")) == ("dev", "eu")
    assert dbutils.widgets.getArgument("absent", "fallback") == "fallback"
    with pytest.raises(WidgetNotDefinedError) as undefined:
        dbutils.widgets.get("absent")
    assert undefined.value.name == "absent"
    assert "landing" in undefined.value.available


def test_secrets_come_from_the_environment_then_the_file(
    dbutils: DBUtils, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert secret_env_name("pg-prod", "db.password") == "HARNESS_SECRET__PG_PROD__DB_PASSWORD"
    monkeypatch.setenv("HARNESS_SECRET__PG_PROD__DB_PASSWORD", "env-s3cret-1")
    (tmp_path / "secrets.json").write_text(
        json.dumps({"pg-prod": {"db.password": "file", "user": "file-u5er"}})
    )
    assert dbutils.secrets.get("pg-prod", "db.password") == "env-s3cret-1"
    assert dbutils.secrets.get("pg-prod", "user") == "file-u5er"
    assert [m.key for m in dbutils.secrets.list("pg-prod")] == ["db.password", "user"]
    with pytest.raises(SecretNotFoundError) as missing:
        dbutils.secrets.get("pg-prod", "token")
    assert (missing.value.scope, missing.value.key) == ("pg-prod", "token")
    assert missing.value.env_name == "HARNESS_SECRET__PG_PROD__TOKEN"


def test_a_revealed_secret_is_redacted_in_logs_and_printed_output(
    dbutils: DBUtils,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(secret_env_name("s", "token"), "tok-9f8e7d")
    token = dbutils.secrets.get("s", "token")
    assert redact(f"Bearer {token}!") == f"Bearer {REDACTED}!"
    with redacted_output():
        print(f"connecting with {token}")
    assert capsys.readouterr().out == f"connecting with {REDACTED}\n"
    handler = logging.StreamHandler()
    logging.getLogger().addHandler(handler)
    try:
        dbutils.secrets.get("s", "token")  # attaches the filter to the handler now present
        record = logging.LogRecord("x", logging.WARNING, __file__, 1, "token is %s", (token,), None)
        assert all(f.filter(record) for f in handler.filters)
        assert record.getMessage() == f"token is {REDACTED}"
    finally:
        logging.getLogger().removeHandler(handler)


def test_members_without_a_local_meaning_are_refused_by_name(dbutils: DBUtils) -> None:
    with pytest.raises(DbutilsUnsupportedError) as refused:
        dbutils.notebook.run("other_notebook", 60)
    assert refused.value.name == "dbutils.notebook.run"
    with pytest.raises(DbutilsUnsupportedError) as nested:
        dbutils.notebook.entry_point.getDbutils()
    assert nested.value.name == "dbutils.notebook.entry_point.getDbutils"


def test_the_values_a_page_must_mask_are_every_local_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.dbutils.secrets import local_secret_values

    monkeypatch.setenv("HARNESS_SECRET__A__B", "from-env-1")
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"s": {"k": "from-file-2", "empty": ""}}))
    assert local_secret_values(secrets_file) == ("from-env-1", "from-file-2")
