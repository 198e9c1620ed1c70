"""Environment configs: schema validation with named keys, env differences, Spark conf hand-over."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.utils.config_manager import (
    CONF_PREFIX,
    ENVIRONMENTS,
    ConfigError,
    RuntimeConfig,
    config_differences,
    config_from_mapping,
    load_config,
    pipeline_configuration,
)

pytestmark = pytest.mark.unit


def raw(env: str = "dev") -> dict[str, Any]:
    return load_config(env).as_dict()


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_loads_and_is_frozen(env: str) -> None:
    config = load_config(env)
    assert config.environment == env
    assert config.catalog == f"retail_{env}"
    assert config.paths["landing_orders"] == f"/Volumes/retail_{env}/ecommerce/raw/orders/landing/orders"
    with pytest.raises(TypeError):
        config.section("export")["port"] = 1  # type: ignore[index]


def test_dev_and_prod_values_the_issue_names() -> None:
    dev, prod = load_config("dev"), load_config("prod")
    assert (dev.catalog, dev.schema, dev.volume) == ("retail_dev", "ecommerce", "raw")
    assert dev.paths["manifests"] == "/Volumes/retail_dev/ecommerce/raw/orders/manifests"
    assert dev.section("export")["sslmode"] == "disable"
    assert prod.section("export")["sslmode"] == "require"
    assert dev.section("export")["schema"] == "pipeline_monitoring"


def test_missing_key_is_named() -> None:
    data = raw()
    del data["export"]["port"]
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data, "x.json")
    assert (info.value.key, info.value.source) == ("export.port", "x.json")
    assert "missing" in info.value.reason


def test_wrong_type_is_named() -> None:
    data = raw()
    data["export"]["port"] = "5432"
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "export.port"
    data = raw()
    data["export"]["enabled"] = 1
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "export.enabled"


def test_unknown_key_and_out_of_range_rate_are_named() -> None:
    data = raw()
    data["sla"]["freshnes_minutes"] = {}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "sla.freshnes_minutes"
    data = raw()
    data["quality"]["min_pass_rate"]["has_items"] = 1.5
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "quality.min_pass_rate.has_items"


def test_unknown_environment() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("qa")
    assert info.value.key == "environment"
    data = raw()
    data["environment"] = "qa"
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "environment"


def test_file_of_another_environment_and_paths_outside_the_volume(tmp_path: Path) -> None:
    (tmp_path / "staging_config.json").write_text(json.dumps(raw("dev")), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config("staging", tmp_path)
    assert info.value.key == "environment"
    data = raw()
    data["paths"]["manifests"] = "/Volumes/retail_prod/ecommerce/raw/orders/manifests"
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "paths.manifests"


def test_configs_differ_only_in_environment_specific_values() -> None:
    configs = [load_config(env) for env in ENVIRONMENTS]
    for a in configs:
        for b in configs:
            assert config_differences(a, b) == []


def test_a_rule_threshold_changed_in_one_environment_is_reported() -> None:
    data = raw("prod")
    data["quality"]["min_pass_rate"]["has_items"] = 0.5
    data["ingestion"]["max_files_per_trigger"] = 10
    changed = config_from_mapping(data)
    problems = config_differences(load_config("dev"), changed)
    assert [p.split(":")[0] for p in problems] == [
        "ingestion.max_files_per_trigger",
        "quality.min_pass_rate.has_items",
    ]


def test_sections_other_modules_read_accept_the_configs() -> None:
    """pipeline.metrics and pipeline.monitoring parse their sections of the same files strictly."""
    from pipeline.metrics.config import parse_metrics_config
    from pipeline.monitoring.alerts import AlertSettings
    from pipeline.monitoring.notifications import NotificationSettings

    for env in ENVIRONMENTS:
        data = raw(env)
        metrics = parse_metrics_config(data)
        assert metrics.export.schema == "pipeline_monitoring"
        assert metrics.sla.freshness_minutes["gold_kpis"] > 0
        alerts = AlertSettings.from_config(data)
        assert alerts.min_pass_rate["record_parseable"] == 0.99
        assert NotificationSettings.from_config(data["alerts"]).email is not None


class FakeConf:
    """The two-argument ``spark.conf.get`` of a SparkSession, over a dict (no JVM needed)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


class FakeSpark:
    def __init__(self, values: dict[str, str]) -> None:
        self.conf = FakeConf(values)


def test_pipeline_configuration_round_trips_through_spark_conf() -> None:
    conf = pipeline_configuration(load_config("staging"))
    assert all(k.startswith(CONF_PREFIX) and isinstance(v, str) for k, v in conf.items())
    runtime = RuntimeConfig.from_spark_conf(FakeSpark(conf))
    assert runtime.environment == "staging"
    assert runtime.max_files_per_trigger == 1000
    assert (
        runtime.schema_location_for("bronze_orders")
        == "/Volumes/retail_staging/ecommerce/raw/orders/schemas/bronze_orders"
    )


