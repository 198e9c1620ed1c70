"""Cut DLT SQL text into tokens: the one place that knows quotes, backticks, comments and `${}`.

Everything else in `harness.sql` (the splitter, the header parser, the body rewrites) works on
these tokens, so a `;` in a string, a `--` inside backticks or a `FROM` inside a comment is never
mistaken for syntax. Positions are offsets into the text that was tokenized, so a rewrite can
replace exactly the characters a token covers and keep everything else verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    SPACE = "space"
    COMMENT = "comment"  # -- line comment or /* block */ comment
    STRING = "string"  # '...' or "..." (Spark accepts both for literals), r'...' raw strings included
    IDENT = "ident"  # a bare word: keyword or identifier
    QUOTED = "quoted"  # `backquoted identifier`
    NUMBER = "number"
    VAR = "var"  # ${key} outside a string
    PUNCT = "punct"  # ( ) , ; . = and any other single character (=> and :: as one token)


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    start: int  # offset into the tokenized text
    line: int  # 1-based line of the first character

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind is Kind.IDENT else ""

    def is_word(self, *words: str) -> bool:
        """A bare word equal (case-insensitively) to one of `words`."""
        return self.kind is Kind.IDENT and self.text.upper() in words

    def is_punct(self, *chars: str) -> bool:
        return self.kind is Kind.PUNCT and self.text in chars

    @property
    def name(self) -> str:
        """The identifier this token spells: backticks removed (a doubled backtick is one backtick)."""
        if self.kind is Kind.QUOTED:
            return self.text[1:-1].replace("``", "`")
        return self.text

    @property
    def value(self) -> str:
        """The value of a string literal (quotes removed, backslash escapes of quotes undone)."""
        if self.kind is not Kind.STRING:
            return self.text
        body = self.text
        raw = body[:1] in "rR"
        if raw:
            body = body[1:]
        quote, inner = body[0], body[1:-1]
        if raw:
            return inner
        out: list[str] = []
        i = 0
        while i < len(inner):
            char = inner[i]
            if char == "\\" and i + 1 < len(inner):
                nxt = inner[i + 1]
                out.append({"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(nxt, nxt))
                i += 2
                continue
            if char == quote and i + 1 < len(inner) and inner[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            out.append(char)
            i += 1
        return "".join(out)


class UnterminatedError(ValueError):
    """A string, backquoted name, block comment or `${` that never closes (line given)."""

    def __init__(self, what: str, line: int) -> None:
        super().__init__(f"unterminated {what}")
        self.what = what
        self.line = line


_WORD_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD = _WORD_START | set("0123456789$")
_TWO_CHAR = ("=>", "::", "<=", ">=", "<>", "!=", "==", "||", "->", "<=>")


def tokenize(text: str, first_line: int = 1) -> list[Token]:
    """Every token of `text`, whitespace and comments included (joining the texts gives `text` back)."""
    tokens: list[Token] = []
    i, line, n = 0, first_line, len(text)
    while i < n:
        start, start_line = i, line
        char = text[i]
        if char.isspace():
            while i < n and text[i].isspace():
                i += 1
            kind = Kind.SPACE
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            kind = Kind.COMMENT
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise UnterminatedError("block comment /* ... */", start_line)
            i = end + 2
            kind = Kind.COMMENT
        elif char in "'\"" or (char in "rR" and i + 1 < n and text[i + 1] in "'\""):
            raw = char in "rR"
            quote = text[i + 1] if raw else char
            i += 2 if raw else 1
            while True:
                if i >= n:
                    raise UnterminatedError(f"string literal {quote}...{quote}", start_line)
                if text[i] == "\\" and not raw:
                    i += 2
                    continue
                if text[i] == quote:
                    if i + 1 < n and text[i + 1] == quote and not raw:
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
            kind = Kind.STRING
        elif char == "`":
            i += 1
            while True:
                if i >= n:
                    raise UnterminatedError("backquoted name `...`", start_line)
                if text[i] == "`":
                    if i + 1 < n and text[i + 1] == "`":
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
            kind = Kind.QUOTED
        elif text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise UnterminatedError("configuration reference ${...}", start_line)
            i = end + 1
            kind = Kind.VAR
        elif char in _WORD_START:
            while i < n and text[i] in _WORD:
                i += 1
            kind = Kind.IDENT
        elif char.isdigit():
            while i < n and (text[i].isalnum() or text[i] == "."):
                if text[i] in "eE" and i + 1 < n and text[i + 1] in "+-":
                    i += 1
                i += 1
            kind = Kind.NUMBER
        else:
            two = next((op for op in ("<=>", *_TWO_CHAR) if text.startswith(op, i)), None)
            i += len(two) if two else 1
            kind = Kind.PUNCT
        piece = text[start:i]
        tokens.append(Token(kind, piece, start, start_line))
        line += piece.count("\n")
    return tokens


def significant(tokens: list[Token]) -> list[Token]:
    """The tokens that carry syntax (no whitespace, no comments)."""
    return [t for t in tokens if t.kind not in (Kind.SPACE, Kind.COMMENT)]
