"""Which tables an update refreshes and which it resets (pure; unit-tested without Spark).

Databricks' update options: a default update refreshes every table; ``refresh_selection`` refreshes
only the named tables; ``full_refresh`` resets every streaming table (truncate + new checkpoints)
except those with ``pipelines.reset.allowed=false``, which are skipped; ``full_refresh_selection``
resets the named tables and fails on a non-resettable one (``TABLE_NOT_RESETTABLE``).
Materialized views are recomputed whenever they run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.errors import RefreshSelectionError, TableNotResettableError

RESET_ALLOWED_PROPERTY = "pipelines.reset.allowed"


@dataclass(frozen=True)
class RefreshRequest:
    full_refresh: bool = False
    refresh_selection: tuple[str, ...] = ()
    full_refresh_selection: tuple[str, ...] = ()

    @property
    def is_selective(self) -> bool:
        return bool(self.refresh_selection or self.full_refresh_selection)


@dataclass(frozen=True)
class RefreshPlan:
    run: frozenset[str]  # dataset keys whose flows run
    reset: frozenset[str]  # streaming tables to truncate, with their checkpoints removed
    not_resettable: frozenset[str]  # skipped by a full refresh of everything


def reset_allowed(properties: Mapping[str, str]) -> bool:
    return str(properties.get(RESET_ALLOWED_PROPERTY, "true")).strip().lower() != "false"


def plan_refresh(
    datasets: Iterable[str],
    streaming_tables: Iterable[str],
    resettable: Mapping[str, bool],
    request: RefreshRequest,
) -> RefreshPlan:
    """Dataset keys are lower-case names; selections may use any case."""
    keys = set(datasets)
    streaming = set(streaming_tables)
    if request.full_refresh and request.is_selective:
        raise RefreshSelectionError("full refresh of all tables cannot be combined with a selection")
    selected_refresh = {name.lower() for name in request.refresh_selection}
    selected_reset = {name.lower() for name in request.full_refresh_selection}
    unknown = sorted((selected_refresh | selected_reset) - keys)
    if unknown:
        raise RefreshSelectionError(f"unknown tables {', '.join(unknown)}", unknown)
    if request.full_refresh:
        blocked = {k for k in streaming if not resettable.get(k, True)}
        return RefreshPlan(frozenset(keys), frozenset(streaming - blocked), frozenset(blocked))
    if request.is_selective:
        for key in sorted(selected_reset):
            if not resettable.get(key, True):
                raise TableNotResettableError(key)
        return RefreshPlan(
            frozenset(selected_refresh | selected_reset), frozenset(selected_reset & streaming), frozenset()
        )
    return RefreshPlan(frozenset(keys), frozenset(), frozenset())