def test_runtime_config_names_a_missing_configuration_key() -> None:
    conf = copy.deepcopy(pipeline_configuration(load_config("dev")))
    del conf[CONF_PREFIX + "landing_orders"]
    with pytest.raises(ConfigError) as info:
        RuntimeConfig.from_spark_conf(FakeSpark(conf))
    assert info.value.key == "ecommerce.landing_orders"


def test_alert_keys_the_monitoring_code_reads_are_accepted_and_typed() -> None:
    """alerts.* windows and the SMTP login: the validator, AlertSettings and NotificationSettings agree."""
    from pipeline.metrics.config import parse_metrics_config

    prod = raw("prod")
    assert prod["alerts"]["email"]["starttls"] is True
    monitoring = parse_metrics_config(prod).monitoring
    assert (monitoring.rules.baseline_runs, monitoring.rules.min_baseline_runs) == (10, 3)
    assert (monitoring.rules.anomaly_window_days, monitoring.rules.min_anomaly_history_days) == (28, 7)
    email = monitoring.notifications.email
    assert (email.username, email.password_env, email.starttls) == (
        "pipeline-alerts-prod",
        "RETAIL_PROD_SMTP_PASSWORD",
        True,
    )
    dev = raw("dev")
    for key in ("baseline_runs", "min_baseline_runs", "anomaly_window_days", "min_anomaly_history_days"):
        del dev["alerts"][key]  # optional: the rules' defaults apply
    assert parse_metrics_config(dev).monitoring.rules.baseline_runs == 10
    config_from_mapping(dev)


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("alerts", "baseline_runs"), 2.5, "alerts.baseline_runs"),
        (("alerts", "baseline_runs"), True, "alerts.baseline_runs"),
        (("alerts", "min_anomaly_history_days"), 0, "alerts.min_anomaly_history_days"),
        (("alerts", "min_baseline_runs"), 11, "alerts.min_baseline_runs"),  # > baseline_runs (10)
        (("alerts", "anomaly_window_days"), 5, "alerts.min_anomaly_history_days"),  # 7 > 5
        (("alerts", "email", "starttls"), "yes", "alerts.email.starttls"),
        (("alerts", "email", "username"), 7, "alerts.email.username"),
        (("alerts", "email", "password"), "hunter2", "alerts.email.password"),  # secrets never in a file
        (("alerts", "performance_degradation_factor"), 1.0, "alerts.performance_degradation_factor"),
    ],
)
def test_bad_alert_values_are_refused_by_validator_and_monitoring_alike(
    path: tuple[str, ...], value: Any, key: str
) -> None:
    from pipeline.metrics.config import parse_metrics_config

    data = raw("prod")
    section = data
    for part in path[:-1]:
        section = section[part]
    section[path[-1]] = value
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == key
    with pytest.raises(ConfigError) as parsed:
        parse_metrics_config(data)
    assert parsed.value.key == key


def test_smtp_login_needs_the_password_variable() -> None:
    data = raw("prod")
    del data["alerts"]["email"]["password_env"]
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "alerts.email.password_env"


def test_optional_metrics_keys_are_accepted() -> None:
    data = raw("dev")
    data["export"] |= {"batch_updates": 5, "retry": {"max_attempts": 2}, "staging_schema": "main.ops"}
    data["export"]["dead_letter_dir"] = "/Volumes/retail_dev/ecommerce/raw/dead_letters"
    data["cost"]["cores"] = 8
    data["sla"]["event_time_columns"] = {"silver_orders": "event_time"}
    config_from_mapping(data)
    data["sla"]["event_time_columns"] = {"silver_orders": 3}
    with pytest.raises(ConfigError) as info:
        config_from_mapping(data)
    assert info.value.key == "sla.event_time_columns.silver_orders"


def test_one_model_the_config_manager_and_the_metrics_export_read_alike() -> None:
    """The config manager's typed sections are what `parse_metrics_config` builds from the same file."""
    from pipeline.metrics.config import parse_metrics_config

    for env in ENVIRONMENTS:
        config = load_config(env)
        assert config.metrics == parse_metrics_config(raw(env))
        assert config.metrics.monitoring is not None
        assert config.ingestion.max_files_per_trigger == 1000


def test_an_error_names_the_environment_the_key_and_the_expected_type(tmp_path: Path) -> None:
    from pipeline.metrics.config import load_metrics_config

    data = raw("staging")
    data["export"]["port"] = "5432"
    file = tmp_path / "staging_config.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError) as full:
        load_config("staging", tmp_path)
    with pytest.raises(ConfigError) as sections:
        load_metrics_config(file)
    for error in (full.value, sections.value):
        assert (error.environment, error.key, error.value, error.expected) == (
            "staging",
            "export.port",
            "5432",
            "an integer",
        )
        assert error.source == str(file)
        assert "staging" in str(error) and "export.port" in str(error)
