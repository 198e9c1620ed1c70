"""Java checks: a missing or too old Java is named before Spark tries (and fails obscurely) to start."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.errors import JavaNotFoundError, JavaVersionError
from harness.spark.java import REQUIRED_JAVA_MAJOR, check_java, parse_java_major

pytestmark = pytest.mark.unit


def _fake_java_home(root: Path, version_line: str) -> Path:
    """A JAVA_HOME whose bin/java prints `version_line` on stderr, as `java -version` does."""
    java = root / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return root


@pytest.mark.parametrize(
    ("version", "major"), [("1.8.0_392", 8), ("11.0.2", 11), ("17.0.15", 17), ("21", 21), ("22-ea", 22)]
)
def test_parse_java_major(version: str, major: int) -> None:
    assert parse_java_major(version) == major


def test_old_java_is_named_with_the_version_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_java_home(tmp_path / "jdk11", 'openjdk version "11.0.2" 2019-01-15')
    monkeypatch.setenv("JAVA_HOME", str(home))

    with pytest.raises(JavaVersionError) as caught:
        check_java()

    assert caught.value.fields["found"] == "11.0.2"
    assert caught.value.fields["required"] == REQUIRED_JAVA_MAJOR
    assert caught.value.fields["java"] == str(home / "bin" / "java")
    assert "11.0.2" in str(caught.value) and "17" in str(caught.value)


def test_missing_java_names_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-such-jdk"))

    with pytest.raises(JavaNotFoundError) as caught:
        check_java()

    assert caught.value.fields["searched"] == [str(tmp_path / "no-such-jdk" / "bin" / "java")]


def test_no_java_home_and_no_java_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(JavaNotFoundError) as caught:
        check_java()

    assert caught.value.fields["searched"] == ["PATH"]


def test_a_supported_java_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _fake_java_home(tmp_path / "jdk21", 'openjdk version "21.0.4" 2024-07-16')
    monkeypatch.setenv("JAVA_HOME", str(home))

    runtime = check_java()

    assert (runtime.major, runtime.version) == (21, "21.0.4")
