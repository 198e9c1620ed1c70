"""A second, deliberately naive oracle: reads the dropped files back and applies docs/data-contract.md
line by line (Decimal money, plain dicts). The simulator's manifest must agree with it exactly.

It shares no code with `simulator/` on purpose: it classifies each line's defect from the bytes,
evaluates the contract's rules, deduplicates by (event_time, status_rank, event_id) and recomputes
every aggregate, the SCD2 versions and the feed invariants.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

RANK = {"created": 1, "paid": 2, "shipped": 3, "delivered": 4, "cancelled": 5, "returned": 6}
PARSE_RULES = (
    "record_parseable",
    "order_id_present",
    "customer_id_present",
    "status_known",
    "event_time_not_future",
    "has_items",
)


@dataclass
class Line:
    batch: int
    raw: bytes
    newline: bool
    record: dict[str, Any] | None = None
    utf8: bool = True
    failed: tuple[str, ...] = ()
    kind: str | None = None


@dataclass
class Landing:
    """Everything dropped for batches 1..N, in batch and file order."""

    manifests: dict[int, dict[str, Any]]
    order_lines: list[Line] = field(default_factory=list)
    empty_files: dict[int, int] = field(default_factory=dict)
    customer_records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def read_landing(out: Path, upto: int | None = None) -> Landing:
    manifests = {}
    for path in sorted((out / "manifests").glob("manifest_b*.json")):
        manifest = json.loads(path.read_bytes())
        if upto is None or manifest["batch_id"] <= upto:
            manifests[manifest["batch_id"]] = manifest
    landing = Landing(manifests)
    for batch, manifest in sorted(manifests.items()):
        for entry in manifest["files"]:
            data = (out / "landing" / entry["folder"] / entry["name"]).read_bytes()
            if entry["folder"] == "customers":
                texts = (
                    json.loads(data) if data.startswith(b"[") else [json.loads(t) for t in data.splitlines()]
                )
                landing.customer_records += [(batch, record) for record in texts]
                continue
            if not data:
                landing.empty_files[batch] = landing.empty_files.get(batch, 0) + 1
                continue
            if data.startswith(b"["):
                parts = [json.dumps(r).encode() for r in json.loads(data.decode("utf-8", "replace"))]
                landing.order_lines += [Line(batch, p, True) for p in parts]
                continue
            pieces = data.split(b"\n")
            for index, piece in enumerate(pieces):
                last = index == len(pieces) - 1
                if last and piece == b"":
                    continue
                landing.order_lines.append(Line(batch, piece, not last))
    return landing


def _number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def evaluate(line: Line) -> None:
    """Parse the line (as Spark would: invalid UTF-8 replaced) and apply the contract's rules."""
    try:
        line.raw.decode("utf-8")
    except UnicodeDecodeError:
        line.utf8 = False
    try:
        record = json.loads(line.raw.decode("utf-8", "replace"), parse_float=Decimal)
        line.record = record if isinstance(record, dict) else None
    except json.JSONDecodeError:
        line.record = None
    record = line.record
    if record is None:
        line.failed = PARSE_RULES
        return
    failed = []
    items = record.get("items")
    if not isinstance(record.get("order_id"), str):
        failed.append("order_id_present")
    if not isinstance(record.get("customer_id"), str):
        failed.append("customer_id_present")
    if record.get("status") not in RANK:
        failed.append("status_known")
    if not isinstance(record.get("event_time"), str) or record["event_time"] >= "2100":
        failed.append("event_time_not_future")
    if not isinstance(items, list) or not items:
        failed.append("has_items")
    items = items if isinstance(items, list) else []
    quantities = [item.get("quantity") for item in items]
    if any(_number(q) and q <= 0 for q in quantities):
        failed.append("quantity_positive")
    if any(_number(item.get("unit_price")) and item["unit_price"] < 0 for item in items):
        failed.append("price_non_negative")
    if any(q is not None and not _number(q) for q in quantities):
        failed.append("quantity_numeric")
    if len(items) > 100:
        failed.append("items_count_reasonable")
    if not line.utf8:
        failed.append("text_encoding_valid")
    line.failed = tuple(failed)


