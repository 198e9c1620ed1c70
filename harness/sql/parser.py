"""Parse the header of each DLT SQL statement into a record; keep the query body verbatim.

Only what Databricks' pipeline dialect adds is parsed here: the CREATE forms (tables, views,
flows, AUTO CDC), column lists with expectations, table clauses, APPLY CHANGES, SET and USE.
The query after ``AS`` is kept as written; `harness.sql.rewrite` rewrites its dataset reads and
file sources, and Spark SQL parses the rest. Anything else is refused by name (never ignored).
"""

from __future__ import annotations

from harness.errors import SqlUnsupportedError
from harness.shim.records import Expectation, ExpectationAction, SourceLocation
from harness.sql.cursor import Cursor
from harness.sql.split import Statement
from harness.sql.statements import (
    Body,
    ChangeFlow,
    Column,
    CreateDataset,
    CreateFlow,
    SetConf,
    SqlDatasetKind,
    SqlStatement,
    Use,
)
from harness.sql.tokens import Kind, Token

_CREATE_MODIFIERS = ("PRIVATE", "TEMPORARY", "STREAMING", "INCREMENTAL", "LIVE", "MATERIALIZED")
_COLUMN_KEYWORDS = ("NOT", "COMMENT", "GENERATED", "MASK", "DEFAULT", "PRIMARY", "CONSTRAINT", "COLLATE")
_CDC_CLAUSES: tuple[tuple[str, ...], ...] = (
    ("KEYS",),
    ("WHERE",),
    ("IGNORE", "NULL", "UPDATES"),
    ("APPLY", "AS", "DELETE", "WHEN"),
    ("APPLY", "AS", "TRUNCATE", "WHEN"),
    ("SEQUENCE", "BY"),
    ("COLUMNS",),
    ("STORED", "AS"),
    ("TRACK", "HISTORY", "ON"),
)
#: Statements Databricks' pipeline dialect does not have; refused by name with the reason.
_REFUSED_CREATES = {
    "SINK": "sinks exist only in Python (dlt.create_sink / @dp.foreach_batch_sink); SQL has no CREATE SINK",
    "FUNCTION": "define functions and UDFs in a Python source file of the pipeline",
    "SCHEMA": "a pipeline does not create schemas from its sources; set catalog / schema in the settings",
    "DATABASE": "a pipeline does not create schemas from its sources; set catalog / schema in the settings",
    "CATALOG": "a pipeline does not create catalogs from its sources",
    "VOLUME": "volumes are not pipeline datasets; create the folder under the local volume instead",
}


def parse_statement(statement: Statement) -> SqlStatement | None:
    """The record for one statement, or None for a statement with no effect (`SET key` alone)."""
    cursor = Cursor(statement)
    if cursor.done:
        return None
    if cursor.accept("CREATE"):
        return _create(cursor)
    if cursor.accept("APPLY", "CHANGES", "INTO"):
        return _change_flow(cursor, None, once=False, spelling="APPLY CHANGES INTO")
    if cursor.accept("SET"):
        return _set(cursor)
    if cursor.accept("USE"):
        return _use(cursor)
    first = cursor.peek()
    assert first is not None
    words = " ".join(t.text.upper() for t in cursor.tokens[:2])
    raise SqlUnsupportedError(
        words,
        statement.path,
        statement.line,
        "a pipeline source holds only dataset and flow definitions (CREATE ... AS, CREATE FLOW, APPLY "
        "CHANGES INTO), SET and USE; run other statements outside the pipeline",
    )


def _location(cursor: Cursor) -> SourceLocation:
    return SourceLocation(cursor.statement.path, cursor.statement.line)


# --- CREATE ---------------------------------------------------------------------------------------


