"""Databricks pipeline settings (the JSON of the Pipelines API) → a frozen `PipelineSettings`.

Field names and nested shapes are validated with Databricks' own models from `databricks-sdk`
(`PipelinesAPI.create`'s keywords, `PipelineSpec`, `PipelineLibrary`, `EventLogSpec`), so a
settings file accepted here has the names the real API expects. Unknown keys are errors (with a
close-name suggestion); settings the harness cannot honour locally are reported once, by name, as
warnings — never silently ignored.
"""

from __future__ import annotations

import difflib
import inspect
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from databricks.sdk.service import pipelines as sdk

from harness.errors import SettingsError
from harness.settings.naming import local_database, validate_identifier

#: Every key the Pipelines API accepts when creating a pipeline (plus the system-assigned `id`).
ALLOWED_KEYS: frozenset[str] = frozenset(
    name for name in inspect.signature(sdk.PipelinesAPI.create).parameters if name != "self"
) | {"id"}

#: Settings a local run cannot honour, and what the harness does instead.
NOT_HONOURED: dict[str, str] = {
    "clusters": "local Spark runs on this machine; cluster sizes and autoscaling are ignored",
    "photon": "Photon is a Databricks engine; local runs use open-source Spark",
    "serverless": "local runs use open-source Spark, not serverless compute",
    "serverless_compute_id": "local runs use open-source Spark, not serverless compute",
    "channel": "the runtime channel is fixed by the installed pyspark/delta-spark versions",
    "notifications": "pipeline e-mail notifications are not sent locally (use the harness alerting instead)",
    "budget_policy_id": "budgets do not apply locally",
    "usage_policy_id": "usage policies do not apply locally",
    "run_as": "local runs use the current user",
    "tags": "tags are not applied locally",
    "deployment": "deployment metadata is not used locally",
    "restart_window": "there are no scheduled restarts locally",
    "environment": "pipeline environments (dependencies) are installed with the project locally",
    "trigger": "deprecated; local updates are always triggered",
    "filters": "library filters are not applied locally",
    "allow_duplicate_names": "there is no workspace to hold duplicate names",
    "dry_run": "use `harness run --validate-only` instead",
    "parent_path": "workspace folders do not exist locally",
    "storage": "local state lives in the harness state directory",
}

UNSUPPORTED: dict[str, str] = {
    "ingestion_definition": "managed ingestion (Lakeflow Connect) pipelines cannot run locally",
    "gateway_definition": "ingestion gateway pipelines cannot run locally",
}


@dataclass(frozen=True)
class Library:
    """One source of pipeline code: a file, a notebook (a .py file locally) or a glob include."""

    kind: str  # "file" | "notebook" | "glob"
    path: str


@dataclass(frozen=True)
class EventLogTarget:
    catalog: str | None
    schema: str | None
    name: str


@dataclass(frozen=True)
class PipelineSettings:
    name: str
    pipeline_id: str
    catalog: str | None
    schema: str
    configuration: Mapping[str, str]
    libraries: tuple[Library, ...]
    development: bool
    continuous: bool
    edition: str
    root_path: str | None
    event_log: EventLogTarget | None
    source: str  # where the settings came from (a file path or "<dict>")
    warnings: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def database(self) -> str:
        """The local Spark database that stands for ``catalog.schema`` (see docs/semantics.md)."""
        return local_database(self.catalog, self.schema)

    def event_log_database(self) -> str:
        if self.event_log is None:
            return self.database
        return local_database(self.event_log.catalog or self.catalog, self.event_log.schema or self.schema)


def load_settings(path: str | Path) -> PipelineSettings:
    """Read and validate a Databricks pipeline settings JSON file."""
    file = Path(path)
    if not file.is_file():
        raise SettingsError(str(file), None, "file not found")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SettingsError(str(file), None, f"not valid JSON ({exc})") from exc
    return parse_settings(data, str(file))


