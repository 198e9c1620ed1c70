"""A Databricks Asset Bundle (``databricks.yml`` + includes) → the `PipelineSettings` of one pipeline.

The harness runs what the bundle deploys, with no second settings file: the bundle is resolved for
a target the way ``databricks bundle validate -t <target>`` resolves it, then the pipeline resource
is checked with Databricks' own published model (`databricks-bundles`: ``Pipeline.from_dict``
rejects unknown fields and wrong shapes) and handed to `parse_settings`, the same validation a
settings JSON gets. What a local run does with each piece (docs/deployment.md, "Running from the
bundle"):

* **targets**: the chosen target (``--target``, else the one marked ``default: true``, else the only
  one) is merged over the top level: mappings key by key, sequences appended, and a pipeline's
  ``clusters`` joined by ``label``, as the Databricks CLI does;
* **variables**: ``--var name=value``, then ``BUNDLE_VAR_<name>``, then the target's value, then the
  default; ``${var.x}`` may refer to other variables; a ``complex`` value keeps its type;
* **references**: ``${bundle.name}``, ``${bundle.target}``, ``${workspace.*}`` (root, file, artifact,
  state and resource paths, current user) resolve as on Databricks; ``${resources.*}`` (deploy-time
  ids) stay as written;
* **paths**: ``${workspace.file_path}`` is where ``databricks bundle deploy`` puts the bundle's files,
  so a path under it maps onto the same path in the local checkout; a relative library path is
  relative to the YAML file that declares it (as the CLI translates it);
* **mode: development** sets ``development``; catalog, schema, configuration and libraries (file,
  notebook, glob, jar, maven) come through unchanged;
* features with no local meaning (permissions, run_as, cluster policies, lookups, ...) are warnings,
  each named once in `PipelineSettings.warnings`.
"""

from __future__ import annotations

import copy
import getpass
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from harness.errors import BundleError, UnknownBundlePipelineError, UnknownBundleTargetError
from harness.settings.model import PipelineSettings, parse_settings

BUNDLE_FILES: tuple[str, ...] = ("databricks.yml", "databricks.yaml", "bundle.yml", "bundle.yaml")
#: Top-level keys of databricks.yml, as documented (bundle configuration reference).
TOP_LEVEL_KEYS = frozenset(
    {
        "bundle",
        "include",
        "sync",
        "variables",
        "targets",
        "environments",
        "resources",
        "workspace",
        "permissions",
        "run_as",
        "artifacts",
        "presets",
        "experimental",
        "scripts",
        "python",
    }
)
#: Bundle features a local run cannot honour, and why (each reported once when present).
NO_LOCAL_MEANING: dict[str, str] = {
    "permissions": "workspace permissions are not applied locally",
    "run_as": "local runs use the current user",
    "artifacts": "artifacts are not built locally; install the project's packages into the environment",
    "presets": "deployment presets (name prefixes, tags, pauses) apply to Databricks resources only",
    "experimental": "experimental bundle features (Python resources, scripts) are not run locally",
    "python": "resources defined in Python are not loaded locally",
    "scripts": "bundle scripts are not run locally",
    "cluster_id": "local runs use the local Spark, not a workspace cluster",
    "compute_id": "local runs use the local Spark, not a workspace cluster",
    "git": "git metadata is not used locally",
}
#: Pipeline-resource fields the bundle knows and the Pipelines API does not (bundle-only).
RESOURCE_ONLY_FIELDS: dict[str, str] = {
    "permissions": "pipeline permissions are not applied locally",
    "lifecycle": "the resource lifecycle (prevent_destroy) only matters on deploy",
    "cascade_on_destroy": "only matters when the bundle is destroyed",
}

_REF = re.compile(r"\$\{([a-zA-Z0-9_.\-\[\]]+)\}")


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BundleError(str(path), None, f"not readable YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise BundleError(str(path), None, "a bundle file must be a mapping")
    return data


def _merge(base: Any, override: Any) -> Any:
    """The CLI's merge: mappings key by key, sequences appended, scalars replaced."""
    if isinstance(base, dict) and isinstance(override, Mapping):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list):
        return [*base, *copy.deepcopy(override)]
    return copy.deepcopy(override)


def _join_clusters(clusters: list[Any]) -> list[Any]:
    """Pipeline clusters with the same ``label`` (default ``default``) become one, later keys winning."""
    joined: dict[str, dict[str, Any]] = {}
    for cluster in clusters:
        if not isinstance(cluster, Mapping):
            return clusters
        label = str(cluster.get("label", "default"))
        joined[label] = _merge(joined[label], cluster) if label in joined else dict(cluster)
    return list(joined.values())


