"""What the layer modules read from the pipeline configuration (``spark.conf``), and under which keys.

Values reach the pipeline's source files the way Databricks passes them: the config manager
(`pipeline.utils.config_manager.pipeline_configuration`) writes an environment config's values into
the pipeline settings' ``configuration`` map under `CONF_FIELDS`' keys, and the modules read them
back with ``spark.conf.get`` through `RuntimeConfig.from_spark_conf`.

Imported by the layer modules as ``utils.runtime_config`` from the pipeline's root path, so it imports
nothing from the ``pipeline`` package (only its sibling ``errors``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

__all__ = ["CONF_FIELDS", "CONF_PREFIX", "RuntimeConfig"]

#: Prefix of the pipeline ``configuration`` keys (``spark.conf.get("ecommerce.landing_orders")``).
CONF_PREFIX = "ecommerce."
#: configuration key (after the prefix) -> where its value sits in an environment config file
CONF_FIELDS: dict[str, tuple[str, ...]] = {
    "environment": ("environment",),
    "catalog": ("catalog",),
    "schema": ("schema",),
    "landing_orders": ("paths", "landing_orders"),
    "landing_customers": ("paths", "landing_customers"),
    "schema_location": ("paths", "schemas"),
    "max_files_per_trigger": ("ingestion", "max_files_per_trigger"),
    "schema_evolution_mode": ("ingestion", "schema_evolution_mode"),
}


@dataclass(frozen=True)
class RuntimeConfig:
    """What the layer modules need, read from the pipeline configuration (``spark.conf``)."""

    environment: str
    catalog: str
    schema: str
    landing_orders: str
    landing_customers: str
    schema_location: str
    max_files_per_trigger: int
    schema_evolution_mode: str

    @classmethod
    def from_spark_conf(cls, spark: Any) -> RuntimeConfig:
        """Read every key; a missing one raises `ConfigError` naming the configuration key."""
        values: dict[str, Any] = {}
        for field_name in CONF_FIELDS:
            key = CONF_PREFIX + field_name
            value = spark.conf.get(key, None)
            if value is None:
                raise ConfigError(
                    key, None, "missing from the pipeline configuration (settings 'configuration')"
                )
            values[field_name] = value
        try:
            values["max_files_per_trigger"] = int(values["max_files_per_trigger"])
        except ValueError:
            raise ConfigError(
                CONF_PREFIX + "max_files_per_trigger",
                values["max_files_per_trigger"],
                "expected an integer",
                expected="an integer",
            ) from None
        return cls(**values)

    def schema_location_for(self, source: str) -> str:
        """Auto Loader schema location of one source (``.../orders/schemas/<source>``)."""
        return f"{self.schema_location.rstrip('/')}/{source}"