def _create(cursor: Cursor) -> SqlStatement:
    words = ["CREATE"]
    if cursor.accept("OR", "REFRESH"):
        words.append("OR REFRESH")
    elif cursor.accept("OR", "REPLACE"):
        words.append("OR REPLACE")
    if cursor.accept("FLOW"):
        return _flow(cursor)
    modifiers: list[str] = []
    while (token := cursor.peek()) is not None and token.is_word(*_CREATE_MODIFIERS):
        modifiers.append(token.upper)
        cursor.i += 1
    token = cursor.next("TABLE or VIEW")
    noun = token.upper
    if noun in _REFUSED_CREATES and not modifiers:
        raise SqlUnsupportedError(f"CREATE {noun}", cursor.statement.path, token.line, _REFUSED_CREATES[noun])
    if noun not in ("TABLE", "VIEW"):
        raise cursor.error(
            f"expected TABLE or VIEW after {' '.join([*words, *modifiers])}, found {token.text!r}", token
        )
    spelling = " ".join([*words, *modifiers, noun])
    kind = _dataset_kind(cursor, modifiers, noun, spelling, token)
    if cursor.accept("IF", "NOT", "EXISTS"):
        spelling += " IF NOT EXISTS"
    name = cursor.name("the dataset name")
    private = "PRIVATE" in modifiers or ("TEMPORARY" in modifiers and noun == "TABLE")
    fields: dict[str, object] = {}
    columns: list[Column] = []
    expectations: list[Expectation] = []
    constraints: list[str] = []
    if cursor.at_punct("("):
        for item in cursor.group("the column list"):
            _column_item(cursor, item, kind, columns, expectations, constraints)
    typed = {c.type is not None for c in columns}
    if len(typed) > 1:
        raise cursor.error("a column list gives either every column a type or none (names and comments only)")
    _clauses(cursor, kind, fields)
    query = None
    if cursor.accept("AS"):
        text, line = cursor.rest()
        query = Body(text, line)
    elif not cursor.done:
        found = cursor.peek()
        raise cursor.error(f"unexpected {found.text!r} in the header of {spelling}", found)  # type: ignore[union-attr]
    if query is None and kind is not SqlDatasetKind.STREAMING_TABLE:
        raise cursor.error(
            f"{spelling} needs AS <query> (only a streaming table may be declared without one)"
        )
    if kind is SqlDatasetKind.VIEW and expectations:
        raise cursor.error(
            "a persisted CREATE VIEW cannot have expectations; use CREATE TEMPORARY VIEW or a table"
        )
    names = {e.name for e in expectations}
    if len(names) != len(expectations):
        raise cursor.error("expectation names must be unique per dataset")
    return CreateDataset(
        kind=kind,
        name=name,
        spelling=spelling,
        location=_location(cursor),
        private=private,
        columns=tuple(columns),
        expectations=tuple(expectations),
        table_constraints=tuple(constraints),
        query=query,
        **fields,  # type: ignore[arg-type]
    )


def _dataset_kind(
    cursor: Cursor, modifiers: list[str], noun: str, spelling: str, token: Token
) -> SqlDatasetKind:
    mods = set(modifiers)
    if len(mods) != len(modifiers) or ("PRIVATE" in mods and "TEMPORARY" in mods):
        raise cursor.error(f"{spelling}: a modifier is repeated or contradicts another", token)
    if noun == "VIEW":
        if "MATERIALIZED" in mods:
            if mods - {"MATERIALIZED", "PRIVATE"}:
                raise cursor.error(f"{spelling}: a materialized view takes only PRIVATE", token)
            return SqlDatasetKind.MATERIALIZED_VIEW
        if mods & {"PRIVATE", "INCREMENTAL"} or ("STREAMING" in mods and "LIVE" not in mods):
            raise cursor.error(f"{spelling} is not a pipeline view form", token)
        if mods & {"TEMPORARY", "LIVE"}:
            return SqlDatasetKind.TEMPORARY_VIEW
        return SqlDatasetKind.VIEW
    if "MATERIALIZED" in mods:
        raise cursor.error(f"{spelling}: MATERIALIZED goes with VIEW", token)
    if mods & {"STREAMING", "INCREMENTAL"}:
        if {"STREAMING", "INCREMENTAL"} <= mods:
            raise cursor.error(f"{spelling}: STREAMING and INCREMENTAL are the same thing; write one", token)
        return SqlDatasetKind.STREAMING_TABLE
    if "LIVE" in mods:
        return SqlDatasetKind.MATERIALIZED_VIEW  # legacy CREATE LIVE TABLE: a materialized view
    raise SqlUnsupportedError(
        spelling,
        cursor.statement.path,
        token.line,
        "a pipeline creates STREAMING TABLEs, MATERIALIZED VIEWs and views; a plain CREATE TABLE is not a "
        "pipeline dataset",
    )