@dataclass(frozen=True)
class BundleDocument:
    """databricks.yml with its includes merged; ``origins`` says which file declared each resource."""

    root: Path
    file: Path
    data: Mapping[str, Any]
    origins: Mapping[str, Path] = field(default_factory=dict)

    @property
    def targets(self) -> dict[str, Any]:
        return dict(self.data.get("targets") or self.data.get("environments") or {})


def find_bundle_file(directory: str | os.PathLike[str] = ".") -> Path:
    """The bundle's main file in ``directory`` (or ``directory`` itself when it is that file)."""
    path = Path(directory)
    if path.is_file():
        return path.resolve()
    for name in BUNDLE_FILES:
        if (path / name).is_file():
            return (path / name).resolve()
    raise BundleError(str(path), None, f"no {BUNDLE_FILES[0]} found (looked for {', '.join(BUNDLE_FILES)})")


def load_bundle(directory: str | os.PathLike[str] = ".") -> BundleDocument:
    """Read databricks.yml and merge in every file its ``include`` globs match, in order."""
    file = find_bundle_file(directory)
    root = file.parent
    main = _yaml(file)
    unknown = set(main) - TOP_LEVEL_KEYS
    if unknown:
        raise BundleError(str(file), sorted(unknown)[0], f"unknown top-level keys {sorted(unknown)}")
    origins = {
        f"{kind}.{key}": file for kind, items in (main.get("resources") or {}).items() for key in items
    }
    merged: dict[str, Any] = main
    for pattern in main.get("include") or []:
        for part_file in sorted(root.glob(pattern)):
            part = _yaml(part_file)
            extra = set(part) - TOP_LEVEL_KEYS
            if extra:
                raise BundleError(str(part_file), sorted(extra)[0], f"unknown top-level keys {sorted(extra)}")
            for kind, items in (part.get("resources") or {}).items():
                for key in items or {}:
                    origins.setdefault(f"{kind}.{key}", part_file)
            merged = _merge(merged, {k: v for k, v in part.items() if k != "include"})
    for target in (merged.get("targets") or {}).values():
        for kind, items in ((target or {}).get("resources") or {}).items():
            for key in items or {}:
                origins.setdefault(f"{kind}.{key}", file)
    return BundleDocument(root, file, merged, origins)


def parse_var_options(items: Sequence[str] | None) -> dict[str, str]:
    """``--var name=value`` options (repeatable, or ``--var "a=1,b=2"`` as the Databricks CLI accepts)."""
    out: dict[str, str] = {}
    for item in items or ():
        pieces = item.split(",")
        for pair in pieces if all("=" in p for p in pieces) else [item]:
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise BundleError("--var", pair, "expected name=value")
            out[name.strip()] = value
    return out


@dataclass(frozen=True)
class ResolvedBundle:
    """The bundle as ``databricks bundle validate -t <target>`` shows it (references substituted)."""

    document: BundleDocument
    target: str
    mode: str | None
    variables: Mapping[str, Any]
    workspace: Mapping[str, str]
    resources: Mapping[str, Mapping[str, Any]]
    warnings: tuple[str, ...] = ()

    @property
    def pipelines(self) -> dict[str, Any]:
        return dict(self.resources.get("pipelines") or {})


def _choose_target(document: BundleDocument, target: str | None) -> str:
    targets = document.targets
    if target is not None:
        if target not in targets:
            raise UnknownBundleTargetError(str(document.file), target, sorted(targets))
        return target
    defaults = [name for name, spec in targets.items() if (spec or {}).get("default")]
    if len(defaults) == 1:
        return defaults[0]
    if len(targets) == 1:
        return next(iter(targets))
    if not targets:
        return "default"
    raise UnknownBundleTargetError(str(document.file), "(none given)", sorted(targets))


