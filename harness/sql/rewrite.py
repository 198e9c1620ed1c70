"""Find what a query body reads, and turn it into a template the runtime binds per evaluation.

A body is Spark SQL plus Databricks' pipeline reads. This module finds, by tokens and never
inside strings or comments, every relation in a FROM / JOIN position:

* ``x``, ``LIVE.x``, ``schema.x``, ``catalog.schema.x``: a batch read of a dataset or table;
* ``STREAM(x)`` / ``STREAM x``: a streaming read;
* ``read_files(path, k => v, ...)`` (batch) and ``STREAM read_files(...)`` (Auto Loader);
* legacy ``cloud_files(path, 'fmt' [, map('k', 'v', ...)])`` (Auto Loader).

Each becomes a placeholder in the text and a `DatasetRead` / `FileRead` record; `harness.sql.bind`
replaces the placeholders with temporary views of what the active resolver returns, so SQL reads
go through the same resolver (dependencies, views with expectations, Auto Loader) as Python
reads. Names a WITH clause defines are left alone. Databricks-only functions are refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.errors import SqlSyntaxError, SqlUnsupportedError
from harness.sql.statements import Body
from harness.sql.tokens import Kind, Token, tokenize

PLACEHOLDER = "__harness_sql_source_{index}__"
#: Stands for a file source's hidden ``_metadata`` column, which Spark does not expose through the
#: temporary view a placeholder becomes; `bind` adds it to file sources as a visible column.
METADATA = "__harness_sql_metadata__"

#: Functions whose FROM is part of their argument syntax, not a relation (EXTRACT(YEAR FROM ts)).
_FROM_FUNCTIONS = frozenset({"EXTRACT", "TRIM", "SUBSTRING", "SUBSTR", "POSITION", "OVERLAY"})
#: Words that end a table reference (after it, no alias follows).
_NOT_ALIAS = frozenset(
    [
        "WHERE",
        "GROUP",
        "ORDER",
        "LIMIT",
        "OFFSET",
        "HAVING",
        "WINDOW",
        "UNION",
        "EXCEPT",
        "INTERSECT",
        "MINUS",
        "JOIN",
        "INNER",
        "LEFT",
        "RIGHT",
        "FULL",
        "CROSS",
        "NATURAL",
        "OUTER",
        "SEMI",
        "ANTI",
        "ON",
        "USING",
        "LATERAL",
        "PIVOT",
        "UNPIVOT",
        "TABLESAMPLE",
        "CLUSTER",
        "DISTRIBUTE",
        "SORT",
        "QUALIFY",
        "WATERMARK",
        "SELECT",
        "FROM",
        "AS",
        "VALUES",
        "WITH",
    ]
)
#: Databricks functions with no local meaning: refused by name (``ai_*`` and ``h3_*`` as families).
DATABRICKS_ONLY_FUNCTIONS = frozenset(
    {
        "vector_search",
        "http_request",
        "read_kafka",
        "read_kinesis",
        "read_pubsub",
        "read_pulsar",
        "read_statestore",
        "read_state_metadata",
        "secret",
        "try_secret",
        "remote_query",
        "is_member",
        "is_account_group_member",
        "current_metastore",
        "current_recipient",
        "event_log",
    }
)
DATABRICKS_ONLY_PREFIXES = ("ai_", "h3_")
#: read_files options that are Auto Loader (cloudFiles.*) options when the read is a stream.
_CLOUD_FILES_OPTIONS = frozenset(
    name.lower()
    for name in (
        "format",
        "schemaLocation",
        "inferColumnTypes",
        "schemaHints",
        "schemaEvolutionMode",
        "includeExistingFiles",
        "allowOverwrites",
        "maxFilesPerTrigger",
        "maxBytesPerTrigger",
        "partitionColumns",
        "validateOptions",
        "useNotifications",
        "useManagedFileEvents",
        "useIncrementalListing",
        "useStrictGlobber",
        "backfillInterval",
        "maxFileAge",
        "cleanSource",
    )
)
_FORMATS_BY_EXTENSION = {
    ".json": "json",
    ".jsonl": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".orc": "orc",
    ".txt": "text",
    ".avro": "avro",
    ".xml": "xml",
}


@dataclass(frozen=True)
class DatasetRead:
    """A relation read by name: a pipeline dataset or a table of the metastore."""

    name: str
    streaming: bool


@dataclass(frozen=True)
class FileRead:
    """read_files / cloud_files: `options` are Auto Loader options (cloudFiles.* and reader options)."""

    function: str  # "read_files" | "cloud_files"
    path: str
    options: Mapping[str, str]
    streaming: bool
    schema: str | None = None


Source = DatasetRead | FileRead


@dataclass(frozen=True)
class QueryTemplate:
    """A body with each read replaced by ``PLACEHOLDER.format(index=i)`` for `sources[i]`."""

    text: str
    sources: tuple[Source, ...]
    path: str
    line: int
    ctes: frozenset[str] = field(default_factory=frozenset)
    uses_metadata: bool = False  # the body names `_metadata` (replaced by METADATA)


class _Scanner:
    def __init__(self, body: Body, path: str) -> None:
        self.body = body
        self.path = path
        self.all = tokenize(body.text, body.line)
        self.sig = [i for i, t in enumerate(self.all) if t.kind not in (Kind.SPACE, Kind.COMMENT)]
        self.replacements: list[tuple[int, int, int]] = []  # (start offset, end offset, source index)
        self.sources: list[Source] = []
        self.aliases: dict[int, str] = {}  # source index -> alias added after its placeholder

    def tok(self, k: int) -> Token | None:
        return self.all[self.sig[k]] if 0 <= k < len(self.sig) else None

    def error(self, reason: str, token: Token | None) -> SqlSyntaxError:
        return SqlSyntaxError(self.path, token.line if token else self.body.line, self.body.text, reason)


def _is_name(token: Token | None) -> bool:
    return token is not None and token.kind in (Kind.IDENT, Kind.QUOTED)


def _cte_names(scanner: _Scanner) -> frozenset[str]:
    """Names defined by WITH clauses: `name AS (` or `name (cols) AS (` after WITH or a comma."""
    names: set[str] = set()
    k, n = 0, len(scanner.sig)
    while k < n:
        token = scanner.tok(k)
        assert token is not None
        if token.is_word("WITH"):
            j = k + 1
            if (t := scanner.tok(j)) is not None and t.is_word("RECURSIVE"):
                j += 1
            while _is_name(scanner.tok(j)):
                name = scanner.tok(j).name.lower()  # type: ignore[union-attr]
                j += 1
                if (t := scanner.tok(j)) is not None and t.is_punct("("):
                    j = _skip_parens(scanner, j)
                if not ((t := scanner.tok(j)) is not None and t.is_word("AS")):
                    break
                names.add(name)
                j = _skip_parens(scanner, j + 1)
                if (t := scanner.tok(j)) is not None and t.is_punct(","):
                    j += 1
                    continue
                break
            k = j
            continue
        k += 1
    return frozenset(names)


def _skip_parens(scanner: _Scanner, k: int) -> int:
    """Index after the parenthesised group starting at k (k itself if no '(' is there)."""
    token = scanner.tok(k)
    if token is None or not token.is_punct("("):
        return k
    depth = 0
    while (token := scanner.tok(k)) is not None:
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
            if depth == 0:
                return k + 1
        k += 1
    raise scanner.error("a '(' is never closed", scanner.tok(len(scanner.sig) - 1))


def _read_name(scanner: _Scanner, k: int) -> tuple[str, int]:
    parts = [scanner.tok(k).text]  # type: ignore[union-attr]
    k += 1
    while (dot := scanner.tok(k)) is not None and dot.is_punct(".") and _is_name(scanner.tok(k + 1)):
        parts.append(scanner.tok(k + 1).text)  # type: ignore[union-attr]
        k += 2
    return ".".join(parts), k


def _check_functions(scanner: _Scanner) -> None:
    for k in range(len(scanner.sig)):
        token = scanner.tok(k)
        nxt = scanner.tok(k + 1)
        assert token is not None
        if token.is_word("PIVOT") and nxt is not None and nxt.is_punct("("):
            raise SqlUnsupportedError(
                "PIVOT",
                scanner.path,
                token.line,
                "Databricks does not support PIVOT in pipelines; aggregate with "
                "CASE WHEN or pivot in a Python dataset",
            )
        if token.kind is not Kind.IDENT or nxt is None or not nxt.is_punct("("):
            continue
        previous = scanner.tok(k - 1)
        if previous is not None and previous.is_punct("."):
            continue
        name = token.text.lower()
        if name in DATABRICKS_ONLY_FUNCTIONS or name.startswith(DATABRICKS_ONLY_PREFIXES):
            raise SqlUnsupportedError(
                f"function {name}()",
                scanner.path,
                token.line,
                "it is a Databricks-only function (AI, H3, secrets, streaming connectors, Unity Catalog) with no "
                "local implementation; compute the value another way or stub it in a Python dataset",
            )


def rewrite_body(body: Body, path: str) -> QueryTemplate:
    """The template for one body; raises SqlUnsupportedError / SqlSyntaxError naming file and line."""
    scanner = _Scanner(body, path)
    _check_functions(scanner)
    ctes = _cte_names(scanner)
    openers: list[str] = []  # per open '(': the function name before it, or "" for a plain group
    k, n = 0, len(scanner.sig)
    while k < n:
        token = scanner.tok(k)
        assert token is not None
        if token.is_punct("("):
            previous = scanner.tok(k - 1)
            openers.append(previous.upper if previous is not None and previous.kind is Kind.IDENT else "")
        elif token.is_punct(")"):
            if openers:
                openers.pop()
        elif token.is_word("FROM", "JOIN"):
            previous = scanner.tok(k - 1)
            in_function = bool(openers) and openers[-1] in _FROM_FUNCTIONS
            if not in_function and not (previous is not None and previous.is_word("DISTINCT")):
                k = _relations(scanner, k + 1, ctes)
                continue
        k += 1
    edits = [
        (
            start,
            end,
            PLACEHOLDER.format(index=index)
            + (f" AS {scanner.aliases[index]}" if index in scanner.aliases else ""),
        )
        for start, end, index in scanner.replacements
    ]
    has_files = any(isinstance(s, FileRead) for s in scanner.sources)
    metadata = [
        t for t in scanner.all if has_files and t.kind is Kind.IDENT and t.text.lower() == "_metadata"
    ]
    edits += [(t.start, t.end, METADATA) for t in metadata]
    text = body.text
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return QueryTemplate(text, tuple(scanner.sources), path, body.line, ctes, uses_metadata=bool(metadata))


def _relations(scanner: _Scanner, k: int, ctes: frozenset[str]) -> int:
    """Rewrite the relation at k, then any further ones of a comma-separated FROM list."""
    while True:
        k = _relation(scanner, k, ctes)
        k = _skip_alias(scanner, k)
        token = scanner.tok(k)
        if token is not None and token.is_punct(","):
            nxt = scanner.tok(k + 1)
            if nxt is not None and (_is_name(nxt) or nxt.is_punct("(")) and not nxt.is_word("LATERAL"):
                k += 1
                continue
        return k


def _skip_alias(scanner: _Scanner, k: int) -> int:
    token = scanner.tok(k)
    if token is not None and token.is_word("AS"):
        k += 1
        token = scanner.tok(k)
    if _is_name(token) and not token.is_word(*_NOT_ALIAS):  # type: ignore[union-attr]
        k += 1
        token = scanner.tok(k)
        if token is not None and token.is_punct("("):
            k = _skip_parens(scanner, k)
    return k


def _add(scanner: _Scanner, first: Token, last: Token, source: Source) -> None:
    scanner.sources.append(source)
    scanner.replacements.append((first.start, last.end, len(scanner.sources) - 1))


def _has_alias(scanner: _Scanner, k: int) -> bool:
    token = scanner.tok(k)
    return token is not None and (token.is_word("AS") or (_is_name(token) and not token.is_word(*_NOT_ALIAS)))


def _name_alias(scanner: _Scanner, name: str, k: int) -> None:
    """Keep `x.col` working after `FROM x` became a placeholder: alias the placeholder as `x`."""
    token = scanner.tok(k)
    if _has_alias(scanner, k) or (token is not None and token.is_word("WATERMARK", "TABLESAMPLE")):
        return  # WATERMARK ... and TABLESAMPLE (...) come before an alias in Spark's grammar
    index = scanner.replacements[-1][2]
    scanner.aliases[index] = name.split(".")[-1]


def _relation(scanner: _Scanner, k: int, ctes: frozenset[str]) -> int:
    token = scanner.tok(k)
    if token is None or token.is_punct("(") or token.is_word("LATERAL", "VALUES"):
        return k  # a subquery (scanned as the loop goes on), LATERAL VIEW, inline VALUES
    if not _is_name(token):
        return k
    streaming = False
    first = token
    if token.is_word("STREAM"):
        nxt = scanner.tok(k + 1)
        if nxt is not None and nxt.is_punct("("):
            inner = scanner.tok(k + 2)
            after = scanner.tok(k + 3)
            if (
                inner is not None
                and inner.is_word("READ_FILES", "CLOUD_FILES")
                and after is not None
                and after.is_punct("(")
            ):
                end = _skip_parens(scanner, k + 3)
                close = scanner.tok(end)
                if close is None or not close.is_punct(")"):
                    raise scanner.error("STREAM(...) is missing its closing ')'", token)
                _add(scanner, first, close, _file_read(scanner, k + 2, end, streaming=True))
                return end + 1
            if not _is_name(inner):
                raise scanner.error("STREAM(...) takes the name of a dataset or table", token)
            name, j = _read_name(scanner, k + 2)
            close = scanner.tok(j)
            if close is None or not close.is_punct(")"):
                raise scanner.error(f"STREAM({name} is missing its closing ')'", token)
            _add(scanner, first, close, DatasetRead(name, streaming=True))
            _name_alias(scanner, name, j + 1)
            return j + 1
        if _is_name(nxt):
            streaming = True
            k += 1
            token = nxt  # type: ignore[assignment]
    after = scanner.tok(k + 1)
    if token.is_word("READ_FILES", "CLOUD_FILES") and after is not None and after.is_punct("("):
        end = _skip_parens(scanner, k + 1)
        is_stream = streaming or token.is_word("CLOUD_FILES")
        _add(scanner, first, scanner.tok(end - 1), _file_read(scanner, k, end, streaming=is_stream))  # type: ignore[arg-type]
        return end
    if after is not None and after.is_punct("("):
        return k  # another table-valued function (range(...), explode(...)): Spark's own
    name, j = _read_name(scanner, k)
    if "." not in name and name.strip("`").lower() in ctes and not streaming:
        return j
    last = scanner.tok(j - 1)
    assert last is not None
    _add(scanner, first, last, DatasetRead(name, streaming))
    _name_alias(scanner, name, j)
    return j


def _file_read(scanner: _Scanner, k: int, end: int, streaming: bool) -> FileRead:
    """read_files(path, k => v, ...) or cloud_files(path, 'fmt'[, map('k', 'v', ...)]) at k..end."""
    function = scanner.tok(k).text.lower()  # type: ignore[union-attr]
    args = _arguments(scanner, k + 2, end - 1)
    head = scanner.tok(k)
    if not args or len(args[0]) != 1 or args[0][0].kind is not Kind.STRING:
        raise scanner.error(f"{function}() takes the path as a quoted string first", head)
    path = args[0][0].value
    options: dict[str, str] = {}
    schema = None
    if function == "cloud_files":
        if len(args) < 2 or len(args[1]) != 1 or args[1][0].kind is not Kind.STRING:
            raise scanner.error(
                "cloud_files(path, format [, map(...)]) needs the format as a quoted string", head
            )
        options["cloudFiles.format"] = args[1][0].value
        if len(args) > 3:
            raise scanner.error("cloud_files takes at most three arguments", head)
        if len(args) == 3:
            options.update(_map_literal(scanner, args[2], head))
        return FileRead(function, path, options, True, None)
    for arg in args[1:]:
        if len(arg) < 3 or not arg[1].is_punct("=>") or not _is_name(arg[0]):
            raise scanner.error(f"{function}() options are named: option => value", arg[0])
        name, value = arg[0].name, _literal(scanner, arg[2:], head)
        if name.lower() == "schema":
            schema = value
            continue
        options[name] = value
    return _read_files_options(scanner, path, options, schema, streaming, head)


def _read_files_options(
    scanner: _Scanner,
    path: str,
    named: dict[str, str],
    schema: str | None,
    streaming: bool,
    head: Token | None,
) -> FileRead:
    options: dict[str, str] = {}
    for name, value in named.items():
        bare = name[len("cloudFiles.") :] if name.lower().startswith("cloudfiles.") else name
        if bare.lower() in _CLOUD_FILES_OPTIONS:
            options[f"cloudFiles.{bare}"] = value
        else:
            options[name] = value
    keys = {k.lower() for k in options}
    if "cloudfiles.format" not in keys:
        extension = (
            "." + path.rstrip("/").rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        )
        if extension not in _FORMATS_BY_EXTENSION:
            raise scanner.error(
                "read_files() without format => '...' on a folder: name the format (the local harness does not "
                "sniff file contents)",
                head,
            )
        options["cloudFiles.format"] = _FORMATS_BY_EXTENSION[extension]
    if "cloudfiles.infercolumntypes" not in keys and schema is None:
        options["cloudFiles.inferColumnTypes"] = "true"  # read_files infers types by default
    return FileRead("read_files", path, options, streaming, schema)


def _arguments(scanner: _Scanner, k: int, end: int) -> list[list[Token]]:
    """The comma-separated arguments between k and end (exclusive), nesting respected."""
    args: list[list[Token]] = [[]]
    depth = 0
    for j in range(k, end):
        token = scanner.tok(j)
        assert token is not None
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
        elif token.is_punct(",") and depth == 0:
            args.append([])
            continue
        args[-1].append(token)
    return [a for a in args if a]


def _literal(scanner: _Scanner, tokens: list[Token], head: Token | None) -> str:
    if len(tokens) == 1 and tokens[0].kind is Kind.STRING:
        return tokens[0].value
    if len(tokens) == 1 and (tokens[0].kind is Kind.NUMBER or tokens[0].is_word("TRUE", "FALSE")):
        return tokens[0].text.lower() if tokens[0].kind is Kind.IDENT else tokens[0].text
    if tokens and tokens[0].is_word("MAP", "ARRAY"):
        raise scanner.error(
            "map(...) and array(...) option values are not supported by read_files here", tokens[0]
        )
    raise scanner.error(
        f"option values must be literals (a string, number or true/false), found {' '.join(t.text for t in tokens)!r}",
        tokens[0] if tokens else head,
    )


def _map_literal(scanner: _Scanner, tokens: list[Token], head: Token | None) -> dict[str, str]:
    if (
        len(tokens) < 3
        or not tokens[0].is_word("MAP")
        or not tokens[1].is_punct("(")
        or not tokens[-1].is_punct(")")
    ):
        raise scanner.error(
            "the third argument of cloud_files is map('option', 'value', ...)", tokens[0] if tokens else head
        )
    values = [t for t in tokens[2:-1] if not t.is_punct(",")]
    if len(values) % 2 or any(t.kind is not Kind.STRING for t in values):
        raise scanner.error("map(...) in cloud_files takes pairs of quoted strings", tokens[0])
    return {values[i].value: values[i + 1].value for i in range(0, len(values), 2)}
