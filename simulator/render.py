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
import pyarrow as pa

from simulator.orders import CHANNELS, COUPONS, PAYMENTS, STATUSES, NewOrders
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


def _item_lists(fragments: pl.Series, offsets: np.ndarray) -> pl.Series:
    """Item fragments of each order joined with commas (offsets: order o owns [o_k, o_k+1))."""
    array = pa.LargeListArray.from_arrays(pa.array(offsets.astype(np.int64)), fragments.to_arrow())
    return pl.Series("items", array).list.join(",")


def order_store(orders: NewOrders, tables: Tables, conflicting: np.ndarray) -> pl.DataFrame:
    """One row per order: the unchanging parts of its event lines (see module docstring).

    `tail` runs from `"order_time"` to `"shipping_cost":`; `ship` is the shipping cost as a JSON
    number, `items` the `,"items":[..]` array. `conflicting` flags the orders that get a
    conflicting duplicate; only they carry `alt_items` (first item's quantity + 1, discount
    recomputed), the rest hold null there. The drifted schema is assembled from the same parts when
    a line is rendered, so the store never holds a second copy of an order.
    """
    n = len(orders)
    offsets = orders.item_offsets
    starts = offsets[:-1]
    fragments = _item_fragments(tables, orders.sku, orders.quantity, orders.discount)
    items = _item_lists(fragments, offsets)
    alt = pl.Series("alt", [None] * n, dtype=pl.String)
    rows = np.flatnonzero(conflicting)
    if len(rows):
        first = starts[rows]
        alt_first = _item_fragments(
            tables, orders.sku[first], orders.quantity[first] + 1, orders.alt_discount0[rows]
        )
        counts = np.diff(offsets)[rows]
        sub_offsets = np.concatenate([[0], np.cumsum(counts)])
        items_of_rows = np.repeat(first - sub_offsets[:-1], counts) + np.arange(sub_offsets[-1])
        sub = fragments.gather(pl.Series(items_of_rows)).scatter(sub_offsets[:-1], alt_first)
        alt = alt.scatter(rows, _item_lists(sub, sub_offsets))
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
            "items": items,
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
    head = pl.concat_str(
        [
            pl.lit('"order_id":"ORD-'),
            pl.col("number").cast(pl.String).str.zfill(9),
            pl.lit('","customer_id":"CUST-'),
            pl.col("customer").cast(pl.String).str.zfill(7),
            pl.lit('",'),
        ]
    )
    return base.select(
        pl.col("number"),
        head.alias("head"),
        tail.alias("tail"),
        money(pl.col("ship")).alias("ship"),
        pl.col("gift"),
        pl.concat_str([pl.lit(',"items":['), pl.col("items"), pl.lit("]")]).alias("items"),
        pl.concat_str([pl.lit(',"items":['), pl.col("alt"), pl.lit("]")]).alias("alt_items"),
    )


def event_lines(batch_id: int, events: pl.DataFrame, tables: Tables, drift: bool) -> pl.Series:
    """Render sorted event rows (store columns + eid, status, time, use_alt) into JSON lines that
    end in a newline, so the column's Arrow buffer is the NDJSON file (see writer.write_lines)."""
    frame = events.with_columns(
        status_text=_gather(tables.status, events["status"].to_numpy() - 1),
        time_text=timestamps(events["time"].to_numpy()),
    )
    items = pl.when(pl.col("use_alt")).then(pl.col("alt_items")).otherwise(pl.col("items"))
    if drift:
        ship = [pl.lit('{"amount":'), pl.col("ship"), pl.lit(',"currency":"EUR"}')]
        end = (
            pl.when(pl.col("gift"))
            .then(pl.lit(',"gift_wrap":true}\n'))
            .otherwise(pl.lit(',"gift_wrap":false}\n'))
        )
    else:
        ship, end = [pl.col("ship")], pl.lit("}\n")
    line = pl.concat_str(
        [
            pl.lit(f'{{"event_id":"E{batch_id:05d}-'),
            pl.col("eid").cast(pl.String).str.zfill(7),
            pl.lit('",'),
            pl.col("head"),
            pl.col("status_text"),
            pl.col("time_text"),
            pl.lit('",'),
            pl.col("tail"),
            *ship,
            items,
            end,
        ]
    )
    return frame.select(line.alias("line")).to_series()
