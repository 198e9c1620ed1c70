"""The cumulative oracle: what the gold tables must hold after each batch, computed without Spark.

Current state of an order = its valid event with the greatest (event_time, status_rank, event_id)
(docs/data-contract.md). An order's events and their defects are all drawn when it is placed, so
its state after every future batch is known then: the valid events are grouped by the batch that
delivers them, the last one of each group is the state after that batch (a conflicting duplicate
of that event wins: it has the same time and status and a greater event id). The difference
between consecutive states is booked into the batch where it happens; applying the bookings of a
batch updates running totals. Memory is bounded by the open bookings (the orders' remaining
lifetime), not by the number of orders ever made. Money is integer cents throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from simulator.clock import DAY, HOUR, day_text, month_text
from simulator.orders import CHANNELS, DUP_CONFLICTING, DUP_IDENTICAL, STATUSES, NewOrders

_NEVER = np.iinfo(np.int64).max
_SCHEMAS: dict[str, dict[str, Any]] = {
    "daily": {"day": pl.Int64, "orders": pl.Int64, "units": pl.Int64, "revenue": pl.Int64},
    "hourly": {"day": pl.Int64, "hour": pl.Int64, "orders": pl.Int64, "units": pl.Int64, "revenue": pl.Int64},
    "status": {"status": pl.Int64, "orders": pl.Int64, "revenue": pl.Int64},
    "channel": {"channel": pl.Int64, "orders": pl.Int64, "revenue": pl.Int64},
    "products": {"sku": pl.Int64, "units": pl.Int64, "revenue": pl.Int64},
}
_KEYS = {
    "daily": ["day"],
    "hourly": ["day", "hour"],
    "status": ["status"],
    "channel": ["channel"],
    "products": ["sku"],
}


def cents(value: int) -> str:
    """Integer cents -> '1234.56' (exactly 2 decimals, sign in front)."""
    sign = "-" if value < 0 else ""
    value = abs(int(value))
    return f"{sign}{value // 100}.{value % 100:02d}"


def _sum(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    keys = _KEYS[name]
    return frame.group_by(keys).agg(pl.all().sum()).sort(keys)


class Oracle:
    """Running gold aggregates plus bookings for future batches."""

    def __init__(self, customers: int, sku_names: tuple[str, ...]) -> None:
        self.sku_names = sku_names
        self.totals = {name: pl.DataFrame(schema=schema) for name, schema in _SCHEMAS.items()}
        self.orders = 0
        self.first_order = np.full(customers, _NEVER, dtype=np.int64)
        self._bookings: dict[int, dict[str, list[pl.DataFrame]]] = {}
        self._visible: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._new_orders: dict[int, int] = {}

    # --- booking ---------------------------------------------------------------------------------
    def book(self, orders: NewOrders) -> None:
        """Book the effect of every future state change of these orders into its batch."""
        kind = orders.ev_kind
        valid = (kind == 0) | (kind >= DUP_IDENTICAL)
        o, b, s = orders.ev_order[valid], orders.ev_batch[valid], orders.ev_status[valid]
        v = (kind[valid] == DUP_CONFLICTING).astype(np.int64)
        if len(o) == 0:
            return
        last = np.ones(len(o), dtype=bool)
        last[:-1] = (o[1:] != o[:-1]) | (b[1:] != b[:-1])
        o, b, s, v = o[last], b[last], s[last], v[last]
        has_prev = np.zeros(len(o), dtype=bool)
        has_prev[1:] = o[1:] == o[:-1]
        prev = np.maximum(np.arange(len(o)) - 1, 0)
        ps, pv = s[prev], v[prev]
        rev = np.where(v == 1, orders.alt_revenue[o], orders.revenue[o])
        unit = np.where(v == 1, orders.alt_units[o], orders.units[o])
        prev_rev = np.where(pv == 1, orders.alt_revenue[o], orders.revenue[o])
        prev_unit = np.where(pv == 1, orders.alt_units[o], orders.units[o])
        first = ~has_prev
        content = first | (v != pv)
        d_orders = first.astype(np.int64)
        d_units = np.where(first, unit, unit - prev_unit)
        d_rev = np.where(first, rev, rev - prev_rev)
        when = orders.order_time[o]
        day, hour = when // DAY, (when % DAY) // HOUR
        order_rows = {"day": day, "hour": hour, "orders": d_orders, "units": d_units, "revenue": d_rev}
        self._add(
            b[content], "daily", {k: order_rows[k][content] for k in ("day", "orders", "units", "revenue")}
        )
        self._add(b[content], "hourly", {k: val[content] for k, val in order_rows.items()})
        self._add(
            b[content],
            "channel",
            {"channel": orders.channel[o][content], "orders": d_orders[content], "revenue": d_rev[content]},
        )
        self._add(b, "status", {"status": s, "orders": np.ones(len(o), dtype=np.int64), "revenue": rev})
        self._add(
            b[has_prev],
            "status",
            {
                "status": ps[has_prev],
                "orders": -np.ones(has_prev.sum(), dtype=np.int64),
                "revenue": -prev_rev[has_prev],
            },
        )
        self._book_products(orders, o[content], b[content], v[content], +1)
        changed = content & has_prev
        self._book_products(orders, o[changed], b[changed], pv[changed], -1)
        for batch in np.unique(b[first]):
            pick = first & (b == batch)
            self._visible.setdefault(int(batch), []).append(
                (orders.customer[o[pick]], orders.order_time[o[pick]])
            )
        for batch, count in zip(*np.unique(b[first], return_counts=True), strict=True):
            self._new_orders[int(batch)] = self._new_orders.get(int(batch), 0) + int(count)

    def _book_products(
        self, orders: NewOrders, o: np.ndarray, b: np.ndarray, variant: np.ndarray, sign: int
    ) -> None:
        if len(o) == 0:
            return
        starts, ends = orders.item_offsets[o], orders.item_offsets[o + 1]
        counts = ends - starts
        row = np.repeat(np.arange(len(o)), counts)
        item = (
            np.arange(counts.sum())
            - np.repeat(np.cumsum(counts) - counts, counts)
            + np.repeat(starts, counts)
        )
        quantity = orders.quantity[item].copy()
        discount = orders.discount[item].copy()
        alt_first = (item == np.repeat(starts, counts)) & (variant[row] == 1)
        quantity[alt_first] += 1
        discount[alt_first] = orders.alt_discount0[o[row[alt_first]]]
        net = quantity * orders.unit_price[item] - discount
        self._add(
            b[row], "products", {"sku": orders.sku[item], "units": sign * quantity, "revenue": sign * net}
        )

    def _add(self, batches: np.ndarray, name: str, columns: dict[str, np.ndarray]) -> None:
        if len(batches) == 0:
            return
        frame = pl.DataFrame(
            {"batch": batches.astype(np.int64)}
            | {k: np.asarray(c, dtype=np.int64) for k, c in columns.items()}
        )
        keys = ["batch", *_KEYS[name]]
        frame = frame.group_by(keys).agg(pl.all().sum())
        for (batch,), part in frame.partition_by("batch", as_dict=True).items():
            self._bookings.setdefault(int(batch), {}).setdefault(name, []).append(part.drop("batch"))

    # --- applying ---------------------------------------------------------------------------------
    def apply(self, batch_id: int) -> None:
        """Apply the bookings of `batch_id` (call once per batch, in order)."""
        for name, parts in self._bookings.pop(batch_id, {}).items():
            self.totals[name] = _sum(pl.concat([self.totals[name], *parts], how="vertical"), name)
        for customers, times in self._visible.pop(batch_id, []):
            np.minimum.at(self.first_order, customers, times)
        self.orders += self._new_orders.pop(batch_id, 0)

    def expected(self) -> dict[str, Any]:
        """The order-side part of the manifest's `expected` block (current totals)."""
        t = self.totals
        daily = t["daily"].filter(pl.col("orders") > 0)
        hourly = t["hourly"].filter(pl.col("orders") > 0)
        status = t["status"].filter(pl.col("orders") > 0)
        channel = t["channel"].filter(pl.col("orders") > 0)
        products = t["products"].filter(pl.col("units") > 0)
        firsts = self.first_order[self.first_order != _NEVER]
        months: dict[str, int] = {}
        if len(firsts):
            first_of_month = np.unique(firsts // DAY)
            labels = {int(d): month_text(int(d) * DAY) for d in first_of_month}
            for d, count in zip(*np.unique(firsts // DAY, return_counts=True), strict=True):
                months[labels[int(d)]] = months.get(labels[int(d)], 0) + int(count)
        return {
            "orders": self.orders,
            "customers_with_orders": len(firsts),
            "daily": [
                {"date": day_text(r[0]), "orders": r[1], "units": r[2], "revenue": cents(r[3])}
                for r in daily.iter_rows()
            ],
            "hourly": [
                {"date": day_text(r[0]), "hour": r[1], "orders": r[2], "units": r[3], "revenue": cents(r[4])}
                for r in hourly.iter_rows()
            ],
            "by_status": sorted(
                (
                    {"status": STATUSES[r[0] - 1], "orders": r[1], "revenue": cents(r[2])}
                    for r in status.iter_rows()
                ),
                key=lambda row: row["status"],
            ),
            "by_channel": sorted(
                (
                    {"channel": CHANNELS[r[0]], "orders": r[1], "revenue": cents(r[2])}
                    for r in channel.iter_rows()
                ),
                key=lambda row: row["channel"],
            ),
            "products": [
                {"sku": self.sku_names[r[0]], "units": r[1], "revenue": cents(r[2])}
                for r in products.iter_rows()
            ],
            "cohorts": [{"cohort_month": m, "customers": c} for m, c in sorted(months.items())],
        }
