"""A cursor over one statement's significant tokens, with the few moves a header parser needs.

Errors raised here are `SqlSyntaxError`s that name the file, the line of the offending token and
the statement, so every parse failure points at the text the user wrote.
"""

from __future__ import annotations

from harness.errors import SqlSyntaxError
from harness.sql.split import Statement
from harness.sql.tokens import Kind, Token, significant, tokenize

_NAME_KINDS = (Kind.IDENT, Kind.QUOTED)


class Cursor:
    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self.text = statement.text
        self.tokens = significant(tokenize(statement.text, statement.line))
        self.i = 0

    # --- looking ----------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.i >= len(self.tokens)

    def peek(self, offset: int = 0) -> Token | None:
        index = self.i + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def at(self, *words: str) -> bool:
        """The next tokens are these bare words, in order (case-insensitive)."""
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or not token.is_word(word):
                return False
        return True

    def at_punct(self, char: str) -> bool:
        token = self.peek()
        return token is not None and token.is_punct(char)

    @property
    def line(self) -> int:
        token = self.peek() or (self.tokens[-1] if self.tokens else None)
        return token.line if token else self.statement.line

    # --- moving -----------------------------------------------------------------------------
    def error(self, reason: str, token: Token | None = None) -> SqlSyntaxError:
        line = token.line if token is not None else self.line
        return SqlSyntaxError(self.statement.path, line, self.statement.text, reason)

    def next(self, what: str = "more text") -> Token:
        token = self.peek()
        if token is None:
            raise self.error(f"the statement ends where {what} was expected")
        self.i += 1
        return token

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            found = self.peek()
            raise self.error(
                f"expected {' '.join(words)}, found {found.text!r}"
                if found
                else f"expected {' '.join(words)}",
                found,
            )

    def accept_punct(self, char: str) -> bool:
        if self.at_punct(char):
            self.i += 1
            return True
        return False

    def expect_punct(self, char: str) -> None:
        if not self.accept_punct(char):
            found = self.peek()
            raise self.error(
                f"expected {char!r}, found {found.text!r}" if found else f"expected {char!r}", found
            )

    def name(self, what: str = "a name") -> str:
        """A possibly dotted, possibly backquoted name, as written (`a`.b stays `a`.b)."""
        token = self.next(what)
        if token.kind not in _NAME_KINDS:
            raise self.error(f"expected {what}, found {token.text!r}", token)
        parts = [token.text]
        while self.at_punct(".") and self.peek(1) is not None and self.peek(1).kind in _NAME_KINDS:  # type: ignore[union-attr]
            self.i += 1
            parts.append(self.next().text)
        return ".".join(parts)

    def string(self, what: str) -> str:
        token = self.next(what)
        if token.kind is not Kind.STRING:
            raise self.error(f"expected {what} as a quoted string, found {token.text!r}", token)
        return token.value

    def group(self, what: str) -> list[list[Token]]:
        """A parenthesised, comma-separated list: the tokens of each element (nesting respected)."""
        open_token = self.peek()
        self.expect_punct("(")
        items: list[list[Token]] = [[]]
        depth = angle = 0  # parentheses; angle brackets of STRUCT<...>, ARRAY<...>, MAP<...> types
        previous: Token | None = None
        while True:
            token = self.next(f"the closing ')' of {what}")
            if token.is_punct("("):
                depth += 1
            elif token.is_punct(")"):
                if depth == 0:
                    break
                depth -= 1
            elif (
                token.is_punct("<")
                and depth == 0
                and previous is not None
                and previous.is_word("STRUCT", "ARRAY", "MAP")
            ):
                angle += 1
            elif token.is_punct(">") and depth == 0 and angle > 0:
                angle -= 1
            elif token.is_punct(",") and depth == 0 and angle == 0:
                items.append([])
                previous = token
                continue
            items[-1].append(token)
            previous = token
        if items == [[]]:
            return []
        if any(not item for item in items):
            raise self.error(f"an empty element in {what}", open_token)
        return items

    def names(self, what: str) -> tuple[str, ...]:
        """A parenthesised list of plain column names: (a, `b`, c)."""
        result = []
        for item in self.group(what):
            if len(item) != 1 or item[0].kind not in _NAME_KINDS:
                raise self.error(f"{what} must list column names", item[0])
            result.append(item[0].name)
        return tuple(result)

    def source(self, first: Token, last: Token) -> str:
        """The statement text from `first` to `last` inclusive, verbatim."""
        return self.text[first.start : last.end]

    def rest(self) -> tuple[str, int]:
        """The text from the next token to the end of the statement, and its first line."""
        token = self.peek()
        if token is None:
            raise self.error("the statement ends where a query was expected")
        self.i = len(self.tokens)
        return self.text[token.start :].strip(), token.line

    def until(self, stops: tuple[tuple[str, ...], ...], what: str) -> str:
        """The text up to (not including) the first of `stops` at parenthesis depth 0, or the end."""
        first = self.peek()
        if first is None:
            raise self.error(f"the statement ends where {what} was expected")
        depth, last = 0, None
        while not self.done:
            if depth == 0 and any(self.at(*stop) for stop in stops):
                break
            token = self.next()
            if token.is_punct("("):
                depth += 1
            elif token.is_punct(")"):
                depth -= 1
            last = token
        if last is None:
            raise self.error(f"{what} is empty", first)
        return self.source(first, last)
