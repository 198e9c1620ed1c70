"""Issue 17.1: a pipeline's settings straight from its Databricks Asset Bundle, resolved for a target.

Small bundles written here in our own words: target overrides, variables from every source, a
pipeline with every kind of library, features that mean nothing locally, and the errors that list
what exists. The last test runs a mixed-library pipeline from its bundle on Spark.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from harness.cli.main import main
from harness.errors import BundleError, UnknownBundlePipelineError, UnknownBundleTargetError
from harness.settings.bundle import bundle_pipeline_settings, load_bundle, parse_var_options, resolve_bundle

BUNDLE = """
bundle:
  name: shop

include:
  - resources/*.yml

variables:
  catalog:
    default: dev_cat
  schema:
    default: sales
  landing:
    default: /Volumes/${var.catalog}/${var.schema}/raw/in
  workers:
    default: 1
  tags:
    type: complex
    default: {team: data}

targets:
  dev:
    mode: development
    default: true
  prod:
    mode: production
    workspace:
      root_path: /Workspace/Shared/.bundle/${bundle.name}/${bundle.target}
    variables:
      catalog: prod_cat
      workers: 4
    resources:
      pipelines:
        orders:
          configuration:
            shop.extra: only-in-prod
          clusters:
            - label: default
              autoscale: {min_workers: 2, max_workers: "${var.workers}"}
          libraries:
            - file:
                path: ${workspace.file_path}/src/prod_only.py
"""

PIPELINE_YML = """
resources:
  pipelines:
    orders:
      name: orders_${bundle.target}
      catalog: ${var.catalog}
      schema: ${var.schema}
      root_path: ../src
      configuration:
        shop.landing: ${var.landing}
        shop.target: ${bundle.target}
      clusters:
        - label: default
          num_workers: ${var.workers}
      libraries:
        - file:
            path: ../src/first.py
        - notebook:
            path: ${workspace.file_path}/src/notes
        - glob:
            include: ${workspace.file_path}/src/more/**
    refunds:
      name: refunds
      schema: ${var.schema}
      libraries:
        - glob:
            include: ../src/more/**
"""


def write_bundle(root: Path, bundle: str = BUNDLE, pipelines: str = PIPELINE_YML) -> Path:
    (root / "resources").mkdir(parents=True)
    (root / "src" / "more").mkdir(parents=True)
    (root / "databricks.yml").write_text(textwrap.dedent(bundle))
    (root / "resources" / "shop.pipeline.yml").write_text(textwrap.dedent(pipelines))
    return root


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "shop")


@pytest.mark.unit
def test_the_default_target_resolves_variables_references_and_local_paths(bundle_dir: Path) -> None:
    settings = bundle_pipeline_settings(bundle_dir, pipeline="orders")
    assert (settings.name, settings.catalog, settings.schema) == ("orders_dev", "dev_cat", "sales")
    assert dict(settings.configuration) == {
        "shop.landing": "/Volumes/dev_cat/sales/raw/in",
        "shop.target": "dev",
    }
    assert settings.development is True  # mode: development
    src = bundle_dir / "src"
    assert settings.root_path == str(src)  # relative to resources/shop.pipeline.yml
    assert [(lib.kind, lib.path) for lib in settings.libraries] == [
        ("file", str(src / "first.py")),
        ("notebook", str(src / "notes")),
        ("glob", f"{src}/more/**"),
    ]


@pytest.mark.unit
def test_target_overrides_merge_maps_append_libraries_and_join_clusters_by_label(bundle_dir: Path) -> None:
    resolved = resolve_bundle(load_bundle(bundle_dir), "prod")
    orders = resolved.pipelines["orders"]
    assert orders["clusters"] == [
        {"label": "default", "num_workers": 4, "autoscale": {"min_workers": 2, "max_workers": 4}}
    ]
    assert orders["configuration"]["shop.extra"] == "only-in-prod"
    assert orders["libraries"][-1] == {
        "file": {"path": "/Workspace/Shared/.bundle/shop/prod/files/src/prod_only.py"}
    }
    settings = bundle_pipeline_settings(bundle_dir, "prod", "orders")
    assert (settings.name, settings.catalog, settings.development) == ("orders_prod", "prod_cat", False)
    assert settings.configuration["shop.landing"] == "/Volumes/prod_cat/sales/raw/in"
    assert settings.libraries[-1].path == str(bundle_dir / "src" / "prod_only.py")


@pytest.mark.unit
def test_variables_take_var_options_then_environment_then_target_then_default(
    bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = load_bundle(bundle_dir)
    assert resolve_bundle(document, "prod").variables["catalog"] == "prod_cat"
    monkeypatch.setenv("BUNDLE_VAR_catalog", "env_cat")
    assert resolve_bundle(document, "prod").variables["catalog"] == "env_cat"
    resolved = resolve_bundle(document, "prod", {"catalog": "cli_cat", "schema": "s2"})
    assert resolved.variables["catalog"] == "cli_cat"
    assert resolved.variables["landing"] == "/Volumes/cli_cat/s2/raw/in"  # a variable using variables
    assert resolved.variables["tags"] == {"team": "data"}  # a complex value keeps its type
    assert resolved.variables["workers"] == 4  # a number stays a number


@pytest.mark.unit
def test_var_options_parse_like_the_databricks_cli() -> None:
    assert parse_var_options(["a=1", "b=x=y", "c=1,d=2"]) == {"a": "1", "b": "x=y", "c": "1", "d": "2"}
    with pytest.raises(BundleError) as info:
        parse_var_options(["nonsense"])
    assert info.value.key == "nonsense"


@pytest.mark.unit
def test_an_undeclared_var_and_an_unknown_reference_are_named(bundle_dir: Path) -> None:
    with pytest.raises(BundleError) as info:
        resolve_bundle(load_bundle(bundle_dir), "dev", {"catalgo": "x"})
    assert (info.value.path, info.value.key) == ("--var", "catalgo")
    text = PIPELINE_YML.replace("${var.schema}\n      root_path", "${var.shema}\n      root_path")
    broken = write_bundle(bundle_dir.parent / "broken", pipelines=text)
    with pytest.raises(BundleError) as info:
        bundle_pipeline_settings(broken, pipeline="orders")
    assert info.value.key == "resources.pipelines.orders.schema"
    assert "${var.shema}" in info.value.reason


@pytest.mark.unit
def test_an_unknown_target_or_pipeline_lists_the_ones_that_exist(bundle_dir: Path) -> None:
    with pytest.raises(UnknownBundleTargetError) as target:
        bundle_pipeline_settings(bundle_dir, "qa", "orders")
    assert (target.value.target, target.value.available) == ("qa", ("dev", "prod"))
    with pytest.raises(UnknownBundlePipelineError) as pipeline:
        bundle_pipeline_settings(bundle_dir, "dev", "order")
    assert (pipeline.value.pipeline, pipeline.value.available) == ("order", ("orders", "refunds"))
    with pytest.raises(UnknownBundlePipelineError) as several:
        bundle_pipeline_settings(bundle_dir, "dev")  # two pipelines: --pipeline is needed
    assert several.value.pipeline is None and several.value.available == ("orders", "refunds")


@pytest.mark.unit
def test_features_with_no_local_meaning_are_warned_once_by_name(tmp_path: Path) -> None:
    bundle = (
        BUNDLE
        + "\npermissions:\n  - level: CAN_VIEW\n    group_name: analysts\nrun_as:\n  user_name: bot@x\n"
    )
    pipelines = PIPELINE_YML.replace(
        "      clusters:\n        - label: default\n          num_workers: ${var.workers}\n",
        "      clusters:\n        - label: default\n          policy_id: ABC123\n          num_workers: 1\n"
        "      permissions:\n        - level: CAN_MANAGE\n          user_name: me@x\n",
    )
    pipelines = pipelines.replace(
        "        - glob:\n            include: ${workspace.file_path}/src/more/**\n    refunds",
        "        - glob:\n            include: ${workspace.file_path}/src/more/**\n"
        "        - jar: ${workspace.file_path}/lib/udfs.jar\n"
        "        - maven:\n            coordinates: org.example:geo:1.0\n    refunds",
    )
    settings = bundle_pipeline_settings(write_bundle(tmp_path / "b", bundle, pipelines), pipeline="orders")
    named = {w.split(" is ")[0].split(" (")[0] for w in settings.warnings}
    assert {
        "bundle setting 'permissions'",
        "bundle setting 'run_as'",
        "pipeline setting 'permissions'",
        "cluster policy 'ABC123'",
        "setting 'clusters'",
        f"libraries[3] {str(tmp_path / 'b' / 'lib' / 'udfs.jar')!r}",
        "libraries[4] maven 'org.example:geo:1.0'",
    } == named
    assert len(settings.warnings) == len(set(settings.warnings))
    assert [lib.kind for lib in settings.libraries] == ["file", "notebook", "glob"]  # jar/maven not run


@pytest.mark.unit
def test_the_cli_reports_an_unknown_target_with_the_existing_ones(
    bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["path", "/Volumes/c/s/v", "--state", str(tmp_path / "st"), "--bundle", str(bundle_dir)]
    assert main([*args, "--target", "qa", "--pipeline", "orders"]) == 1
    assert "has no target 'qa'; its targets: dev, prod" in capsys.readouterr().err
    assert main([*args, "--target", "prod", "--pipeline", "orders"]) == 0
    assert (
        main(["path", "/Volumes/c/s/v", "--state", str(tmp_path), "--settings", "x.json", "--var", "a=1"])
        == 1
    )
    assert "--var only apply with --bundle" in capsys.readouterr().err


@pytest.mark.unit
def test_the_bundle_in_the_current_directory_is_used_when_no_option_is_given(
    bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from harness.cli.bundle_options import add_pipeline_options, pipeline_from_args

    parser = argparse.ArgumentParser()
    add_pipeline_options(parser)
    monkeypatch.chdir(bundle_dir)
    root, settings = pipeline_from_args(parser.parse_args(["--pipeline", "refunds", "--var", "schema=s9"]))
    assert (settings.name, settings.schema, root) == ("refunds", "s9", bundle_dir)


MIXED = {
    "first.py": """
        import dlt

        @dlt.table
        def numbers():
            return spark.range(5)
    """,
    "notes.py": """
        # Databricks notebook source
        import dlt
        from helpers import double

        @dlt.table
        def doubled():
            return double(spark.read.table("numbers"))
    """,
    "helpers.py": """
        def double(df):
            return df.selectExpr("id * 2 AS id")
    """,
    "more/evens.py": """
        import dlt

        @dlt.table
        def evens():
            landing = spark.conf.get("shop.target")
            return spark.read.table("doubled").where("id % 4 = 0").selectExpr("id", f"'{landing}' AS target")
    """,
}


@pytest.mark.spark
def test_a_pipeline_with_file_notebook_and_glob_libraries_runs_from_its_bundle(
    dlt_pipeline: Any, tmp_path: Path
) -> None:
    root = write_bundle(tmp_path / "mixed")
    for name, code in MIXED.items():
        (root / "src" / name).write_text(textwrap.dedent(code))
    pipeline = dlt_pipeline(bundle=root, target="dev", pipeline="orders", variables={"schema": "mixed"})
    result = pipeline.run()
    assert result.status == "COMPLETED", result.error
    assert sorted(result.flows) == ["doubled", "evens", "numbers"]
    assert sorted((r.id, r.target) for r in pipeline.table("evens").collect()) == [
        (0, "dev"),
        (4, "dev"),
        (8, "dev"),
    ]
