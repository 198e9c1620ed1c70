"""Bronze: raw order events and customer changes from the landing volume, via Auto Loader.

Paths and options come from the pipeline configuration (``ecommerce.*`` keys, see
utils/runtime_config.py); the reads and metadata columns are in utils/bronze.py.
"""

import dlt
from utils.bronze import (
    CUSTOMER_SCHEMA_HINTS,
    ORDER_SCHEMA_HINTS,
    auto_loader_options,
    read_landing,
    with_ingestion_metadata,
)
from utils.runtime_config import RuntimeConfig

config = RuntimeConfig.from_spark_conf(spark)


def _options(source: str, hints: str) -> dict[str, str]:
    return auto_loader_options(
        config.schema_location_for(source),
        hints,
        evolution_mode=config.schema_evolution_mode,
        max_files_per_trigger=config.max_files_per_trigger,
    )


@dlt.table(
    name="bronze_orders",
    comment="Order events as delivered (JSON leaves as strings), with ingestion metadata.",
    table_properties={"quality": "bronze"},
)
def bronze_orders():
    return with_ingestion_metadata(
        read_landing(spark, config.landing_orders, _options("bronze_orders", ORDER_SCHEMA_HINTS))
    )


@dlt.table(
    name="bronze_customers",
    comment="Customer change feed as delivered, with ingestion metadata.",
    table_properties={"quality": "bronze"},
)
def bronze_customers():
    return with_ingestion_metadata(
        read_landing(spark, config.landing_customers, _options("bronze_customers", CUSTOMER_SCHEMA_HINTS))
    )
