"""Issue 3, point 4 (unit tier): Databricks pipeline settings JSON, name and volume mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import SettingsError, VolumePathError
from harness.settings import VolumeMapper, load_settings, local_database, parse_settings
from harness.settings.model import NOT_HONOURED

pytestmark = pytest.mark.unit

FULL = {
    "id": "a12cd3e4-0000-0000-0000-000000000001",
    "name": "Sales pipeline",
    "catalog": "main",
    "schema": "sales",
    "libraries": [
        {"notebook": {"path": "/Workspace/Users/me/proj/dlt_nb"}},
        {"file": {"path": "pipe.py"}},
        {"glob": {"include": "transformations/**"}},
    ],
    "configuration": {"mypipeline.startDate": "2021-01-02", "pipelines.trigger.interval": "10 seconds"},
    "clusters": [{"label": "default", "autoscale": {"min_workers": 1, "max_workers": 5, "mode": "ENHANCED"}}],
    "development": True,
    "continuous": False,
    "channel": "CURRENT",
    "edition": "ADVANCED",
    "photon": False,
    "notifications": [{"email_recipients": ["a@x.com"], "alerts": ["on-update-failure"]}],
}


def test_databricks_settings_json_parses_into_frozen_settings(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(FULL))
    settings = load_settings(path)
    assert settings.name == "Sales pipeline"
    assert settings.pipeline_id == FULL["id"]
    assert (settings.catalog, settings.schema, settings.database) == ("main", "sales", "main__sales")
    assert dict(settings.configuration) == FULL["configuration"]
    assert [(lib.kind, lib.path) for lib in settings.libraries] == [
        ("notebook", "/Workspace/Users/me/proj/dlt_nb"),
        ("file", "pipe.py"),
        ("glob", "transformations/**"),
    ]
    assert settings.development is True and settings.continuous is False and settings.edition == "ADVANCED"
    with pytest.raises(AttributeError):
        settings.name = "other"  # type: ignore[misc]


def test_settings_not_honoured_are_warned_once_each_by_name() -> None:
    settings = parse_settings(FULL)
    named = [w for w in settings.warnings if "'clusters'" in w]
    assert len(named) == 1
    assert any("'notifications'" in w for w in settings.warnings)
    assert any("'channel'" in w for w in settings.warnings)
    # photon=False is not a setting in effect, so it is not reported
    assert not any("'photon'" in w for w in settings.warnings)
    assert len(settings.warnings) == len(set(settings.warnings))
    assert set(NOT_HONOURED) >= {"clusters", "notifications", "channel", "photon", "storage"}


def test_continuous_true_is_reported() -> None:
    settings = parse_settings({"name": "p", "schema": "s", "continuous": True})
    assert any("'continuous'" in w for w in settings.warnings)


def test_legacy_target_is_the_schema_without_catalog() -> None:
    settings = parse_settings({"name": "p", "target": "legacy_db"})
    assert (settings.catalog, settings.schema, settings.database) == (None, "legacy_db", "legacy_db")


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"name": "p", "schema": "s", "libary": []}, "libary"),
        ({"name": "p", "schema": "s", "target": "t"}, "target"),
        ({"name": "p"}, "schema"),
        ({"schema": "s"}, "name"),
        ({"name": "p", "schema": "s", "configuration": {"n": 1}}, "configuration.n"),
        ({"name": "p", "schema": "s", "development": "yes"}, "development"),
        ({"name": "p", "schema": "s", "edition": "GOLD"}, "edition"),
        ({"name": "p", "schema": "bad-name"}, "schema"),
        ({"name": "p", "schema": "s", "libraries": [{"python": {"path": "x"}}]}, "libraries[0]"),
    ],
)
def test_invalid_settings_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(data, "settings.json")
    assert info.value.key == key and info.value.path == "settings.json"


def test_jar_and_maven_libraries_are_warned_about_by_name_not_run() -> None:
    """A jar or maven library is a JVM dependency the harness cannot install: the update runs the
    Python sources and the warning says where to put the jar (issue 17: libraries of every kind)."""
    libraries = [
        {"jar": "/tmp/udfs.jar"},
        {"maven": {"coordinates": "org.example:geo:1.0"}},
        {"file": {"path": "a.py"}},
    ]
    settings = parse_settings({"name": "p", "schema": "s", "libraries": libraries})
    assert [(lib.kind, lib.path) for lib in settings.libraries] == [("file", "a.py")]
    assert [w.split(" is not installed")[0] for w in settings.warnings] == [
        "libraries[0] '/tmp/udfs.jar'",
        "libraries[1] maven 'org.example:geo:1.0'",
    ]


def test_unknown_key_suggests_the_close_name() -> None:
    with pytest.raises(SettingsError, match="configuration"):
        parse_settings({"name": "p", "schema": "s", "configuraton": {}})


def test_missing_settings_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path / "missing.json")
    assert info.value.path.endswith("missing.json")


def test_catalog_schema_maps_to_one_local_database() -> None:
    assert local_database("main", "sales") == "main__sales"
    assert local_database("Main", "Sales") == "main__sales"
    assert local_database(None, "sales") == "sales"


def test_volume_paths_map_under_the_state_volumes_folder(tmp_path: Path) -> None:
    mapper = VolumeMapper(tmp_path / "volumes")
    assert mapper.to_local("/Volumes/main/sales/landing/orders/a.json") == (
        tmp_path / "volumes" / "main" / "sales" / "landing" / "orders" / "a.json"
    )
    assert mapper.map("dbfs:/Volumes/main/sales/landing/x") == str(tmp_path / "volumes/main/sales/landing/x")
    assert mapper.map("/tmp/elsewhere") == "/tmp/elsewhere"
    local = tmp_path / "volumes" / "main" / "sales" / "landing" / "f.csv"
    assert mapper.to_volume(local) == "/Volumes/main/sales/landing/f.csv"


@pytest.mark.parametrize(
    "path", ["/Volumes/main/sales", "/Volumes/main/sales/v/../../../etc", "/Volumes/ma-in/s/v/x", "/tmp/x"]
)
def test_malformed_volume_paths_are_rejected(tmp_path: Path, path: str) -> None:
    with pytest.raises(VolumePathError) as info:
        VolumeMapper(tmp_path).to_local(path)
    assert info.value.path == path