def _variables(
    document: BundleDocument, target: str, spec: Mapping[str, Any], overrides: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    declared = document.data.get("variables") or {}
    warnings: list[str] = []
    values: dict[str, Any] = {}
    lookups: set[str] = set()
    for name, definition in declared.items():
        definition = definition if isinstance(definition, Mapping) else {"default": definition}
        if "lookup" in definition:
            lookups.add(name)
        values[name] = definition.get("default")
    for name, value in (spec.get("variables") or {}).items():
        if name not in declared:
            raise BundleError(
                str(document.file),
                f"targets.{target}.variables.{name}",
                "variable not declared in variables:",
            )
        if isinstance(value, Mapping) and ("default" in value or "lookup" in value):
            if "lookup" in value:
                lookups.add(name)
                value = None
            else:
                lookups.discard(name)
                value = value["default"]
        values[name] = value
    for name in declared:
        env = os.environ.get(f"BUNDLE_VAR_{name}")
        if env is not None:
            values[name] = env
    for name, value in overrides.items():
        if name not in declared:
            raise BundleError(
                "--var", name, f"variable not declared in {document.file.name}; declared: {sorted(declared)}"
            )
        values[name] = value
        lookups.discard(name)
    for name in sorted(lookups):
        if values.get(name) is None:
            warnings.append(
                f"bundle variable {name!r} is a lookup (resolved by the workspace); pass --var {name}=... to use it locally"
            )
    return values, warnings


def _substitute(value: Any, refs: Mapping[str, Any], where: str, file: Path) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, refs, f"{where}.{k}", file) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs, f"{where}[{i}]", file) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    whole = _REF.fullmatch(value)
    if whole and whole.group(1) in refs:
        return copy.deepcopy(refs[whole.group(1)])  # keeps the variable's type (numbers, complex values)

    def replace_one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("resources."):
            return match.group(0)  # a deploy-time id, resolved by Databricks
        if name not in refs:
            known = [*sorted(k for k in refs if not k.startswith("var.")), "var.<name>"]
            raise BundleError(str(file), where, f"unknown reference ${{{name}}} (known: {', '.join(known)})")
        if refs[name] is None:
            raise BundleError(str(file), where, f"${{{name}}} has no value for this target (pass --var)")
        return str(refs[name])

    return _REF.sub(replace_one, value)


def _resolve_refs(refs: dict[str, Any], file: Path) -> dict[str, Any]:
    """Substitute references inside the references themselves (variables that use variables)."""
    for _ in range(10):
        before = copy.deepcopy(refs)
        for key, value in list(refs.items()):
            if value is None:
                continue
            refs[key] = _substitute(
                value, {k: v for k, v in refs.items() if k != key and v is not None}, key, file
            )
        if refs == before:
            return refs
    raise BundleError(str(file), "variables", "references do not resolve (a cycle between variables?)")


def resolve_bundle(
    document: BundleDocument, target: str | None = None, variables: Mapping[str, str] | None = None
) -> ResolvedBundle:
    """The bundle for ``target`` with overrides merged and every ``${...}`` reference substituted."""
    name = _choose_target(document, target)
    spec = dict(document.targets.get(name) or {})
    bundle_name = (document.data.get("bundle") or {}).get("name")
    if not bundle_name:
        raise BundleError(str(document.file), "bundle.name", "a bundle needs a name")
    values, warnings = _variables(document, name, spec, variables or {})
    for key, reason in NO_LOCAL_MEANING.items():
        if document.data.get(key) or spec.get(key):
            warnings.append(f"bundle setting {key!r} is not honoured locally: {reason}")
    user = os.environ.get("DATABRICKS_USER") or getpass.getuser()
    workspace = _merge(dict(document.data.get("workspace") or {}), spec.get("workspace") or {})
    refs: dict[str, Any] = {f"var.{k}": v for k, v in values.items()}
    refs |= {
        "bundle.name": bundle_name,
        "bundle.target": name,
        "bundle.environment": name,
        "workspace.current_user.userName": user,
        "workspace.current_user.short_name": re.sub(r"[^a-zA-Z0-9]", "_", user.split("@")[0]).lower(),
    }
    refs["workspace.root_path"] = (
        workspace.get("root_path")
        or "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}"
    )
    for key, suffix in (
        ("file_path", "files"),
        ("artifact_path", "artifacts"),
        ("state_path", "state"),
        ("resource_path", "resources"),
    ):
        refs[f"workspace.{key}"] = workspace.get(key) or f"${{workspace.root_path}}/{suffix}"
    refs = _resolve_refs(refs, document.file)
    refs = {
        k: (
            v.replace("~", f"/Workspace/Users/{user}", 1)
            if k.startswith("workspace.") and isinstance(v, str) and v.startswith("~")
            else v
        )
        for k, v in refs.items()
    }
    resources = _merge(dict(document.data.get("resources") or {}), spec.get("resources") or {})
    for pipeline in (resources.get("pipelines") or {}).values():
        if isinstance(pipeline, dict) and isinstance(pipeline.get("clusters"), list):
            pipeline["clusters"] = _join_clusters(pipeline["clusters"])
    resolved = _substitute(resources, refs, "resources", document.file)
    return ResolvedBundle(
        document=document,
        target=name,
        mode=spec.get("mode"),
        variables={k[4:]: v for k, v in refs.items() if k.startswith("var.")},
        workspace={k[10:]: v for k, v in refs.items() if k.startswith("workspace.") and isinstance(v, str)},
        resources=resolved,
        warnings=tuple(warnings),
    )


def _deployed_prefixes(file_path: str) -> tuple[str, ...]:
    """``/Workspace/Users/...`` and ``/Users/...`` name the same workspace folder."""
    deployed = file_path.rstrip("/")
    if deployed.startswith("/Workspace/"):
        return deployed, deployed.removeprefix("/Workspace")
    return deployed, "/Workspace" + deployed


