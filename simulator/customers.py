"""The customer population, its change feed (UPSERT/DELETE with sequence numbers) and the SCD2 oracle.

A share of the pool exists before the simulated start (delivered in batch 1); the rest signs up
batch by batch. Each customer has a Pareto purchase propensity, so a few customers buy often and
most rarely: cohorts, retention, RFM and lifetime value have realistic shapes. Feed records carry
the full state after the change. Some changes are delivered one or two batches late, always
followed by a newer change delivered on time, so a lower `sequence_num` arrives after a higher
one. The first UPSERT of a customer is never late, so it reaches the pipeline no later than the
customer's first order; deleted customers are never chosen to order again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from simulator.clock import Clock
from simulator.feed import TIERS, FeedTables, Scd2Counter, fingerprints, render_lines, snapshots
from simulator.pools import Pools

_TIER_SHARES = (0.6, 0.25, 0.11, 0.04)
BASE_SHARE = 0.25  # of the pool signed up before the simulated start
NEW_CUSTOMER_SHARE = 0.12  # new sign-ups per batch, relative to the batch's order count
FIRST_ORDER_SHARE = 0.6  # of the new sign-ups who order in the batch they sign up
CHANGES_PER_DAY = 0.004  # per active customer
DELETES_PER_DAY = 0.0005
_CHANGE_KINDS = ("address", "email", "tier", "last_name")
_CHANGE_SHARES = (0.4, 0.25, 0.3, 0.05)


def customer_id(index: int) -> str:
    return f"CUST-{index + 1:07d}"


@dataclass(frozen=True)
class FeedBatch:
    """The customer records of one batch, in delivery order: snapshots, rendered on demand."""

    records: pl.DataFrame
    fp: pl.Series  # tracked-values fragment per record (null: DELETE)

    def __len__(self) -> int:
        return self.records.height

    def lines(self) -> pl.Series:
        """The records' JSON lines (no newline), as `orjson.dumps` of the full state would write them."""
        return render_lines(self.records, self.fp)


