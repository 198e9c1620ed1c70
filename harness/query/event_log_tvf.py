"""Databricks' `event_log()` table-valued function -> the local event-log view.

Databricks reads a pipeline's event log with ``event_log('<pipeline-id>')`` or
``event_log(TABLE(catalog.schema.table))`` (the pipeline that owns the table). Open-source Spark
has no such function, so each call is replaced by the name of a view over the local event log;
the caller decides which pipeline an id or a table stands for (and raises when none does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import QuerySyntaxError
from harness.query.lexer import code_mask

_CALL = re.compile(r"(?i)(?<![\w.`])event_log\s*\(")
_TABLE_ARG = re.compile(r"(?is)^TABLE\s*\(\s*(.+?)\s*\)$")


@dataclass(frozen=True)
class EventLogReference:
    """What an `event_log(...)` call names: a pipeline id (or name), or a table of the pipeline."""

    pipeline_id: str | None = None
    table: str | None = None


def _closing_paren(query: str, open_index: int, mask: list[bool]) -> int:
    depth = 0
    for k in range(open_index, len(query)):
        if not mask[k]:
            continue
        if query[k] == "(":
            depth += 1
        elif query[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    raise QuerySyntaxError(query, open_index, "event_log( has no closing parenthesis")


def _reference(argument: str, query: str, position: int) -> EventLogReference:
    argument = argument.strip()
    if len(argument) >= 2 and argument[0] == argument[-1] and argument[0] in "'\"":
        return EventLogReference(pipeline_id=argument[1:-1])
    table = _TABLE_ARG.match(argument)
    if table:
        return EventLogReference(table=table.group(1).strip())
    raise QuerySyntaxError(
        query, position, f"event_log({argument}) takes a pipeline id in quotes or TABLE(<table name>)"
    )


def rewrite_event_log_calls(query: str, view_for: Callable[[EventLogReference], str]) -> str:
    """`query` with each `event_log(...)` call replaced by `view_for(reference)`."""
    mask = code_mask(query)
    out: list[str] = []
    cursor = 0
    for match in _CALL.finditer(query):
        if match.start() < cursor or not mask[match.start()]:
            continue
        open_index = match.end() - 1
        close_index = _closing_paren(query, open_index, mask)
        reference = _reference(query[open_index + 1 : close_index], query, match.start())
        out.append(query[cursor : match.start()])
        out.append(view_for(reference))
        cursor = close_index + 1
    out.append(query[cursor:])
    return "".join(out)
