"""Split a pipeline `.sql` file into statements, and substitute `${key}` from the configuration.

Plain files end statements with `;`. Notebook-format files (first line
``-- Databricks notebook source``) also end a statement at each ``-- COMMAND ----------`` cell
break, where the cell's last statement may lack its `;`; ``-- MAGIC`` and ``-- DBTITLE`` lines are
comments. A `;` inside a string, a backquoted name, a comment or parentheses never splits.
Comments are blanked (newlines kept), so every statement keeps the line numbers of its file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import SqlConfigurationError, SqlSyntaxError
from harness.sql.tokens import Kind, Token, UnterminatedError, tokenize

NOTEBOOK_HEADER = "-- Databricks notebook source"
_CELL_BREAK = re.compile(r"^--\s*COMMAND\s*-+\s*$")
#: Pipeline parameter keys: letters, digits, `_`, `-` and `.` (Databricks' documented grammar).
_REFERENCE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Statement:
    """One statement's text (comments blanked), the file it came from and its first line."""

    text: str
    path: str
    line: int

    @property
    def first_line(self) -> str:
        return self.text.strip().splitlines()[0] if self.text.strip() else ""


def is_notebook(text: str) -> bool:
    return text.lstrip("\ufeff").lstrip().startswith(NOTEBOOK_HEADER)


def _blank(token: Token) -> str:
    return "".join("\n" if c == "\n" else " " for c in token.text)


def split_statements(text: str, path: str) -> list[Statement]:
    """The statements of a file, in order; empty statements (`;;`, empty cells) are skipped."""
    try:
        tokens = tokenize(text)
    except UnterminatedError as exc:
        raise SqlSyntaxError(path, exc.line, _line_at(text, exc.line), str(exc)) from exc
    notebook = is_notebook(text)
    statements: list[Statement] = []
    pieces: list[str] = []
    first: Token | None = None
    depth = 0

    def close() -> None:
        nonlocal pieces, first, depth
        if first is not None:
            statements.append(Statement("".join(pieces).rstrip(), path, first.line))
        pieces, first, depth = [], None, 0

    for token in tokens:
        if token.kind is Kind.COMMENT:
            if notebook and _CELL_BREAK.match(token.text.strip()):
                close()
                continue
            if first is not None:
                pieces.append(_blank(token))
            continue
        if token.kind is Kind.SPACE:
            if first is not None:
                pieces.append(token.text)
            continue
        if token.is_punct(";") and depth <= 0:
            close()
            continue
        if token.is_punct("("):
            depth += 1
        elif token.is_punct(")"):
            depth -= 1
        if first is None:
            first = token
        pieces.append(token.text)
    close()
    return statements


def _line_at(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def substitute(statement: Statement, configuration: Mapping[str, str]) -> Statement:
    """Replace each `${key}` by the pipeline configuration's value, as Databricks does before parsing.

    A key the configuration lacks is an error naming the key, the file and the line: Databricks
    would run the statement with a literal ``${key}`` in it, which fails far from the cause.
    """

    def value(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key not in configuration:
            line = statement.line + statement.text[: match.start()].count("\n")
            raise SqlConfigurationError(key, statement.path, line, sorted(configuration))
        return str(configuration[key])

    if "${" not in statement.text:
        return statement
    return Statement(_REFERENCE.sub(value, statement.text), statement.path, statement.line)