class CustomerBook:
    """Customer state arrays (one slot per pool customer) and the feed / SCD2 bookkeeping."""

    def __init__(self, seed: int, size: int, pools: Pools, clock: Clock, late_rate: float) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 202]))
        self.size = size
        self.pools = pools
        self.clock = clock
        self.late_rate = late_rate
        self.locale = rng.choice(len(pools.locale_shares), size, p=pools.locale_shares)
        self.first = pools.name_index(self.locale, rng.integers(0, 1 << 30, size))
        self.last = pools.name_index(self.locale, rng.integers(0, 1 << 30, size))
        self.address = pools.address_index(self.locale, rng.integers(0, 1 << 30, size))
        self.domain = pools.domain_index(self.locale, rng.integers(0, 1 << 30, size))
        self.email_version = np.zeros(size, dtype=np.int64)
        self.tier = rng.choice(len(TIERS), size, p=_TIER_SHARES)
        self.weight = np.minimum(1.0 + rng.pareto(1.3, size), 200.0)
        self.signup = np.zeros(size, dtype=np.int64)
        self.seq = np.zeros(size, dtype=np.int64)
        self.deleted = np.zeros(size, dtype=bool)
        self.has_ordered = np.zeros(size, dtype=bool)
        self.quiet_until = np.zeros(size, dtype=np.int64)  # no delete before this batch (late record pending)
        self.active = 0  # customers [0, active) have signed up
        self._new: tuple[int, int] = (0, 0)
        self._deleting: np.ndarray = np.zeros(0, dtype=np.int64)
        self._late: dict[int, list[pl.DataFrame]] = {}
        self._tables = FeedTables.build(pools)
        self._scd2 = Scd2Counter(size)
        self._versions: dict[str, int] = {}
        self._touched = np.zeros(0, dtype=np.int64)
        self._listed = np.zeros(size, dtype=bool)  # customers in _versions
        self._listed_max = -1

    # --- state snapshots ------------------------------------------------------------------------
    def _snapshot(self, i: int, change_time: int, delete: bool) -> tuple[int, ...]:
        """The state of customer `i` after its latest change, as a feed record row (see feed.py)."""
        self.seq[i] += 1
        return (
            change_time,
            i,
            int(self.seq[i]),
            int(delete),
            int(self.first[i]),
            int(self.last[i]),
            int(self.address[i]),
            int(self.domain[i]),
            int(self.email_version[i]),
            int(self.tier[i]),
            int(self.signup[i]),
        )

    # --- one batch ------------------------------------------------------------------------------
    def begin_batch(self, batch_id: int, rng: np.random.Generator, order_count: int) -> None:
        """Sign-ups of this batch and this batch's deletions (deleted customers stop ordering now)."""
        begin, _ = self.clock.window(batch_id)
        days = self.clock.interval / 86_400
        if batch_id == 1:
            count = max(1, int(self.size * BASE_SHARE))
            self.signup[:count] = begin - rng.integers(86_400, 730 * 86_400, count)
        else:
            count = min(self.size - self.active, round(order_count * NEW_CUSTOMER_SHARE))
        self._new = (self.active, self.active + count)
        eligible = np.flatnonzero(~self.deleted[: self.active] & (self.quiet_until[: self.active] < batch_id))
        deletes = min(len(eligible), int(rng.poisson(len(eligible) * DELETES_PER_DAY * days)))
        self._deleting = np.sort(rng.choice(eligible, deletes, replace=False)) if deletes else eligible[:0]
        self.deleted[self._deleting] = True
        self.active += count

    def choose_buyers(self, rng: np.random.Generator, batch_id: int, times: np.ndarray) -> np.ndarray:
        """A customer per order time: first orders of new sign-ups, then repeat buyers by propensity."""
        count = len(times)
        low, high = self._new
        new = np.arange(low, high)
        first_buyers = new[rng.random(len(new)) < FIRST_ORDER_SHARE][:count]
        pool = np.flatnonzero(~self.deleted[: self.active])
        weights = np.cumsum(self.weight[pool])
        repeat = pool[
            np.searchsorted(weights, rng.random(count - len(first_buyers)) * weights[-1], side="right")
        ]
        buyers = np.concatenate([first_buyers, repeat])
        buyers = buyers[rng.permutation(count)]
        begin, end = self.clock.window(batch_id)
        if batch_id > 1:  # new sign-ups register before their first order in the window
            signups = rng.integers(begin, end, high - low)
            self.signup[low:high] = signups
            is_new = (buyers >= low) & (buyers < high)
            first_time = np.full(high - low, end, dtype=np.int64)
            np.minimum.at(first_time, buyers[is_new] - low, times[is_new])
            ordered = first_time < end
            gap = rng.integers(60, 3_600, high - low)
            self.signup[low:high] = np.where(ordered, np.maximum(begin, first_time - gap), signups)
        return buyers

    def end_batch(self, batch_id: int, rng: np.random.Generator) -> FeedBatch:
        """The feed records delivered in this batch; updates the SCD2 oracle with them."""
        begin, end = self.clock.window(batch_id)
        days = self.clock.interval / 86_400
        low, high = self._new
        self.seq[low:high] += 1  # sign-ups: one record each, no other change this batch
        signups = snapshots(
            {
                "change_time": self.signup[low:high],
                "customer": np.arange(low, high),
                "seq": self.seq[low:high],
                "delete": np.zeros(high - low, dtype=np.int64),
                "first": self.first[low:high],
                "last": self.last[low:high],
                "address": self.address[low:high],
                "domain": self.domain[low:high],
                "email_version": self.email_version[low:high],
                "tier": self.tier[low:high],
                "signup": self.signup[low:high],
            }
        )
        rows: list[tuple[int, ...]] = []
        late_rows: dict[int, list[tuple[int, ...]]] = {}
        eligible = np.flatnonzero(~self.deleted[:low])
        changes = min(len(eligible), int(rng.poisson(len(eligible) * CHANGES_PER_DAY * days)))
        chosen = np.sort(rng.choice(eligible, changes, replace=False)) if changes else eligible[:0]
        kinds = rng.choice(len(_CHANGE_KINDS), len(chosen), p=_CHANGE_SHARES)
        late = rng.random(len(chosen)) < self.late_rate
        half = max(1, (end - begin) // 2)
        times = rng.integers(begin, begin + half, len(chosen))
        follow = rng.integers(1, max(2, end - begin - half), len(chosen))
        delay = rng.integers(1, 3, len(chosen))
        for i, kind, is_late, when, after, lag in zip(chosen, kinds, late, times, follow, delay, strict=True):
            self._change(int(i), int(kind), rng)
            record = self._snapshot(int(i), int(when), False)
            if not is_late:
                rows.append(record)
                continue
            late_rows.setdefault(batch_id + int(lag), []).append(record)
            self.quiet_until[i] = batch_id + int(lag) + 1
            self._change(int(i), int(rng.integers(0, len(_CHANGE_KINDS))), rng)
            rows.append(self._snapshot(int(i), min(end - 1, int(when) + int(after)), False))
        rows += [self._snapshot(int(i), int(rng.integers(begin, end)), True) for i in self._deleting]
        for due, due_rows in late_rows.items():
            self._late.setdefault(due, []).append(snapshots(due_rows))
        on_time = pl.concat([signups, snapshots(rows)]).sort(["change_time", "customer", "seq"])
        delivered = pl.concat([*self._late.pop(batch_id, []), on_time])
        fp = fingerprints(self._tables, delivered)
        self._scd2.apply(delivered["customer"], delivered["seq"], fp)
        self._touched = np.union1d(self._touched, delivered["customer"].to_numpy())
        return FeedBatch(delivered, fp)

    def _change(self, i: int, kind: int, rng: np.random.Generator) -> None:
        name = _CHANGE_KINDS[kind]
        if name == "address":
            step = int(rng.integers(1, 1 << 20))
            self.address[i] = self.pools.address_index(
                self.locale[i : i + 1], self.address[i : i + 1] + step
            )[0]
        elif name == "email":
            self.email_version[i] += 1
            self.domain[i] = self.pools.domain_index(self.locale[i : i + 1], self.domain[i : i + 1] + 1)[0]
        elif name == "tier":
            self.tier[i] = (self.tier[i] + int(rng.integers(1, len(TIERS)))) % len(TIERS)
        else:
            self.last[i] = self.pools.name_index(self.locale[i : i + 1], self.last[i : i + 1] + 1)[0]

    # --- SCD2 oracle ----------------------------------------------------------------------------
    def scd2_versions(self) -> dict[str, int]:
        """Versions per customer id (every customer with a delivered record), sorted by id.

        Kept as one dict updated with the customers each batch touched (a customer's first record is
        its sign-up, and sign-ups come in index order, so appending keeps the keys sorted); callers
        get a copy, so earlier manifests do not change.
        """
        scd2 = self._scd2
        touched, self._touched = self._touched, np.zeros(0, dtype=np.int64)  # sorted (union1d)
        fresh = touched[~self._listed[touched]]
        if len(fresh) and fresh[0] < self._listed_max:  # a new key would land mid-dict: rebuild
            known = np.flatnonzero(scd2.known)
            pairs = zip(known.tolist(), scd2.versions[known].tolist(), strict=True)
            self._versions = {customer_id(c): v for c, v in pairs}
        else:
            pairs = zip(touched.tolist(), scd2.versions[touched].tolist(), strict=True)
            self._versions.update((customer_id(c), v) for c, v in pairs)
        self._listed[touched] = True
        if len(touched):
            self._listed_max = max(self._listed_max, int(touched[-1]))
        return dict(self._versions)

    def current_customers(self) -> int:
        return int(self._scd2.current.sum())
