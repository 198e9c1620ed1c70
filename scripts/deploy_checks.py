"""Offline checks of the Databricks deployment: bundle, per-target resources, env configs.

Used by scripts/promote.py (before any deploy) and by tests/pipeline/test_deployment.py. The bundle
is read and resolved for a target by the harness's bundle resolver (`harness.settings.bundle`: target
overrides, variables, ``${bundle.*}`` / ``${workspace.*}`` references, as ``databricks bundle
validate`` resolves them), then every resource is parsed with Databricks' own published models
(`databricks-bundles`: ``Pipeline.from_dict`` / ``Job.from_dict`` reject unknown fields and wrong
shapes). The local harness runs the same resolution (``harness run --bundle . --target T``), so
there is no second settings file that could drift from what is deployed.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
TARGETS: tuple[str, ...] = ("dev", "staging", "prod")
PIPELINE_KEY = "retail_orders"
JOB_KEY = "retail_orders_on_arrival"

for _root in (PIPELINE_ROOT.parent,):  # `pipeline.utils...` and `harness` when run as a script
    if str(_root) not in sys.path:
        sys.path.insert(0, str(_root))

from harness.errors import BundleError, HarnessError  # noqa: E402
from harness.settings.bundle import (  # noqa: E402
    BundleDocument,
    ResolvedBundle,
    resolve_bundle,
    settings_from_resolved,
)
from harness.settings.bundle import load_bundle as _load_bundle  # noqa: E402


class DeploymentCheckError(ValueError):
    """Raised when the bundle, a target or an environment's files are inconsistent (names the key)."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


def load_bundle(root: Path = REPO_ROOT) -> BundleDocument:
    """databricks.yml with its ``include`` files merged in (resources from every file)."""
    try:
        return _load_bundle(root)
    except BundleError as exc:
        raise DeploymentCheckError(exc.key or exc.path, exc.reason) from exc


def resolve_target(bundle: BundleDocument, target: str) -> ResolvedBundle:
    """The bundle as deployed to ``target``: target overrides merged, references substituted."""
    try:
        return resolve_bundle(bundle, target)
    except BundleError as exc:
        raise DeploymentCheckError(exc.key or exc.path, exc.reason) from exc
    except HarnessError as exc:  # an unknown target: the message lists the defined ones
        raise DeploymentCheckError("targets", str(exc)) from exc


def typed_resources(resolved: ResolvedBundle) -> dict[str, Any]:
    """Parse every pipeline and job with databricks-bundles' models (raises on unknown fields)."""
    from databricks.bundles.jobs import Job
    from databricks.bundles.pipelines import Pipeline

    models = {"pipelines": Pipeline, "jobs": Job}
    out: dict[str, Any] = {}
    for kind, items in resolved.resources.items():
        if kind not in models:
            raise DeploymentCheckError(
                f"resources.{kind}", "only pipelines and jobs are expected in this bundle"
            )
        for key, value in items.items():
            try:
                out[f"{kind}.{key}"] = models[kind].from_dict(value)
            except (ValueError, TypeError, KeyError) as exc:
                raise DeploymentCheckError(f"{resolved.target}: resources.{kind}.{key}", str(exc)) from exc
    return out


def environment_problems(target: str, bundle: BundleDocument | None = None) -> list[str]:
    """Everything inconsistent between the bundle target, the env config and what the harness runs."""
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
    try:
        local = settings_from_resolved(resolved, PIPELINE_KEY)
    except HarnessError as exc:
        problems.append(f"{target}: the harness cannot run the bundle's pipeline: {exc}")
    else:
        if local.root_path != str(PIPELINE_ROOT):
            problems.append(
                f"{target}: the pipeline's root_path maps to {local.root_path}, not {PIPELINE_ROOT}"
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
