"""Deployment, offline: the bundle parsed with Databricks' models, promotion checks, code hygiene."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
from deploy_checks import (
    JOB_KEY,
    PIPELINE_KEY,
    TARGETS,
    DeploymentCheckError,
    all_problems,
    environment_problems,
    load_bundle,
    resolve_target,
    typed_resources,
)
from pipeline_paths import PIPELINE_ROOT, REPO_ROOT

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("target", TARGETS)
def test_bundle_target_parses_with_databricks_bundles_models(target: str) -> None:
    from databricks.bundles.jobs import Job
    from databricks.bundles.pipelines import Pipeline

    typed = typed_resources(resolve_target(load_bundle(), target))
    pipeline, job = typed[f"pipelines.{PIPELINE_KEY}"], typed[f"jobs.{JOB_KEY}"]
    assert isinstance(pipeline, Pipeline) and isinstance(job, Job)
    assert pipeline.catalog == f"retail_{target}" and pipeline.schema == "ecommerce"
    assert pipeline.continuous is False  # triggered
    assert pipeline.libraries[0].glob.include.endswith("/files/pipeline/transformations/**")
    assert pipeline.root_path.endswith("/files/pipeline")
    autoscale = pipeline.clusters[0].autoscale
    assert 1 <= autoscale.min_workers <= autoscale.max_workers
    assert pipeline.notifications[0].email_recipients
    assert job.trigger.file_arrival.url == f"/Volumes/retail_{target}/ecommerce/raw/orders/manifests/"
    task = job.tasks[0]
    assert str(task.pipeline_task.pipeline_id) == "${resources.pipelines.retail_orders.id}"
    assert job.max_concurrent_runs == 1


def test_prod_scales_wider_than_dev() -> None:
    bundle = load_bundle()
    dev = typed_resources(resolve_target(bundle, "dev"))[f"pipelines.{PIPELINE_KEY}"]
    prod = typed_resources(resolve_target(bundle, "prod"))[f"pipelines.{PIPELINE_KEY}"]
    assert prod.clusters[0].autoscale.max_workers > dev.clusters[0].autoscale.max_workers


def test_the_models_reject_a_misspelt_field() -> None:
    bundle = load_bundle()
    broken = copy.deepcopy(bundle)
    broken.data["resources"]["pipelines"][PIPELINE_KEY]["continous"] = False
    with pytest.raises(DeploymentCheckError) as info:
        typed_resources(resolve_target(broken, "dev"))
    assert info.value.where == "dev: resources.pipelines.retail_orders"
    assert "continous" in info.value.reason


def test_unknown_variable_reference_is_named() -> None:
    broken = copy.deepcopy(load_bundle())
    broken.data["resources"]["pipelines"][PIPELINE_KEY]["schema"] = "${var.shema}"
    with pytest.raises(DeploymentCheckError) as info:
        resolve_target(broken, "dev")
    assert info.value.where == "resources.pipelines.retail_orders.schema"


def test_environments_bundle_and_configs_agree() -> None:
    assert all_problems() == []


def test_a_bundle_configuration_differing_from_the_env_config_is_reported() -> None:
    bundle = copy.deepcopy(load_bundle())
    bundle.data["resources"]["pipelines"][PIPELINE_KEY]["configuration"][
        "ecommerce.max_files_per_trigger"
    ] = "5"
    problems = environment_problems("dev", bundle)
    assert any("configuration differs" in p and "ecommerce.max_files_per_trigger" in p for p in problems)


def test_no_second_settings_file_exists_beside_the_bundle() -> None:
    """One source of truth: the harness runs the bundle (`harness run --bundle`), not a settings JSON."""
    assert not (PIPELINE_ROOT / "configurations" / "settings").exists()


@pytest.mark.parametrize("target", TARGETS)
def test_the_harness_runs_each_target_as_the_bundle_deploys_it(target: str) -> None:
    from harness.settings.bundle import bundle_pipeline_settings

    settings = bundle_pipeline_settings(REPO_ROOT, target)
    deployed = typed_resources(resolve_target(load_bundle(), target))[f"pipelines.{PIPELINE_KEY}"]
    assert settings.name == f"retail_orders_{target}" and settings.catalog == f"retail_{target}"
    assert dict(settings.configuration) == dict(deployed.configuration)
    assert settings.development is (target == "dev")
    assert settings.root_path == str(PIPELINE_ROOT)
    assert [(lib.kind, lib.path) for lib in settings.libraries] == [
        ("glob", f"{PIPELINE_ROOT}/transformations/**")
    ]


def _python_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.py") if "__pycache__" not in p.parts and "notebooks" not in p.parts]


def test_pipeline_imports_nothing_from_harness_simulator_or_tests() -> None:
    offenders = []
    for path in _python_files(PIPELINE_ROOT):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in {"harness", "simulator", "tests", "quality_suites"}:
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} imports {name}")
    assert offenders == []


#: Actions Databricks forbids inside dataset functions (they run while the graph is analysed).
FORBIDDEN = {
    "collect",
    "count",
    "toPandas",
    "save",
    "saveAsTable",
    "start",
    "toTable",
    "show",
    "take",
    "first",
}
#: Receivers whose `.count(...)` etc. are column functions, not DataFrame actions.
FUNCTION_MODULES = {"F", "functions"}


def _forbidden_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in FORBIDDEN
        ):
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id in FUNCTION_MODULES:
                continue
            found.append(f"{path.name}:{node.lineno} .{node.func.attr}()")
    return found


def test_dataset_functions_and_their_helpers_contain_no_forbidden_action() -> None:
    files = sorted((PIPELINE_ROOT / "transformations").glob("*.py"))
    files += [PIPELINE_ROOT / "utils" / f"{name}.py" for name in ("bronze", "silver", "gold", "data_quality")]
    assert len(files) == 7
    assert [c for f in files for c in _forbidden_calls(f)] == []


def test_the_scan_would_catch_an_action() -> None:
    sample = REPO_ROOT / ".harness" / "forbidden_sample.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text("def f(df):\n    n = df.count()\n    return df.limit(n)\n", encoding="utf-8")
    try:
        assert _forbidden_calls(sample) == ["forbidden_sample.py:2 .count()"]
    finally:
        sample.unlink()


def test_promote_dry_run_prints_the_workflow(capsys: pytest.CaptureFixture[str]) -> None:
    from promote import main

    assert main(["promote", "--to", "staging", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("$ ")]
    assert lines[1:] == ["$ databricks bundle validate -t staging", "$ databricks bundle deploy -t staging"]
    assert "pytest tests/pipeline" in lines[0]
    with pytest.raises(SystemExit):
        main(["promote", "--to", "dev"])  # dev is where changes start, not a promotion target


@pytest.mark.parametrize("target", TARGETS)
def test_pipeline_failures_use_databricks_own_notifications(target: str) -> None:
    """Update and flow failures mail the target's on-call address through the pipeline's
    ``notifications`` (Databricks sends them even when no export or alert job runs); that address is
    also a recipient of the environment's own alert e-mails."""
    from pipeline.utils.config_manager import load_config

    pipeline = typed_resources(resolve_target(load_bundle(), target))[f"pipelines.{PIPELINE_KEY}"]
    [notification] = pipeline.notifications
    assert sorted(notification.alerts) == ["on-flow-failure", "on-update-failure", "on-update-fatal-failure"]
    recipients = set(notification.email_recipients)
    assert recipients and recipients <= set(load_config(target).section("alerts")["email"]["recipients"])
