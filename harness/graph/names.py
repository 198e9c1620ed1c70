"""Dataset names as pipeline code writes them → graph keys and local table names.

A pipeline may refer to its own datasets as ``x``, ``LIVE.x``, ``schema.x`` or
``catalog.schema.x``; all are the graph key ``x`` (lower case, as Spark identifiers are
case-insensitive). Any other multi-part name is an external table, mapped onto the local
database ``<catalog>__<schema>`` (see harness.settings.naming).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.settings.naming import local_database, split_name


@dataclass(frozen=True)
class PipelineNames:
    catalog: str | None
    schema: str

    @property
    def database(self) -> str:
        return local_database(self.catalog, self.schema)

    def internal_key(self, name: str) -> str | None:
        """The bare key when `name` addresses this pipeline's schema (or LIVE), else None."""
        parts = [p.lower() for p in split_name(name)]
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2 and parts[0] in ("live", self.schema.lower(), self.database):
            return parts[1]
        if (
            len(parts) == 3
            and self.catalog
            and parts[0] == self.catalog.lower()
            and parts[1] == self.schema.lower()
        ):
            return parts[2]
        return None

    def local_table(self, name: str) -> tuple[str, str]:
        """(database, table) of the local stand-in for a one-, two- or three-part name."""
        parts = split_name(name)
        if len(parts) == 1:
            return self.database, parts[0]
        if len(parts) == 2:
            return parts[0].lower(), parts[1]
        return local_database(parts[0], parts[1]), parts[2]

    def rewrite_sql(self, query: str) -> str:
        """Map ``LIVE.x`` and ``<catalog>.<schema>.x`` onto local names in a SQL text."""
        query = re.sub(r"(?i)(?<![\w.`])LIVE\.", f"{self.database}.", query)
        if self.catalog:
            pattern = rf"(?i)(?<![\w.`])`?{re.escape(self.catalog)}`?\.`?{re.escape(self.schema)}`?\."
            query = re.sub(pattern, f"{self.database}.", query)
        return query

    def _reference(self, key: str) -> re.Pattern[str]:
        """``LIVE.key``, ``schema.key``, ``<database>.key`` or ``catalog.schema.key`` in a SQL text."""
        q = "`?"
        prefixes = [f"{q}live{q}", f"{q}{re.escape(self.schema)}{q}", f"{q}{re.escape(self.database)}{q}"]
        if self.catalog:
            prefixes.append(f"{q}{re.escape(self.catalog)}{q}\\.{q}{re.escape(self.schema)}{q}")
        return re.compile(rf"(?i)(?<![\w.`])(?:{'|'.join(prefixes)})\.{q}{re.escape(key)}{q}(?![\w`])")

    def sql_references(self, query: str, keys: Iterable[str]) -> list[str]:
        """The pipeline datasets (keys) a SQL text reads through a qualified or ``LIVE.`` name."""
        return sorted(key for key in keys if self._reference(key).search(query))

    def bind_sql(self, query: str, bindings: Mapping[str, str]) -> str:
        """Point each referenced dataset at the temporary view standing for it, then map other names.

        Datasets are bound to views because a SQL text may read a pipeline view, a private table or a
        table that does not exist yet (analysis runs before the first write), none of which is in the
        metastore.
        """
        for key, view in bindings.items():
            query = self._reference(key).sub(f"`{view}`", query)
        return self.rewrite_sql(query)
