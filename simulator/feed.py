"""Customer feed records, column-wise: state snapshots, their JSON lines, and the SCD2 oracle.

A feed record is the full state of a customer after a change. `CustomerBook` only takes integer
snapshots of that state (pool indices, sequence number, times) when a change happens; this module
turns a batch of snapshots into JSON lines with polars string expressions over pre-encoded pool
fragments (no JSON encoder per record), and counts SCD2 versions from the same fragments.

JSON string escaping is character-local, so the escaped form of `a + b` is the escaped `a` followed
by the escaped `b`: an e-mail is assembled from escaped name and domain pieces and still equals what
`orjson.dumps` of the whole record would write.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import polars as pl

from simulator.pools import Pools
from simulator.render import timestamps

TIERS = ("bronze", "silver", "gold", "platinum")
#: Snapshot columns, in this order, all Int64 (`delete` 0/1).
SNAPSHOT_COLUMNS = (
    "change_time",
    "customer",
    "seq",
    "delete",
    "first",
    "last",
    "address",
    "domain",
    "email_version",
    "tier",
    "signup",
)
_SCHEMA = dict.fromkeys(SNAPSHOT_COLUMNS, pl.Int64)
_DELETED_TAIL = (
    ',"email":null,"first_name":null,"last_name":null,"address":null,"tier":null,"signup_time":null}'
)


def snapshots(columns: dict[str, np.ndarray] | list[tuple[int, ...]]) -> pl.DataFrame:
    """A snapshot frame from column arrays or from row tuples in `SNAPSHOT_COLUMNS` order."""
    if isinstance(columns, list):
        return pl.DataFrame(columns, schema=_SCHEMA, orient="row")
    return pl.DataFrame({k: np.asarray(columns[k], dtype=np.int64) for k in SNAPSHOT_COLUMNS})


def _escaped(text: str) -> str:
    """JSON-escaped `text` without the quotes."""
    return orjson.dumps(text).decode()[1:-1]


@dataclass(frozen=True)
class FeedTables:
    """Pool strings as JSON fragments, gathered by snapshot index when rendering."""

    first_json: pl.Series  # "Jürgen" (quoted, escaped)
    last_json: pl.Series
    ascii_first: pl.Series  # escaped, unquoted (e-mail local part)
    ascii_last: pl.Series
    ascii_initial: pl.Series
    domain: pl.Series  # escaped, unquoted
    address: pl.Series  # {"street":..,"city":..,"postal_code":..,"country":..}
    tier: pl.Series  # "gold" (quoted)

    @classmethod
    def build(cls, pools: Pools) -> FeedTables:
        return cls(
            first_json=pl.Series([orjson.dumps(n).decode() for n in pools.first_names]),
            last_json=pl.Series([orjson.dumps(n).decode() for n in pools.last_names]),
            ascii_first=pl.Series([_escaped(n) for n in pools.ascii_first]),
            ascii_last=pl.Series([_escaped(n) for n in pools.ascii_last]),
            ascii_initial=pl.Series([_escaped(n[:1]) for n in pools.ascii_first]),
            domain=pl.Series([_escaped(d) for d in pools.domains]),
            address=pl.Series(list(pools.address_json)),
            tier=pl.Series([f'"{t}"' for t in TIERS]),
        )


def _gather(table: pl.Series, index: pl.Series) -> pl.Series:
    return table.gather(index)


def fingerprints(tables: FeedTables, frame: pl.DataFrame) -> pl.Series:
    """The tracked SCD2 columns of each record as one JSON fragment (null for a DELETE).

    The fragment encodes (email, first_name, last_name, address, tier) injectively, so two records
    have the same tracked values exactly when their fragments are equal; it is also the middle of the
    record's JSON line.
    """
    if frame.height == 0:
        return pl.Series("fp", [], dtype=pl.String)
    version = frame["email_version"]
    number = (frame["customer"] + 1).cast(pl.String)
    parts = pl.DataFrame(
        {
            "af": _gather(tables.ascii_first, frame["first"]),
            "ai": _gather(tables.ascii_initial, frame["first"]),
            "al": _gather(tables.ascii_last, frame["last"]),
            "n": number,
            "v": version,
            "dom": _gather(tables.domain, frame["domain"]),
            "fj": _gather(tables.first_json, frame["first"]),
            "lj": _gather(tables.last_json, frame["last"]),
            "addr": _gather(tables.address, frame["address"]),
            "tier": _gather(tables.tier, frame["tier"]),
            "delete": frame["delete"],
        }
    )
    local = (
        pl.when(pl.col("v") == 0)
        .then(pl.concat_str([pl.col("af"), pl.lit("."), pl.col("al"), pl.col("n")]))
        .otherwise(
            pl.concat_str([pl.col("ai"), pl.col("al"), pl.col("n"), pl.lit("."), pl.col("v").cast(pl.String)])
        )
    )
    fragment = pl.concat_str(
        [
            pl.lit('"email":"'),
            local,
            pl.lit("@"),
            pl.col("dom"),
            pl.lit('","first_name":'),
            pl.col("fj"),
            pl.lit(',"last_name":'),
            pl.col("lj"),
            pl.lit(',"address":'),
            pl.col("addr"),
            pl.lit(',"tier":'),
            pl.col("tier"),
        ]
    )
    return parts.select(pl.when(pl.col("delete") == 0).then(fragment).alias("fp")).to_series()


def render_lines(frame: pl.DataFrame, fp: pl.Series) -> pl.Series:
    """JSON lines (no newline) of the snapshot rows; `fp` from `fingerprints` for the same rows."""
    if frame.height == 0:
        return pl.Series("line", [], dtype=pl.String)
    data = pl.DataFrame(
        {
            "id": (frame["customer"] + 1).cast(pl.String).str.zfill(7),
            "seq": frame["seq"].cast(pl.String),
            "delete": frame["delete"],
            "change": timestamps(frame["change_time"].to_numpy()),
            "signup": timestamps(frame["signup"].to_numpy()),
            "fp": fp,
        }
    )
    head = [
        pl.lit('{"customer_id":"CUST-'),
        pl.col("id"),
        pl.lit('","sequence_num":'),
        pl.col("seq"),
    ]
    upsert = pl.concat_str(
        [
            *head,
            pl.lit(',"operation":"UPSERT","change_time":"'),
            pl.col("change"),
            pl.lit('",'),
            pl.col("fp"),
            pl.lit(',"signup_time":"'),
            pl.col("signup"),
            pl.lit('"}'),
        ]
    )
    delete = pl.concat_str(
        [
            *head,
            pl.lit(',"operation":"DELETE","change_time":"'),
            pl.col("change"),
            pl.lit('"' + _DELETED_TAIL),
        ]
    )
    return data.select(
        pl.when(pl.col("delete") == 0).then(upsert).otherwise(delete).alias("line")
    ).to_series()


class Scd2Counter:
    """SCD2 versions per customer: records in `sequence_num` order whose tracked values differ from
    the previous record's (a DELETE adds none and makes the next record a new version).

    Delivery order does not matter: every batch recounts the customers it touched from their whole
    delivered history, so a late record (a lower sequence number arriving later) lands in its place.
    The history holds one short row per delivered record.
    """

    def __init__(self, size: int) -> None:
        self.versions = np.zeros(size, dtype=np.int64)
        self.known = np.zeros(size, dtype=bool)
        self.current = np.zeros(size, dtype=bool)
        self._history = pl.DataFrame(schema={"customer": pl.Int64, "seq": pl.Int64, "fp": pl.String})

    def apply(self, customer: pl.Series, seq: pl.Series, fp: pl.Series) -> None:
        if len(customer) == 0:
            return
        new = pl.DataFrame({"customer": customer, "seq": seq, "fp": fp})
        self._history = pl.concat([self._history, new], rechunk=False)
        touched = new["customer"].unique()
        counted = (
            self._history.filter(pl.col("customer").is_in(touched.implode()))
            .sort(["customer", "seq"])
            .with_columns(prev=pl.col("fp").shift(1).over("customer"))
            .group_by("customer")
            .agg(
                versions=(pl.col("fp").is_not_null() & pl.col("fp").ne_missing(pl.col("prev"))).sum(),
                current=pl.col("fp").last().is_not_null(),
            )
        )
        rows = counted["customer"].to_numpy()
        self.versions[rows] = counted["versions"].to_numpy()
        self.current[rows] = counted["current"].to_numpy()
        self.known[rows] = True
        if self._history.n_chunks() > 64:
            self._history = self._history.rechunk()