def _expect(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise SettingsError(source, key, f"expected {names}, got {type(value).__name__} {value!r}")
    return value


def _libraries(data: Mapping[str, Any], source: str) -> tuple[tuple[Library, ...], list[str]]:
    """The source libraries the harness runs, and a warning per library it cannot install (jar, maven, whl)."""
    raw = _expect(data, "libraries", list, source) or []
    result: list[Library] = []
    notes: list[str] = []
    for index, entry in enumerate(raw):
        key = f"libraries[{index}]"
        if not isinstance(entry, Mapping):
            raise SettingsError(source, key, 'each library must be an object such as {"file": {"path": ...}}')
        unknown = set(entry) - {f.name for f in sdk.PipelineLibrary.__dataclass_fields__.values()}
        if unknown:
            raise SettingsError(source, key, f"unknown library kind {sorted(unknown)}")
        library = sdk.PipelineLibrary.from_dict(dict(entry))
        if library.file is not None and library.file.path:
            result.append(Library("file", library.file.path))
        elif library.notebook is not None and library.notebook.path:
            result.append(Library("notebook", library.notebook.path))
        elif library.glob is not None and library.glob.include:
            result.append(Library("glob", library.glob.include))
        elif library.jar or library.whl:
            notes.append(
                f"{key} {library.jar or library.whl!r} is not installed locally: put it on the Spark classpath "
                "(HARNESS_SPARK_JARS) or into the Python environment yourself"
            )
        elif library.maven:
            coordinates = library.maven.coordinates
            notes.append(
                f"{key} maven {coordinates!r} is not installed locally: put the jar on the Spark classpath "
                "(HARNESS_SPARK_JARS)"
            )
        else:
            raise SettingsError(source, key, "a library needs a file, notebook or glob with a path/include")
    return tuple(result), notes


def parse_settings(data: Mapping[str, Any], source: str = "<dict>") -> PipelineSettings:
    """Validate a settings mapping; raise SettingsError naming the offending key."""
    if not isinstance(data, Mapping):
        raise SettingsError(source, None, "the settings must be a JSON object")
    for key in data:
        if key not in ALLOWED_KEYS:
            close = difflib.get_close_matches(key, sorted(ALLOWED_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SettingsError(source, key, f"unknown pipeline setting{hint}")
    for key, reason in UNSUPPORTED.items():
        if data.get(key):
            raise SettingsError(source, key, reason)
    # Databricks' own model parses the nested shapes (raises on wrong nesting).
    try:
        spec = sdk.PipelineSpec.from_dict(dict(data))
    except (TypeError, AttributeError, ValueError) as exc:
        raise SettingsError(source, None, f"does not match the Pipelines API: {exc}") from exc

    name = _expect(data, "name", str, source)
    if not name:
        raise SettingsError(source, "name", "a pipeline needs a name")
    catalog = _expect(data, "catalog", str, source)
    schema = _expect(data, "schema", str, source)
    target = _expect(data, "target", str, source)
    if schema and target:
        raise SettingsError(source, "target", "exactly one of schema or target must be specified")
    schema = schema or target
    if not schema:
        raise SettingsError(source, "schema", "a pipeline needs a schema (or the legacy target)")
    for key, value in (("catalog", catalog), ("schema", schema)):
        if value is not None:
            try:
                validate_identifier(value, key)
            except Exception as exc:
                raise SettingsError(source, key, f"{value!r} is not a valid name") from exc

    configuration = _expect(data, "configuration", Mapping, source) or {}
    for key, value in configuration.items():
        if not isinstance(value, str):
            raise SettingsError(
                source, f"configuration.{key}", "configuration values must be strings (as on Databricks)"
            )
    for flag in ("development", "continuous", "photon", "serverless"):
        _expect(data, flag, bool, source)
    edition = (_expect(data, "edition", str, source) or "ADVANCED").upper()
    if edition not in ("CORE", "PRO", "ADVANCED"):
        raise SettingsError(source, "edition", f"expected CORE, PRO or ADVANCED, got {edition!r}")

    warnings = [
        f"setting {key!r} is not honoured locally: {reason}"
        for key, reason in NOT_HONOURED.items()
        if data.get(key)
    ]
    if data.get("continuous"):
        warnings.append(
            "setting 'continuous' is true: local updates are triggered (each run processes what is available, then stops)"
        )

    libraries, library_notes = _libraries(data, source)
    warnings += library_notes
    event_log = None
    if spec.event_log is not None:
        if not spec.event_log.name:
            raise SettingsError(source, "event_log.name", "the event log needs a table name")
        validate_identifier(spec.event_log.name, "event log table")
        event_log = EventLogTarget(spec.event_log.catalog, spec.event_log.schema, spec.event_log.name)

    return PipelineSettings(
        name=name,
        pipeline_id=str(data.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"local-dlt-harness:{name}")),
        catalog=catalog,
        schema=schema,
        configuration={str(k): str(v) for k, v in configuration.items()},
        libraries=libraries,
        development=bool(data.get("development", False)),
        continuous=bool(data.get("continuous", False)),
        edition=edition,
        root_path=_expect(data, "root_path", str, source),
        event_log=event_log,
        source=source,
        warnings=tuple(warnings),
        raw=dict(data),
    )
