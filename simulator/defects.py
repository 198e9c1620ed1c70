"""Turn a rendered, valid event line into a defective one of exactly one kind.

Defective lines are rare, so this works line by line in Python (orjson for the structural
defects, bytes surgery for the encoding and parse defects). Each function keeps every other field
valid so the line fails exactly the rules the contract lists for its kind.
"""

from __future__ import annotations

import numpy as np
import orjson

_UNKNOWN_STATUSES = ("teleported", "on_hold", "lost_in_space", "pending_review")
_NUMBER_WORDS = ("one", "two", "three", "four", "five")
OVERSIZED_ITEMS = 1000


def cut(line: bytes, rng: np.random.Generator) -> bytes:
    """A prefix of a JSON object line (30-70 % of it), cut at an ASCII byte: never valid JSON."""
    position = int(len(line) * (0.3 + 0.4 * rng.random()))
    while position > 1 and line[position] >= 0x80:
        position -= 1
    return line[:position]


def corrupt(kind: str, line: str, rng: np.random.Generator) -> bytes:
    """The defective form of `line` (no trailing newline)."""
    raw = line.encode()
    if kind == "malformed_json":
        return cut(raw, rng)
    if kind == "non_utf8":
        marker = b'"city":"'
        at = raw.index(marker) + len(marker)
        return raw[:at] + b"\xff\xfe" + raw[at:]
    record = orjson.loads(raw)
    items = record["items"]
    pick = int(rng.integers(0, len(items)))
    if kind == "null_order_id":
        record["order_id"] = None
    elif kind == "missing_order_id":
        del record["order_id"]
    elif kind == "null_customer_id":
        record["customer_id"] = None
    elif kind == "missing_customer_id":
        del record["customer_id"]
    elif kind == "non_positive_quantity":
        items[pick]["quantity"] = -int(rng.integers(0, 3))
    elif kind == "negative_price":
        items[pick]["unit_price"] = -abs(items[pick]["unit_price"]) or -1.0
    elif kind == "unknown_status":
        record["status"] = _UNKNOWN_STATUSES[int(rng.integers(0, len(_UNKNOWN_STATUSES)))]
    elif kind == "future_timestamp":
        stamp = record["event_time"]
        record["event_time"] = f"{int(stamp[:4]) + 100}{stamp[4:]}"
    elif kind == "wrong_type":
        quantity = items[pick]["quantity"]
        items[pick]["quantity"] = _NUMBER_WORDS[min(quantity, 5) - 1]
    elif kind == "oversized_line":
        record["items"] = [items[i % len(items)] for i in range(OVERSIZED_ITEMS)]  # same text, no copies
    else:  # pragma: no cover - the caller only passes replacing kinds
        raise ValueError(kind)
    return orjson.dumps(record)
