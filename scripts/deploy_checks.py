"""Offline checks of the Databricks deployment: bundle, per-target resources, env configs, settings.

Used by scripts/promote.py (before any deploy) and by tests/pipeline/test_deployment.py. The
bundle's resources are parsed with Databricks' own published models (`databricks-bundles`:
``Pipeline.from_dict`` / ``Job.from_dict`` reject unknown fields and wrong shapes), after the
bundle variables of a target have been substituted the way ``databricks bundle validate`` does for
the simple ``${var.x}`` / ``${bundle.x}`` / ``${workspace.file_path}`` references used here.

The pipeline settings files (``pipeline/configurations/settings/<env>.json``), which the local
harness runs, are rendered from the same bundle resource (`render_settings`), so local runs and
Databricks deployments cannot drift apart silently.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
SETTINGS_DIR = PIPELINE_ROOT / "configurations" / "settings"
TARGETS: tuple[str, ...] = ("dev", "staging", "prod")
PIPELINE_KEY = "retail_orders"
JOB_KEY = "retail_orders_on_arrival"
#: Where a production-mode target deploys (its workspace.root_path); settings files use it too.
SHARED_ROOT = "/Workspace/Shared/.bundle/{bundle}/{target}"
ALLOWED_TOP_LEVEL = {
    "bundle",
    "include",
    "sync",
    "variables",
    "targets",
    "resources",
    "workspace",
    "permissions",
    "run_as",
    "artifacts",
    "presets",
    "experimental",
}

if str(PIPELINE_ROOT.parent) not in sys.path:  # `pipeline.utils...` when run as a script
    sys.path.insert(0, str(PIPELINE_ROOT.parent))


class DeploymentCheckError(ValueError):
    """Raised when the bundle, a target or an environment's files are inconsistent (names the key)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_bundle(root: Path = REPO_ROOT) -> dict[str, Any]:
    """databricks.yml with its ``include`` files merged in (resources from every file)."""
    main = yaml.safe_load((root / "databricks.yml").read_text(encoding="utf-8"))
    unknown = set(main) - ALLOWED_TOP_LEVEL
    if unknown:
        raise DeploymentCheckError("databricks.yml", f"unknown top-level keys {sorted(unknown)}")
    for pattern in main.get("include", []):
        for file in sorted(root.glob(pattern)):
            part = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            extra = set(part) - {"resources", "variables", "targets"}
            if extra:
                raise DeploymentCheckError(
                    str(file.relative_to(root)), f"unexpected top-level keys {sorted(extra)}"
                )
            main = _deep_merge(main, part)
    return main


_REF = re.compile(r"\$\{([a-zA-Z0-9_.]+)\}")


