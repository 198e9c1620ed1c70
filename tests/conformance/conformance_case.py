"""`case.yaml` -> a typed `ConformanceCase`: one owner of the corpus format (see cases/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CASE_KEYS = {
    "description",
    "catalog",
    "schema",
    "configuration",
    "libraries",
    "setup_sql",
    "teardown_sql",
    "updates",
}
UPDATE_KEYS = {
    "status",
    "full_refresh",
    "error",
    "tables",
    "row_counts",
    "expectations",
    "dropped",
    "output_rows",
}


class CaseFormatError(ValueError):
    """Raised when a case folder does not follow the corpus format; names the file and key."""

    def __init__(self, path: Path, key: str, reason: str) -> None:
        super().__init__(f"{path}: {key}: {reason}")
        self.path = path
        self.key = key


@dataclass(frozen=True)
class UpdateExpectation:
    status: str = "COMPLETED"
    full_refresh: bool | tuple[str, ...] = False
    error: str | None = None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    expectations: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    output_rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ConformanceCase:
    name: str
    folder: Path
    description: str
    catalog: str
    schema: str
    configuration: dict[str, str]
    libraries: tuple[dict[str, Any], ...]
    setup_sql: tuple[str, ...]
    teardown_sql: tuple[str, ...]
    updates: tuple[UpdateExpectation, ...]


def _unknown(path: Path, where: str, data: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise CaseFormatError(path, where, f"unknown keys {extra}; allowed: {sorted(allowed)}")


def _update(path: Path, index: int, data: dict[str, Any]) -> UpdateExpectation:
    where = f"updates[{index}]"
    _unknown(path, where, data, UPDATE_KEYS)
    refresh = data.get("full_refresh", False)
    if not isinstance(refresh, bool):
        refresh = tuple(refresh)
    expectations = {
        dataset: {name: (int(pair[0]), int(pair[1])) for name, pair in rules.items()}
        for dataset, rules in (data.get("expectations") or {}).items()
    }
    return UpdateExpectation(
        status=str(data.get("status", "COMPLETED")),
        full_refresh=refresh,
        error=data.get("error"),
        tables={name: list(rows or []) for name, rows in (data.get("tables") or {}).items()},
        row_counts={name: int(n) for name, n in (data.get("row_counts") or {}).items()},
        expectations=expectations,
        dropped={name: int(n) for name, n in (data.get("dropped") or {}).items()},
        output_rows={name: int(n) for name, n in (data.get("output_rows") or {}).items()},
    )


def _default_libraries(folder: Path) -> tuple[dict[str, Any], ...]:
    sources = sorted(p for p in (folder / "src").rglob("*") if p.suffix in {".py", ".sql"})
    return tuple({"file": {"path": str(p.relative_to(folder))}} for p in sources)


def load_case(folder: Path) -> ConformanceCase:
    path = folder / "case.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    _unknown(path, "case", data, CASE_KEYS)
    updates = data.get("updates") or []
    if not updates:
        raise CaseFormatError(path, "updates", "a case needs at least one update")
    return ConformanceCase(
        name=folder.name,
        folder=folder,
        description=str(data.get("description", "")),
        catalog=str(data.get("catalog", "main")),
        schema=str(data.get("schema", "conf")),
        configuration={str(k): str(v) for k, v in (data.get("configuration") or {}).items()},
        libraries=tuple(data["libraries"]) if "libraries" in data else _default_libraries(folder),
        setup_sql=tuple(data.get("setup_sql") or ()),
        teardown_sql=tuple(data.get("teardown_sql") or ()),
        updates=tuple(_update(path, i, u or {}) for i, u in enumerate(updates)),
    )


def load_cases(cases_dir: Path) -> list[ConformanceCase]:
    """Every case folder (one holding case.yaml), sorted by name."""
    return [load_case(folder) for folder in sorted(p.parent for p in cases_dir.glob("*/case.yaml"))]
