"""The hand-made part of the bad-input corpus: one file per kind, and where each record must end up.

The simulator injects the contract's defects (docs/data-contract.md); this module adds what a real
landing folder also sees: a cut file, a UTF-8 BOM, CRLF line ends, nesting deeper than the JSON
parser allows, a 10 MB line, Unicode edge cases, a JSON array among NDJSON files, pretty-printed
JSON, blank lines, bare scalars, a zero-byte file, a field in the wrong case and a string where the
bronze schema pins a number. Each `Kind` says how many bronze rows its file gives, which event ids
reach ``silver_order_events``, which ``failed_rules`` combinations reach the quarantine, and how many
records the bronze flow counts as corrupt or rescued (docs/bad-input.md is the same table in prose).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: the rules a line that is not a JSON object fails (docs/data-contract.md, `malformed_json`)
UNPARSEABLE = (
    "record_parseable",
    "order_id_present",
    "customer_id_present",
    "status_known",
    "event_time_not_future",
    "has_items",
)
TEN_MB = 10 * 1024 * 1024


def event(kind: str, n: int = 0, **changes: Any) -> dict[str, Any]:
    """A valid order event (a new order per kind and number, so dedup never merges two kinds)."""
    record: dict[str, Any] = {
        "event_id": f"EBAD-{kind}-{n}",
        "order_id": f"ORD-BAD-{kind}-{n}",
        "customer_id": "CUST-0000001",
        "status": "created",
        "event_time": "2026-01-02T10:00:00Z",
        "order_time": "2026-01-02T10:00:00Z",
        "currency": "EUR",
        "channel": "web",
        "payment_method": "card",
        "coupon_code": None,
        "shipping_address": {"street": "Main St 1", "city": "Lyon", "postal_code": "69001", "country": "FR"},
        "shipping_cost": 4.99,
        "items": [{"sku": "SKU-00001", "quantity": 2, "unit_price": 10.0, "discount": 0.0}],
    }
    for key, value in changes.items():
        if key == "city":
            record["shipping_address"] = {**record["shipping_address"], "city": value}
        else:
            record[key] = value
    return record


def line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: its file and where its records must go."""

    name: str
    file: str
    content: bytes
    bronze_rows: int
    silver: tuple[str, ...] = ()  # event ids in silver_order_events
    quarantine: Mapping[tuple[str, ...], int] = field(default_factory=dict)  # failed_rules -> rows
    corrupt: int = 0  # bronze flow's num_corrupt_records
    rescued: int = 0  # bronze flow's num_rescued_records
    silver_values: Mapping[str, Any] = field(default_factory=dict)  # event id -> expected city


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def corpus() -> list[Kind]:
    """Every hand-made kind (files named ``bad_<kind>.json``; none carries a ``_bNNNNN_`` batch id)."""
    kinds: list[Kind] = []

    def add(name: str, content: bytes, rows: int, **expected: Any) -> None:
        kinds.append(Kind(name, f"bad_{name}.json", content, rows, **expected))

    two = [line(event("truncated_file", i)) for i in range(2)]
    cut = line(event("truncated_file", 2))[:60]
    add(
        "truncated_file",
        b"\n".join([*two, cut]),  # the last line cut, no newline: a writer died mid-file
        3,
        silver=("EBAD-truncated_file-0", "EBAD-truncated_file-1"),
        quarantine={UNPARSEABLE: 1},
        corrupt=1,
    )
    add(
        "utf8_bom",
        b"\xef\xbb\xbf" + line(event("utf8_bom", 0)) + b"\n" + line(event("utf8_bom", 1)) + b"\n",
        2,
        silver=("EBAD-utf8_bom-0", "EBAD-utf8_bom-1"),
    )
    add(
        "crlf_line_ends",
        b"".join(line(event("crlf_line_ends", i)) + b"\r\n" for i in range(2)),
        2,
        silver=("EBAD-crlf_line_ends-0", "EBAD-crlf_line_ends-1"),
    )
    deep = line(event("deep_nesting")).replace(
        b'"coupon_code":null', b'"coupon_code":' + _nested(3000).encode()
    )
    add("deep_nesting", deep + b"\n", 1, quarantine={UNPARSEABLE: 1}, corrupt=1)
    item = {"sku": "SKU-00001", "quantity": 1, "unit_price": 1.0, "discount": 0.0}
    count = TEN_MB // len(json.dumps(item, separators=(",", ":"))) + 1
    add(
        "ten_mb_line",
        line(event("ten_mb_line", items=[item] * count)) + b"\n",
        1,
        quarantine={("items_count_reasonable",): 1},
    )
    surrogate = line(event("escaped_surrogate", city="SURROGATE")).replace(b"SURROGATE", b"\\ud800x")
    add(  # JSON allows the escape; Spark writes the unpaired surrogate as "?" (Java's UTF-8 encoder)
        "escaped_surrogate",
        surrogate + b"\n",
        1,
        silver=("EBAD-escaped_surrogate-0",),
        silver_values={"EBAD-escaped_surrogate-0": "?x"},
    )
    add(
        "emoji",
        line(event("emoji", city="Lyon \U0001f355 \U0001f469\u200d\U0001f469\u200d\U0001f467")) + b"\n",
        1,
        silver=("EBAD-emoji-0",),
        silver_values={"EBAD-emoji-0": "Lyon \U0001f355 \U0001f469\u200d\U0001f469\u200d\U0001f467"},
    )
    add(
        "nul_escaped",
        line(event("nul_escaped", city="Ly\x00on")) + b"\n",  # json.dumps writes \u0000
        1,
        silver=("EBAD-nul_escaped-0",),
        silver_values={"EBAD-nul_escaped-0": "Ly\x00on"},
    )
    raw_nul = line(event("nul_raw", city="LyXon")).replace(b"LyXon", b"Ly\x00on")
    add("nul_raw", raw_nul + b"\n", 1, quarantine={UNPARSEABLE: 1}, corrupt=1)
    rtl = "\u202e\u05d9\u05e8\u05d5\u05e9\u05dc\u05d9\u05dd \u0627\u0644\u0642\u062f\u0633\u202c"
    add(
        "rtl_text",
        line(event("rtl_text", city=rtl)) + b"\n",
        1,
        silver=("EBAD-rtl_text-0",),
        silver_values={"EBAD-rtl_text-0": rtl},
    )
    add(
        "json_array_file",
        json.dumps([event("json_array_file", i) for i in range(2)]).encode() + b"\n",
        2,
        silver=("EBAD-json_array_file-0", "EBAD-json_array_file-1"),
    )
    pretty = json.dumps([event("pretty_json", 0)], indent=2).encode()
    pretty_lines = len([x for x in pretty.splitlines() if x.strip()])
    add(
        "pretty_json",
        pretty + b"\n",
        pretty_lines,
        quarantine={UNPARSEABLE: pretty_lines},
        corrupt=pretty_lines,
    )
    add(
        "blank_lines",
        b"\n\n" + line(event("blank_lines")) + b"\n   \n\n",
        1,
        silver=("EBAD-blank_lines-0",),
    )
    add("bare_scalars", b'42\n"just a string"\nnull\n', 3, quarantine={UNPARSEABLE: 3}, corrupt=3)
    add("zero_byte_file", b"", 0)
    wrong_case = line(event("wrong_case_key")).replace(b'"order_id"', b'"Order_Id"')
    add(
        "wrong_case_key",
        wrong_case + b"\n",
        1,
        quarantine={("order_id_present",): 1},
        rescued=1,
    )
    add(
        "string_in_number_column",
        line(event("string_in_number_column", shipping_cost="4.99")) + b"\n",
        1,
        silver=("EBAD-string_in_number_column-0",),
        rescued=1,
    )
    return kinds


def write_corpus(folder: Any, kinds: list[Kind]) -> None:
    """Write each file as a hidden temp file, then rename it into place (what Auto Loader expects)."""
    import os

    for kind in kinds:
        tmp = folder / f".{kind.file}.tmp"
        tmp.write_bytes(kind.content)
        os.replace(tmp, folder / kind.file)