def classify(landing: Landing) -> dict[str, int]:
    """Defect kind of every order line, read from the bytes alone; counts per kind."""
    counts: dict[str, int] = defaultdict(int)
    seen_lines: set[bytes] = set()
    seen_events: dict[tuple[str, str, str], str] = {}
    for line in landing.order_lines:
        evaluate(line)
        r = line.record
        if not line.newline:
            line.kind = "truncated_last_line"
        elif not line.utf8:
            line.kind = "non_utf8"
        elif r is None:
            line.kind = "malformed_json"
        elif "order_id" not in r:
            line.kind = "missing_order_id"
        elif r["order_id"] is None:
            line.kind = "null_order_id"
        elif "customer_id" not in r:
            line.kind = "missing_customer_id"
        elif r["customer_id"] is None:
            line.kind = "null_customer_id"
        elif r["status"] not in RANK:
            line.kind = "unknown_status"
        elif r["event_time"] >= "2100":
            line.kind = "future_timestamp"
        elif len(r["items"]) > 100:
            line.kind = "oversized_line"
        elif any(isinstance(i["quantity"], str) for i in r["items"]):
            line.kind = "wrong_type"
        elif any(i["quantity"] <= 0 for i in r["items"]):
            line.kind = "non_positive_quantity"
        elif any(i["unit_price"] < 0 for i in r["items"]):
            line.kind = "negative_price"
        elif line.raw in seen_lines:
            line.kind = "duplicate_identical"
        elif (r["order_id"], r["event_time"], r["status"]) in seen_events:
            line.kind = "duplicate_conflicting"
        if line.kind is None and r is not None:
            seen_events[(r["order_id"], r["event_time"], r["status"])] = r["event_id"]
        seen_lines.add(line.raw)
        if line.kind:
            counts[line.kind] += 1
    for batch_count in landing.empty_files.values():
        counts["empty_file"] += batch_count
    return dict(counts)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def expected_orders(landing: Landing) -> dict[str, Any]:
    """Current state per order over valid events, then the gold aggregates of the contract."""
    current: dict[str, tuple[tuple[str, int, str], dict[str, Any]]] = {}
    by_rule: dict[str, int] = defaultdict(int)
    quarantined = 0
    for line in landing.order_lines:
        if not line.failed and not line.record:
            evaluate(line)
        for rule in line.failed:
            by_rule[rule] += 1
        if line.failed:
            quarantined += 1
            continue
        r = line.record
        assert r is not None
        key = (r["event_time"], RANK[r["status"]], r["event_id"])
        if r["order_id"] not in current or key > current[r["order_id"]][0]:
            current[r["order_id"]] = (key, r)
    daily: dict[str, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    hourly: dict[tuple[str, int], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    status: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    channel: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    products: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0)])
    first_order: dict[str, str] = {}
    for _key, r in current.values():
        revenue = sum((i["quantity"] * i["unit_price"] - i["discount"] for i in r["items"]), Decimal(0))
        units = sum(i["quantity"] for i in r["items"])
        date, hour = r["order_time"][:10], int(r["order_time"][11:13])
        for bucket in (daily[date], hourly[(date, hour)]):
            bucket[0] += 1
            bucket[1] += units
            bucket[2] += revenue
        status[r["status"]][0] += 1
        status[r["status"]][1] += revenue
        channel[r["channel"]][0] += 1
        channel[r["channel"]][1] += revenue
        for i in r["items"]:
            products[i["sku"]][0] += i["quantity"]
            products[i["sku"]][1] += i["quantity"] * i["unit_price"] - i["discount"]
        c = r["customer_id"]
        first_order[c] = min(first_order.get(c, r["order_time"]), r["order_time"])
    cohorts: dict[str, int] = defaultdict(int)
    for when in first_order.values():
        cohorts[when[:7]] += 1
    return {
        "valid_order_events": len(landing.order_lines) - quarantined,
        "quarantined_order_events": quarantined,
        "quarantine_by_rule": dict(by_rule),
        "orders": len(current),
        "customers_with_orders": len(first_order),
        "daily": [
            {"date": d, "orders": v[0], "units": v[1], "revenue": _money(v[2])}
            for d, v in sorted(daily.items())
        ],
        "hourly": [
            {"date": d, "hour": h, "orders": v[0], "units": v[1], "revenue": _money(v[2])}
            for (d, h), v in sorted(hourly.items())
        ],
        "by_status": [
            {"status": s, "orders": v[0], "revenue": _money(v[1])} for s, v in sorted(status.items())
        ],
        "by_channel": [
            {"channel": s, "orders": v[0], "revenue": _money(v[1])} for s, v in sorted(channel.items())
        ],
        "products": [{"sku": s, "units": v[0], "revenue": _money(v[1])} for s, v in sorted(products.items())],
        "cohorts": [{"cohort_month": m, "customers": n} for m, n in sorted(cohorts.items())],
    }


def expected_customers(landing: Landing) -> dict[str, Any]:
    """SCD2 versions per customer in sequence order (tracked columns only), current customers."""
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _batch, record in landing.customer_records:
        history[record["customer_id"]].append(record)
    versions: dict[str, int] = {}
    current = 0
    tracked = ("email", "first_name", "last_name", "address", "tier")
    for customer, records in history.items():
        records.sort(key=lambda r: r["sequence_num"])
        count, previous = 0, None
        for r in records:
            if r["operation"] == "DELETE":
                previous = None
                continue
            values = tuple(json.dumps(r[c], sort_keys=True) for c in tracked)
            if values != previous:
                count += 1
            previous = values
        versions[customer] = count
        current += records[-1]["operation"] == "UPSERT"
    return {"scd2_versions": dict(sorted(versions.items())), "current_customers": current}