def _text(cursor: Cursor, tokens: list[Token]) -> str:
    return cursor.source(tokens[0], tokens[-1]) if tokens else ""


def _column_item(
    cursor: Cursor,
    item: list[Token],
    kind: SqlDatasetKind,
    columns: list[Column],
    expectations: list[Expectation],
    constraints: list[str],
) -> None:
    head = item[0]
    if head.is_word("CONSTRAINT") and len(item) > 2 and item[2].is_word("EXPECT"):
        expectations.append(_expectation(cursor, item))
        return
    if head.is_word("CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"):
        constraints.append(" ".join(_text(cursor, item).split()))
        return
    if head.kind not in (Kind.IDENT, Kind.QUOTED):
        raise cursor.error(f"expected a column name, found {head.text!r}", head)
    name, rest = head.name, item[1:]
    type_tokens: list[Token] = []
    while rest and not rest[0].is_word(*_COLUMN_KEYWORDS):
        type_tokens.append(rest.pop(0))
    column = Column(name, _text(cursor, type_tokens) or None)
    if kind in (SqlDatasetKind.TEMPORARY_VIEW, SqlDatasetKind.VIEW) and column.type:
        raise cursor.error(
            f"a view's column list takes names and comments, not types ({name} {column.type})", head
        )
    not_null, comment, generated = False, None, None
    while rest:
        token = rest.pop(0)
        if token.is_word("NOT") and rest and rest[0].is_word("NULL"):
            rest.pop(0)
            not_null = True
        elif token.is_word("COMMENT") and rest and rest[0].kind is Kind.STRING:
            comment = rest.pop(0).value
        elif token.is_word("GENERATED"):
            words = [t.upper for t in rest[:3]]
            if words[:3] == ["ALWAYS", "AS", "IDENTITY"] or words[:2] == ["BY", "DEFAULT"]:
                raise SqlUnsupportedError(
                    f"identity column {name}",
                    cursor.statement.path,
                    token.line,
                    "identity columns are not emulated; compute the value in the query instead",
                )
            if words[:2] != ["ALWAYS", "AS"] or len(rest) < 3 or not rest[2].is_punct("("):
                raise cursor.error(f"expected GENERATED ALWAYS AS (expression) for column {name}", token)
            del rest[:2]
            expression, rest = _parenthesised(cursor, rest, f"the generation expression of {name}")
            generated = expression
        elif token.is_word("PRIMARY") and rest and rest[0].is_word("KEY"):
            rest.pop(0)
            constraints.append(f"PRIMARY KEY ({name})")
        elif token.is_word("MASK"):
            raise SqlUnsupportedError(
                f"MASK on column {name}",
                cursor.statement.path,
                token.line,
                "column masks are Unity Catalog functions applied at read time; they are not emulated",
            )
        else:
            raise cursor.error(f"unexpected {token.text!r} in the definition of column {name}", token)
    columns.append(Column(name, column.type, not_null, comment, generated))


