"""Just enough SQL lexing to rewrite safely: string literals, quoted names and comments are opaque."""

from __future__ import annotations

from collections.abc import Iterator


def opaque_spans(query: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each string literal, backticked name and comment, in order."""
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char in "'\"`":
            j = i + 1
            while j < n:
                if query[j] == "\\" and char != "`":
                    j += 2
                    continue
                if query[j] == char:
                    if j + 1 < n and query[j + 1] == char:  # doubled quote inside the literal
                        j += 2
                        continue
                    break
                j += 1
            yield i, min(j + 1, n)
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            j = n if j < 0 else j
            yield i, j
            i = j
        elif query.startswith("/*", i):
            j = query.find("*/", i + 2)
            j = n if j < 0 else j + 2
            yield i, j
            i = j
        else:
            i += 1


def code_mask(query: str) -> list[bool]:
    """True at each position that is SQL code (not inside a literal, a quoted name or a comment)."""
    mask = [True] * len(query)
    for start, end in opaque_spans(query):
        for k in range(start, end):
            mask[k] = False
    return mask


def split_statements(query: str) -> list[str]:
    """The statements of a script, split at `;` outside literals and comments; blank ones dropped."""
    mask = code_mask(query)
    statements, start = [], 0
    for index, char in enumerate(query):
        if char == ";" and mask[index]:
            statements.append(query[start:index])
            start = index + 1
    statements.append(query[start:])
    return [text.strip() for text in statements if _has_code(text)]


def _has_code(text: str) -> bool:
    """False for a fragment holding only blanks and comments (a trailing `-- done` after the last `;`)."""
    mask = code_mask(text)
    return any(flag and not char.isspace() for flag, char in zip(mask, text, strict=True))
