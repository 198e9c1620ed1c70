"""The repository's shape and its single place of version pins."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_top_level_rooms_exist() -> None:
    for name in ("pipeline", "simulator", "harness", "benchmarks", "quality_suites", "tests"):
        assert (ROOT / name).is_dir(), name
    for name in ("noxfile.py", "README.md", "pyproject.toml", ".ci/run"):
        assert (ROOT / name).is_file(), name


def test_every_dependency_is_pinned_exactly() -> None:
    requirements = [*PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"]["dev"]]
    unpinned = [
        r for r in requirements if not re.fullmatch(r"[A-Za-z0-9_.\-\[\],]+==[0-9][0-9A-Za-z.\-]*", r)
    ]
    assert unpinned == []


@pytest.mark.parametrize("dependent", ["delta-spark", "great-expectations"])
def test_installed_pyspark_is_accepted_by(dependent: str) -> None:
    pyspark = Version(metadata.version("pyspark"))
    ranges = [Requirement(r) for r in metadata.requires(dependent) or [] if r.startswith("pyspark")]
    assert ranges, f"{dependent} declares no pyspark range"
    assert all(pyspark in r.specifier for r in ranges), (str(pyspark), [str(r) for r in ranges])


def test_installed_versions_are_the_pinned_ones() -> None:
    for requirement in map(
        Requirement, [*PYPROJECT["dependencies"], *PYPROJECT["optional-dependencies"]["dev"]]
    ):
        pinned = next(iter(requirement.specifier)).version
        assert metadata.version(requirement.name) == pinned, requirement.name


def test_no_top_level_dlt_distribution_is_shipped() -> None:
    """Shipping a `dlt` package would clash with dlthub's `dlt`; the shim is injected only while loading."""
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert not any(p.split("*")[0] == "dlt" for p in packages["include"])
    assert not (ROOT / "dlt").exists() and not (ROOT / "dlt.py").exists()