def _parenthesised(cursor: Cursor, tokens: list[Token], what: str) -> tuple[str, list[Token]]:
    """The text inside a leading `( ... )` of `tokens`, and the tokens after it."""
    depth = 0
    for index, token in enumerate(tokens):
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
            if depth == 0:
                inner = tokens[1:index]
                if not inner:
                    raise cursor.error(f"{what} is empty", token)
                return _text(cursor, inner), tokens[index + 1 :]
    raise cursor.error(f"{what} is missing its closing ')'", tokens[0] if tokens else None)


def _expectation(cursor: Cursor, item: list[Token]) -> Expectation:
    name_token = item[1]
    if name_token.kind not in (Kind.IDENT, Kind.QUOTED):
        raise cursor.error(
            f"expected the expectation's name after CONSTRAINT, found {name_token.text!r}", name_token
        )
    rest = item[3:]
    if not rest or not rest[0].is_punct("("):
        raise cursor.error(f"expected EXPECT (condition) for expectation {name_token.name}", item[2])
    condition, rest = _parenthesised(cursor, rest, f"the condition of expectation {name_token.name}")
    action = ExpectationAction.WARN
    words = [t.upper for t in rest]
    if words == ["ON", "VIOLATION", "DROP", "ROW"]:
        action = ExpectationAction.DROP
    elif words == ["ON", "VIOLATION", "FAIL", "UPDATE"]:
        action = ExpectationAction.FAIL
    elif words:
        raise cursor.error(
            f"expected ON VIOLATION DROP ROW or ON VIOLATION FAIL UPDATE after expectation {name_token.name}",
            rest[0],
        )
    return Expectation(name_token.name, " ".join(condition.split()), action)


def _clauses(cursor: Cursor, kind: SqlDatasetKind, fields: dict[str, object]) -> None:
    """COMMENT, USING, PARTITIONED BY, CLUSTER BY, TBLPROPERTIES, LOCATION, ROW FILTER, REFRESH POLICY."""
    while not cursor.done and not cursor.at("AS"):
        token = cursor.peek()
        assert token is not None
        if cursor.accept("COMMENT"):
            fields["comment"] = cursor.string("the comment")
        elif cursor.accept("USING"):
            fields["format"] = cursor.name("the table format").lower()
        elif cursor.accept("PARTITIONED", "BY"):
            fields["partition_cols"] = cursor.names("PARTITIONED BY")
        elif cursor.accept("CLUSTER", "BY"):
            if cursor.accept("AUTO"):
                fields["cluster_by_auto"] = True
            elif not cursor.accept("NONE"):
                fields["cluster_by"] = cursor.names("CLUSTER BY")
        elif cursor.accept("TBLPROPERTIES"):
            fields["table_properties"] = _properties(cursor)
        elif cursor.accept("LOCATION"):
            fields["path"] = cursor.string("the location")
        elif cursor.accept("WITH", "ROW", "FILTER"):
            first = cursor.peek()
            cursor.name("the row filter function")
            cursor.expect("ON")
            cursor.group("the row filter columns")
            fields["row_filter"] = cursor.source(first, cursor.tokens[cursor.i - 1])  # type: ignore[arg-type]
        elif cursor.accept("REFRESH", "POLICY"):
            cursor.next("AUTO, INCREMENTAL or FULL")
            cursor.accept("STRICT")
        elif token.is_word("SCHEDULE", "TRIGGER"):
            raise SqlUnsupportedError(
                token.upper,
                cursor.statement.path,
                token.line,
                "refresh schedules belong to Databricks SQL tables; in a pipeline the update refreshes the dataset",
            )
        elif token.is_word("FLOW"):
            raise SqlUnsupportedError(
                "CREATE STREAMING TABLE ... FLOW",
                cursor.statement.path,
                token.line,
                "the Databricks SQL (non-pipeline) form is not a pipeline statement; write CREATE FLOW ... AS "
                "AUTO CDC INTO / INSERT INTO instead",
            )
        else:
            raise cursor.error(f"unexpected {token.text!r} in the header (expected a clause or AS)", token)


