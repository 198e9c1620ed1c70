"""Databricks' JSON path operator on STRING columns (`col:a.b[0]`) -> `get_json_object`.

Databricks SQL extracts from a JSON string with ``expr:path``: fields by name (``:a.b``, also
``:a:b``), by quoted name (``['a b']``, `` `a b` ``), array elements (``[0]``, ``[*]``); the
result is a STRING (JSON text for objects and arrays), and ``::type`` casts it. Open-source Spark
4.1 accepts ``:`` only on VARIANT, so such queries fail locally with an internal error. This
rewrite turns each one into ``get_json_object(expr, '$.a.b[0]')``, which returns the same STRING;
``::type`` is Spark's own cast and is left as written. Only a column reference (optionally
qualified or backticked) written directly before the ``:`` is taken as the JSON expression, so
``STRUCT<a:INT>``, ``::`` casts and ``:param`` markers are never touched.

Known difference (docs/semantics.md): Databricks matches field names given after ``.`` case-
insensitively; `get_json_object` matches them exactly. The event log's keys are lower case.
"""

from __future__ import annotations

import re

from harness.query.lexer import code_mask

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BASE = re.compile(r"(?:(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)\.)*(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)$")
_TYPE_OPENERS = re.compile(r"(?i)\b(?:STRUCT|ARRAY|MAP)\s*$")


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _parse_path(query: str, start: int) -> tuple[str, int] | None:
    """The JSONPath (without `$`) for the Databricks path at `start`, and where it ends."""
    path, i, n = "", start, len(query)
    first = True
    while i < n:
        separator = 0 if first else (1 if query[i] in ".:" else 0)
        j = i + separator
        if not first and separator == 0 and query[i] != "[":
            break
        if j < n and query[j] == "`":
            end = query.find("`", j + 1)
            if end < 0:
                return None
            path += f"['{query[j + 1 : end]}']"
            i = end + 1
        elif j < n and query[j] == "[":
            end = query.find("]", j + 1)
            if end < 0:
                return None
            inner = query[j + 1 : end].strip()
            if inner == "*" or inner.isdigit():
                path += f"[{inner}]"
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                path += f"['{inner[1:-1]}']"
            else:
                return None
            i = end + 1
        else:
            match = _IDENT.match(query, j)
            if match is None:
                break
            path += "." + match.group(0)
            i = match.end()
        first = False
    return (path, i) if path else None


def rewrite_json_paths(query: str) -> str:
    """`query` with every ``column:path`` JSON extraction written as `get_json_object`."""
    mask = code_mask(query)
    out: list[str] = []
    cursor = 0
    angle_depth = 0
    i = 0
    while i < len(query):
        char = query[i]
        if not mask[i]:
            i += 1
            continue
        if char == "<" and _TYPE_OPENERS.search(query, 0, i):
            angle_depth += 1
        elif char == ">" and angle_depth:
            angle_depth -= 1
        elif char == ":" and not angle_depth:
            if query.startswith("::", i):
                i += 2
                continue
            base = _BASE.search(query, cursor, i)
            parsed = _parse_path(query, i + 1)
            if base is not None and parsed is not None and base.end() == i:
                path, end = parsed
                out.append(query[cursor : base.start()])
                out.append(f"get_json_object({base.group(0)}, {_sql_string('$' + path)})")
                cursor = i = end
                continue
        i += 1
    out.append(query[cursor:])
    return "".join(out)