def _local_path(path: str, file_path: str, origin: Path, root: Path) -> str:
    """A workspace path under the deployed files → the same file in the checkout; relative → from its YAML."""
    if path.startswith(("/Volumes/", "dbfs:")) or "://" in path:
        return path
    for prefix in _deployed_prefixes(file_path):
        if path == prefix or path.startswith(prefix + "/"):
            return str(root.joinpath(path[len(prefix) :].lstrip("/")))
    if not path.startswith("/"):
        return str((origin.parent / path).resolve())
    return path


def _map_libraries(pipeline: dict[str, Any], file_path: str, origin: Path, root: Path) -> None:
    """Every library path of the pipeline onto the checkout (file, notebook, glob include, jar)."""
    for entry in pipeline.get("libraries") or []:
        if not isinstance(entry, dict):
            continue
        for kind, key in (("file", "path"), ("notebook", "path"), ("glob", "include")):
            value = (entry.get(kind) or {}).get(key) if isinstance(entry.get(kind), dict) else None
            if not isinstance(value, str):
                continue
            pattern = ""
            if kind == "glob":  # map the folder part; keep the pattern (``/**``, ``/*.py``) as written
                head, _, tail = value.rpartition("/")
                value, pattern = (head, "/" + tail) if "*" in tail else (value, "")
            entry[kind][key] = _local_path(value, file_path, origin, root) + pattern
        if isinstance(entry.get("jar"), str):
            entry["jar"] = _local_path(entry["jar"], file_path, origin, root)


def bundle_pipeline_settings(
    directory: str | os.PathLike[str] = ".",
    target: str | None = None,
    pipeline: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> PipelineSettings:
    """The `PipelineSettings` of one pipeline of the bundle in ``directory``, resolved for ``target``.

    The result is the same object a settings JSON gives (`parse_settings`), with ``root_path`` and
    library paths pointing into the local checkout and the bundle's warnings added to ``warnings``.
    """
    resolved = resolve_bundle(load_bundle(directory), target, variables)
    return settings_from_resolved(resolved, pipeline)


def settings_from_resolved(resolved: ResolvedBundle, pipeline: str | None = None) -> PipelineSettings:
    """One pipeline of a resolved bundle as `PipelineSettings` (see `bundle_pipeline_settings`)."""
    from databricks.bundles.pipelines import Pipeline

    document = resolved.document
    pipelines = resolved.pipelines
    if pipeline is None:
        if len(pipelines) != 1:
            raise UnknownBundlePipelineError(str(document.file), resolved.target, None, sorted(pipelines))
        pipeline = next(iter(pipelines))
    if pipeline not in pipelines:
        raise UnknownBundlePipelineError(str(document.file), resolved.target, pipeline, sorted(pipelines))
    where = f"resources.pipelines.{pipeline}"
    origin = document.origins.get(f"pipelines.{pipeline}", document.file)
    raw = copy.deepcopy(dict(pipelines[pipeline] or {}))
    try:
        Pipeline.from_dict(copy.deepcopy(raw))  # Databricks' published model: unknown fields, wrong shapes
    except (ValueError, TypeError, KeyError) as exc:
        raise BundleError(str(origin), where, f"rejected by the Databricks bundle model: {exc}") from exc
    warnings = list(resolved.warnings)
    for key, reason in RESOURCE_ONLY_FIELDS.items():
        if raw.pop(key, None):
            warnings.append(f"pipeline setting {key!r} is not honoured locally: {reason}")
    for index, cluster in enumerate(raw.get("clusters") or []):
        if isinstance(cluster, Mapping) and cluster.get("policy_id"):
            warnings.append(
                f"cluster policy {cluster['policy_id']!r} (clusters[{index}].policy_id) is not honoured locally: "
                "local runs use the local Spark"
            )
    file_path = resolved.workspace["file_path"]
    root = document.root
    _map_libraries(raw, file_path, origin, root)
    if isinstance(raw.get("root_path"), str):
        raw["root_path"] = _local_path(raw["root_path"], file_path, origin, root).rstrip("/")
    raw["development"] = resolved.mode == "development" or bool(raw.get("development"))
    source = f"{document.file} (target {resolved.target}, pipeline {pipeline})"
    settings = parse_settings(raw, source)
    seen: set[str] = set()
    merged = [w for w in [*warnings, *settings.warnings] if not (w in seen or seen.add(w))]
    return replace(settings, warnings=tuple(merged))


__all__ = [
    "BundleDocument",
    "ResolvedBundle",
    "bundle_pipeline_settings",
    "find_bundle_file",
    "load_bundle",
    "parse_var_options",
    "resolve_bundle",
    "settings_from_resolved",
]