def _properties(cursor: Cursor) -> dict[str, str]:
    properties: dict[str, str] = {}
    for item in cursor.group("TBLPROPERTIES"):
        eq = next((i for i, t in enumerate(item) if t.is_punct("=")), None)
        key_tokens = item[:eq] if eq is not None else item[:-1]
        value_tokens = item[eq + 1 :] if eq is not None else item[-1:]
        if not key_tokens or not value_tokens:
            raise cursor.error("TBLPROPERTIES entries are key = value", item[0])
        if len(key_tokens) == 1 and key_tokens[0].kind is Kind.STRING:
            key = key_tokens[0].value
        else:
            key = "".join(t.name for t in key_tokens)  # unquoted dotted key: pipelines.reset.allowed
        if len(value_tokens) == 1 and value_tokens[0].kind is Kind.STRING:
            value = value_tokens[0].value
        else:
            value = _text(cursor, value_tokens)
        properties[key] = value
    return properties


# --- CREATE FLOW ----------------------------------------------------------------------------------


def _flow(cursor: Cursor) -> SqlStatement:
    name = cursor.name("the flow name")
    comment = cursor.string("the comment") if cursor.accept("COMMENT") else None
    cursor.expect("AS")
    if cursor.accept("AUTO", "CDC"):
        once = cursor.accept("ONCE")
        cursor.expect("INTO")
        return _change_flow(
            cursor, name, once, "CREATE FLOW ... AS AUTO CDC" + (" ONCE" if once else "") + " INTO"
        )
    cursor.expect("INSERT")
    once = cursor.accept("ONCE")
    cursor.expect("INTO")
    once = cursor.accept("ONCE") or once
    target = cursor.name("the target table")
    if not cursor.accept("BY", "NAME"):
        raise cursor.error("CREATE FLOW ... INSERT INTO <target> needs BY NAME before the query")
    text, line = cursor.rest()
    return CreateFlow(name, target, Body(text, line), _location(cursor), once=once, comment=comment)


# --- AUTO CDC / APPLY CHANGES ---------------------------------------------------------------------


def _column_choice(cursor: Cursor, what: str) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """`a, b, c` or `(a, b)` or `* EXCEPT (a, b)`: (columns, except_columns)."""
    if cursor.accept_punct("*"):
        cursor.expect("EXCEPT")
        return None, cursor.names(f"{what} * EXCEPT")
    if cursor.at_punct("("):
        return cursor.names(what), None
    names = [cursor.name(f"a column of {what}")]
    while cursor.accept_punct(","):
        names.append(cursor.name(f"a column of {what}"))
    return tuple(n.strip("`") for n in names), None