def _substitute(value: Any, refs: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, refs, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, refs, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    whole = _REF.fullmatch(value)
    if whole and whole.group(1) in refs:
        return refs[whole.group(1)]  # keeps the variable's type (integers for worker counts)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("resources."):
            return match.group(0)  # resolved by Databricks at deploy time
        if name not in refs:
            raise DeploymentCheckError(where, f"unknown reference ${{{name}}}")
        return str(refs[name])

    return _REF.sub(replace, value)


def resolve_target(bundle: Mapping[str, Any], target: str) -> dict[str, Any]:
    """The bundle as deployed to ``target``: target overrides merged, references substituted."""
    targets = bundle.get("targets", {})
    if target not in targets:
        raise DeploymentCheckError("targets", f"no target {target!r}; defined: {', '.join(targets)}")
    spec = targets[target] or {}
    variables = {name: (v or {}).get("default") for name, v in bundle.get("variables", {}).items()}
    for name, value in (spec.get("variables") or {}).items():
        if name not in variables:
            raise DeploymentCheckError(
                f"targets.{target}.variables.{name}", "variable not declared in databricks.yml"
            )
        variables[name] = value
    missing = [n for n, v in variables.items() if v is None]
    if missing:
        raise DeploymentCheckError(f"targets.{target}.variables", f"no value for {missing}")
    name = bundle["bundle"]["name"]
    root_path = (spec.get("workspace") or {}).get("root_path") or SHARED_ROOT.format(
        bundle=name, target=target
    )
    refs: dict[str, Any] = {f"var.{k}": v for k, v in variables.items()}
    refs |= {"bundle.name": name, "bundle.target": target}
    refs["workspace.root_path"] = refs["workspace.file_path"] = None  # set below (root_path may use refs)
    root_path = _substitute(
        root_path, refs | {"workspace.root_path": "", "workspace.file_path": ""}, "workspace"
    )
    refs["workspace.root_path"] = root_path
    refs["workspace.file_path"] = f"{root_path}/files"
    resources = _deep_merge(bundle.get("resources", {}), spec.get("resources") or {})
    return {
        "target": target,
        "mode": spec.get("mode"),
        "variables": variables,
        "workspace_file_path": refs["workspace.file_path"],
        "resources": _substitute(resources, refs, "resources"),
    }


def typed_resources(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """Parse every pipeline and job with databricks-bundles' models (raises on unknown fields)."""
    from databricks.bundles.jobs import Job
    from databricks.bundles.pipelines import Pipeline

    models = {"pipelines": Pipeline, "jobs": Job}
    out: dict[str, Any] = {}
    for kind, items in resolved["resources"].items():
        if kind not in models:
            raise DeploymentCheckError(
                f"resources.{kind}", "only pipelines and jobs are expected in this bundle"
            )
        for key, value in items.items():
            try:
                out[f"{kind}.{key}"] = models[kind].from_dict(value)
            except (ValueError, TypeError, KeyError) as exc:
                raise DeploymentCheckError(f"{resolved['target']}: resources.{kind}.{key}", str(exc)) from exc
    return out


def render_settings(target: str, bundle: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Pipelines API settings of ``target``'s pipeline: what the local harness runs."""
    resolved = resolve_target(bundle or load_bundle(), target)
    pipeline = copy.deepcopy(resolved["resources"]["pipelines"][PIPELINE_KEY])
    pipeline.pop("permissions", None)
    pipeline["development"] = resolved["mode"] == "development"
    return pipeline


def environment_problems(target: str, bundle: Mapping[str, Any] | None = None) -> list[str]:
    """Everything inconsistent between the bundle target, the env config and the settings file."""
    from pipeline.utils.config_manager import load_config, pipeline_configuration

    bundle = bundle or load_bundle()
    problems: list[str] = []
    resolved = resolve_target(bundle, target)
    typed = typed_resources(resolved)
    pipeline = typed[f"pipelines.{PIPELINE_KEY}"]
    job = typed[f"jobs.{JOB_KEY}"]
    config = load_config(target)
    expected_conf = pipeline_configuration(config)
    if dict(pipeline.configuration) != expected_conf:
        diff = {
            k
            for k in set(expected_conf) | set(pipeline.configuration)
            if expected_conf.get(k) != pipeline.configuration.get(k)
        }
        problems.append(
            f"{target}: bundle pipeline configuration differs from {target}_config.json in {sorted(diff)}"
        )
    if pipeline.catalog != config.catalog or pipeline.schema != config.schema:
        problems.append(
            f"{target}: bundle catalog/schema {pipeline.catalog}.{pipeline.schema} != config {config.catalog}.{config.schema}"
        )
    if pipeline.continuous:
        problems.append(f"{target}: the pipeline must be triggered (continuous: false)")
    trigger = job.trigger.file_arrival if job.trigger else None
    if trigger is None or trigger.url != config.paths["manifests"].rstrip("/") + "/":
        problems.append(f"{target}: the job's file-arrival trigger must watch {config.paths['manifests']}/")
    settings_file = SETTINGS_DIR / f"{target}.json"
    if not settings_file.is_file():
        problems.append(f"{target}: {settings_file} is missing (run scripts/promote.py render-settings)")
    else:
        on_disk = json.loads(settings_file.read_text(encoding="utf-8"))
        if on_disk != render_settings(target, bundle):
            problems.append(
                f"{target}: {settings_file.name} is out of date with the bundle (run scripts/promote.py render-settings)"
            )
    return problems


def config_problems() -> list[str]:
    """Pairs of env configs that differ in values that are not environment-specific."""
    from pipeline.utils.config_manager import config_differences, load_config

    configs = [load_config(env) for env in TARGETS]
    problems = []
    for a, b in itertools.pairwise(configs):
        problems += [f"{a.environment} vs {b.environment}: {p}" for p in config_differences(a, b)]
    return problems


def all_problems() -> list[str]:
    bundle = load_bundle()
    problems = config_problems()
    for target in TARGETS:
        problems += environment_problems(target, bundle)
    return problems
