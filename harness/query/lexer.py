"""Which characters of a typed query are SQL code, from the one SQL tokenizer (`harness.sql.tokens`).

String literals, backquoted names and comments are opaque to the rewrites in this package.
"""

from __future__ import annotations

from harness.sql.tokens import Kind, UnterminatedError, tokenize

_OPAQUE = (Kind.STRING, Kind.QUOTED, Kind.COMMENT)


def code_mask(query: str) -> list[bool]:
    """True at each position that is SQL code (not inside a literal, a quoted name or a comment).

    A query with an unterminated literal is all code here: nothing is rewritten inside it, and
    Spark reports the syntax error with its position.
    """
    mask = [True] * len(query)
    try:
        tokens = tokenize(query)
    except UnterminatedError:
        return mask
    for token in tokens:
        if token.kind in _OPAQUE:
            for k in range(token.start, token.end):
                mask[k] = False
    return mask
