"""Local DLT harness: run unchanged Databricks DLT / Lakeflow pipeline modules on local Spark + Delta.

Rooms, following the data: `shim` (the `dlt` API) → `graph` (datasets and their order) →
`runtime` (triggered updates, expectations, event log) with emulated Databricks services
(`autoloader`, `cdc`, `volumes`, `settings`) → `postgres` (monitoring database) → `cli`.
"""

__all__: list[str] = []