def _change_flow(cursor: Cursor, flow_name: str | None, once: bool, spelling: str) -> ChangeFlow:
    target = cursor.name("the target table")
    cursor.expect("FROM")
    source = _cdc_source(cursor)
    fields: dict[str, object] = {}
    seen: set[tuple[str, ...]] = set()
    while not cursor.done:
        clause = next((c for c in _CDC_CLAUSES if cursor.at(*c)), None)
        if clause is None:
            found = cursor.peek()
            raise cursor.error(f"unexpected {found.text!r} in {spelling} (expected a CDC clause)", found)  # type: ignore[union-attr]
        if clause in seen:
            raise cursor.error(f"{' '.join(clause)} is given twice")
        seen.add(clause)
        cursor.accept(*clause)
        if clause == ("KEYS",):
            fields["keys"] = cursor.names("KEYS")
        elif clause == ("WHERE",):
            fields["where"] = cursor.until(_CDC_CLAUSES, "the WHERE condition")
        elif clause == ("IGNORE", "NULL", "UPDATES"):
            fields["ignore_null_updates"] = True
        elif clause[2:3] == ("DELETE",):
            fields["delete_when"] = cursor.until(_CDC_CLAUSES, "the APPLY AS DELETE WHEN condition")
        elif clause[2:3] == ("TRUNCATE",):
            fields["truncate_when"] = cursor.until(_CDC_CLAUSES, "the APPLY AS TRUNCATE WHEN condition")
        elif clause == ("SEQUENCE", "BY"):
            fields["sequence_by"] = cursor.until(_CDC_CLAUSES, "the SEQUENCE BY expression")
        elif clause == ("COLUMNS",):
            fields["columns"], fields["except_columns"] = _column_choice(cursor, "COLUMNS")
        elif clause == ("STORED", "AS"):
            cursor.expect("SCD", "TYPE")
            token = cursor.next("1 or 2")
            if token.text not in ("1", "2"):
                raise cursor.error(f"STORED AS SCD TYPE takes 1 or 2, found {token.text!r}", token)
            fields["scd_type"] = int(token.text)
        else:
            fields["track_history"], fields["track_history_except"] = _column_choice(
                cursor, "TRACK HISTORY ON"
            )
    if "keys" not in fields or not fields["keys"]:
        raise cursor.error(f"{spelling} needs KEYS (key, ...)")
    if "sequence_by" not in fields:
        raise cursor.error(f"{spelling} needs SEQUENCE BY <column>")
    if (
        "track_history" in fields
        and fields.get("scd_type", 1) != 2
        and (fields.get("track_history") or fields.get("track_history_except"))
    ):
        raise cursor.error("TRACK HISTORY ON applies only to STORED AS SCD TYPE 2")
    return ChangeFlow(
        name=flow_name or target,
        target=target,
        source=source,
        location=_location(cursor),
        once=once,
        spelling=spelling,
        **fields,  # type: ignore[arg-type]
    )


def _cdc_source(cursor: Cursor) -> str:
    """`src`, `STREAM(src)`, `STREAM src` or `LIVE.src`: the source dataset's name."""
    if cursor.at("STREAM") and cursor.peek(1) is not None and cursor.peek(1).is_punct("("):  # type: ignore[union-attr]
        cursor.accept("STREAM")
        cursor.expect_punct("(")
        name = cursor.name("the source dataset")
        cursor.expect_punct(")")
        return name
    if (
        cursor.at("STREAM")
        and cursor.peek(1) is not None
        and cursor.peek(1).kind in (Kind.IDENT, Kind.QUOTED)
    ):  # type: ignore[union-attr]
        cursor.accept("STREAM")
    return cursor.name("the source dataset")


# --- SET and USE ----------------------------------------------------------------------------------


def _set(cursor: Cursor) -> SetConf | None:
    if cursor.done:
        return None
    first = cursor.peek()
    assert first is not None
    if first.kind is Kind.STRING:
        cursor.next()
        key = first.value
    else:
        key_tokens: list[Token] = []
        while not cursor.done and not cursor.at_punct("="):
            key_tokens.append(cursor.next())
        key = "".join(t.name for t in key_tokens)
    if not cursor.accept_punct("="):
        return SetConf(key, None)
    if cursor.done:
        return SetConf(key, "")
    rest = cursor.tokens[cursor.i :]
    if len(rest) == 1 and rest[0].kind is Kind.STRING:
        value = rest[0].value
    else:
        value = cursor.source(rest[0], rest[-1])
    cursor.i = len(cursor.tokens)
    return SetConf(key, value)


def _use(cursor: Cursor) -> Use:
    if cursor.accept("CATALOG"):
        what = "catalog"
    elif cursor.accept("SCHEMA") or cursor.accept("DATABASE"):
        what = "schema"
    else:
        what = "schema"  # USE s: the schema (USE c.s: both, handled by the loader)
    token = cursor.peek()
    name = (
        cursor.string(f"the {what} name")
        if token is not None and token.kind is Kind.STRING
        else cursor.name(f"the {what} name")
    )
    if not cursor.done:
        found = cursor.peek()
        raise cursor.error(f"unexpected {found.text!r} after USE {what.upper()} {name}", found)  # type: ignore[union-attr]
    return Use(what, name)
