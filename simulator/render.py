"""Column-wise JSON text: order content rendered once per order, event lines assembled per batch.

polars `concat_str` builds every line from pre-encoded fragments (pool strings went through orjson
once, see pools.py), so no JSON encoder runs per row. An order's content is split into the parts
that never change (`head`: ids, `tail`: order time .. shipping address, `items`) and the parts
that depend on the delivering batch (status, event time, event id, and the drifted
`shipping_cost` / `gift_wrap`). Field order follows docs/data-contract.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from simulator.orders import CHANNELS, COUPONS, MAX_ITEMS, PAYMENTS, STATUSES, NewOrders
from simulator.pools import Catalog, Pools


def money(column: pl.Expr) -> pl.Expr:
    """Integer cents (>= 0) -> JSON number text with 2 decimals: 499 -> 4.99, 0 -> 0.00."""
    return pl.concat_str(
        [(column // 100).cast(pl.String), pl.lit("."), (column % 100).cast(pl.String).str.zfill(2)]
    )


def timestamps(epochs: np.ndarray) -> pl.Series:
    """Epoch seconds -> '2026-01-05T13:45:12Z' text; a lookup table when the values are dense."""
    if len(epochs) == 0:
        return pl.Series("ts", [], dtype=pl.String)
    low, high = int(epochs.min()), int(epochs.max())
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    if high - low + 1 <= 2 * len(epochs):
        table = pl.from_epoch(pl.Series(np.arange(low, high + 1, dtype=np.int64)), time_unit="s").dt.strftime(
            fmt
        )
        return table.gather(pl.Series(epochs - low))
    return pl.from_epoch(pl.Series(epochs.astype(np.int64)), time_unit="s").dt.strftime(fmt)


@dataclass(frozen=True)
class Tables:
    """Fragments rendered once per simulator: catalogue, pools and enumerations as JSON text."""

    sku_prefix: pl.Series  # {"sku":"SKU-00012","quantity":
    sku_price: pl.Series  # ,"unit_price":19.99,"discount":
    address: pl.Series  # {"street":..,"city":..,"postal_code":..,"country":..}
    channel: pl.Series
    payment: pl.Series
    coupon: pl.Series  # index 0: null, then "CODE"
    status: pl.Series  # "status":"paid","event_time":"

    @classmethod
    def build(cls, pools: Pools, catalog: Catalog) -> Tables:
        prices = [f"{p // 100}.{p % 100:02d}" for p in catalog.price_cents.tolist()]
        return cls(
            sku_prefix=pl.Series([f'{{"sku":"{s}","quantity":' for s in catalog.sku]),
            sku_price=pl.Series([f',"unit_price":{p},"discount":' for p in prices]),
            address=pl.Series(list(pools.address_json)),
            channel=pl.Series(list(CHANNELS)),
            payment=pl.Series(list(PAYMENTS)),
            coupon=pl.Series(["null"] + [f'"{code}"' for code, _ in COUPONS]),
            status=pl.Series([f'"status":"{s}","event_time":"' for s in STATUSES]),
        )


def _gather(table: pl.Series, index: np.ndarray) -> pl.Series:
    return table.gather(pl.Series(index.astype(np.int64)))


def _item_fragments(tables: Tables, sku: np.ndarray, quantity: np.ndarray, discount: np.ndarray) -> pl.Series:
    frame = pl.DataFrame(
        {
            "a": _gather(tables.sku_prefix, sku),
            "q": quantity.astype(np.int64),
            "b": _gather(tables.sku_price, sku),
            "d": discount.astype(np.int64),
        }
    )
    expr = pl.concat_str(
        [pl.col("a"), pl.col("q").cast(pl.String), pl.col("b"), money(pl.col("d")), pl.lit("}")]
    )
    return frame.select(expr.alias("f")).to_series()


def order_store(orders: NewOrders, tables: Tables, conflicting: np.ndarray, with_drift: bool) -> pl.DataFrame:
    """One row per order: the unchanging parts of its event lines (see module docstring).

    `body` is everything after the event fields, newline included; `drift_body` the same in the
    drifted schema (only when a drift batch is configured). `conflicting` flags the orders that get
    a conflicting duplicate; only they carry `alt_body` (first item's quantity + 1, discount
    recomputed), the rest hold null there.
    """
    n = len(orders)
    offsets = orders.item_offsets
    starts, counts = offsets[:-1], np.diff(offsets)
    fragments = _item_fragments(tables, orders.sku, orders.quantity, orders.discount)
    comma = pl.select(pl.concat_str([pl.lit(","), pl.lit(fragments)])).to_series()
    columns: dict[str, pl.Series] = {"i0": fragments.gather(pl.Series(starts.astype(np.int64)))}
    for position in range(1, MAX_ITEMS):
        has = counts > position
        if not has.any():
            break
        picked = comma.gather(pl.Series(np.where(has, starts + position, 0).astype(np.int64)))
        columns[f"i{position}"] = pl.select(pl.when(pl.lit(pl.Series(has))).then(pl.lit(picked))).to_series()
    rest_names = [name for name in columns if name != "i0"]
    frame = pl.DataFrame(columns)
    rest = (
        frame.select(pl.concat_str([pl.col(c) for c in rest_names], ignore_nulls=True).alias("r")).to_series()
        if rest_names
        else pl.Series("r", [""] * n, dtype=pl.String)
    )
    alt = pl.Series("alt", [None] * n, dtype=pl.String)
    rows = np.flatnonzero(conflicting)
    if len(rows):
        first = starts[rows]
        alt_first = _item_fragments(
            tables, orders.sku[first], orders.quantity[first] + 1, orders.alt_discount0[rows]
        )
        alt_text = pl.select(
            pl.concat_str([pl.lit(alt_first), pl.lit(rest.gather(pl.Series(rows)))])
        ).to_series()
        alt = alt.scatter(rows, alt_text)
    base = pl.DataFrame(
        {
            "number": orders.number,
            "customer": orders.customer.astype(np.int64) + 1,
            "ts": timestamps(orders.order_time),
            "channel": _gather(tables.channel, orders.channel),
            "payment": _gather(tables.payment, orders.payment),
            "coupon": _gather(tables.coupon, orders.coupon + 1),
            "address": _gather(tables.address, orders.address),
            "ship": orders.shipping.astype(np.int64),
            "gift": orders.gift_wrap,
            "i0": columns["i0"],
            "rest": rest,
            "alt": alt,
        }
    )
    tail = pl.concat_str(
        [
            pl.lit('"order_time":"'),
            pl.col("ts"),
            pl.lit('","currency":"EUR","channel":"'),
            pl.col("channel"),
            pl.lit('","payment_method":"'),
            pl.col("payment"),
            pl.lit('","coupon_code":'),
            pl.col("coupon"),
            pl.lit(',"shipping_address":'),
            pl.col("address"),
            pl.lit(',"shipping_cost":'),
        ]
    )
    ship = money(pl.col("ship"))
    drifted_ship = pl.concat_str([pl.lit('{"amount":'), ship, pl.lit(',"currency":"EUR"}')])
    gift = (
        pl.when(pl.col("gift"))
        .then(pl.lit(',"gift_wrap":true}\n'))
        .otherwise(pl.lit(',"gift_wrap":false}\n'))
    )
    items = pl.concat_str([pl.lit(',"items":['), pl.col("i0"), pl.col("rest"), pl.lit("]")])
    alt_items = pl.concat_str([pl.lit(',"items":['), pl.col("alt"), pl.lit("]")])
    parts = {
        "body": pl.concat_str([pl.col("tail"), ship, items, pl.lit("}\n")]),
        "alt_body": pl.concat_str([pl.col("tail"), ship, alt_items, pl.lit("}\n")]),
    }
    if with_drift:
        parts["drift_body"] = pl.concat_str([pl.col("tail"), drifted_ship, items, gift])
        parts["drift_alt_body"] = pl.concat_str([pl.col("tail"), drifted_ship, alt_items, gift])
    head = pl.concat_str(
        [
            pl.lit('"order_id":"ORD-'),
            pl.col("number").cast(pl.String).str.zfill(9),
            pl.lit('","customer_id":"CUST-'),
            pl.col("customer").cast(pl.String).str.zfill(7),
            pl.lit('",'),
        ]
    )
    return base.with_columns(tail=tail).select(
        pl.col("number"), head.alias("head"), *[expr.alias(name) for name, expr in parts.items()]
    )


def event_lines(batch_id: int, events: pl.DataFrame, tables: Tables, drift: bool) -> pl.Series:
    """Render sorted event rows (head, body columns + eid, status, time, use_alt) into JSON lines that
    end in a newline, so the column's Arrow buffer is the NDJSON file (see writer.write_lines)."""
    prefix = "drift_" if drift else ""
    frame = events.with_columns(
        status_text=_gather(tables.status, events["status"].to_numpy() - 1),
        time_text=timestamps(events["time"].to_numpy()),
    )

    def render(body: str) -> pl.Expr:
        return pl.concat_str(
            [
                pl.lit(f'{{"event_id":"E{batch_id:05d}-'),
                pl.col("eid").cast(pl.String).str.zfill(7),
                pl.lit('",'),
                pl.col("head"),
                pl.col("status_text"),
                pl.col("time_text"),
                pl.lit('",'),
                pl.col(body),
            ]
        ).alias("line")

    lines = frame.select(render(f"{prefix}body")).to_series()
    alt_rows = np.flatnonzero(events["use_alt"].to_numpy())
    if len(alt_rows):
        alt = frame[alt_rows].select(render(f"{prefix}alt_body")).to_series()
        lines = lines.scatter(alt_rows, alt)
    return lines
