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

from dataclasses import dataclass, field

import numpy as np
import orjson

from simulator.clock import Clock, iso
from simulator.pools import Pools

TIERS = ("bronze", "silver", "gold", "platinum")
_TIER_SHARES = (0.6, 0.25, 0.11, 0.04)
BASE_SHARE = 0.25  # of the pool signed up before the simulated start
NEW_CUSTOMER_SHARE = 0.12  # new sign-ups per batch, relative to the batch's order count
FIRST_ORDER_SHARE = 0.6  # of the new sign-ups who order in the batch they sign up
CHANGES_PER_DAY = 0.004  # per active customer
DELETES_PER_DAY = 0.0005
_CHANGE_KINDS = ("address", "email", "tier", "last_name")
_CHANGE_SHARES = (0.4, 0.25, 0.3, 0.05)


_DELETED_STATE = dict.fromkeys(("email", "first_name", "last_name", "address", "tier", "signup_time"))


def customer_id(index: int) -> str:
    return f"CUST-{index + 1:07d}"


@dataclass
class _Record:
    change_time: int
    customer: int
    seq: int
    delete: bool
    line: bytes
    fingerprint: tuple[object, ...] | None


@dataclass
class FeedBatch:
    """The customer lines of one batch, in delivery order."""

    lines: list[bytes] = field(default_factory=list)


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
        self._late: dict[int, list[_Record]] = {}
        # SCD2 oracle: delivered (seq, fingerprint or None for DELETE) per customer.
        self._history: dict[int, list[tuple[int, tuple[object, ...] | None]]] = {}
        self.versions: dict[int, int] = {}
        self.current: dict[int, bool] = {}
        self._ids: list[str] = []

    # --- state rendering ------------------------------------------------------------------------
    def email(self, i: int) -> str:
        pools = self.pools
        first, last = pools.ascii_first[int(self.first[i])], pools.ascii_last[int(self.last[i])]
        version = int(self.email_version[i])
        local = f"{first}.{last}{i + 1}" if version == 0 else f"{first[:1]}{last}{i + 1}.{version}"
        return f"{local}@{pools.domains[int(self.domain[i])]}"

    def _record(self, i: int, change_time: int, delete: bool) -> _Record:
        """The feed record of customer `i` after its latest change (the full state, or a DELETE)."""
        self.seq[i] += 1
        seq = int(self.seq[i])
        if delete:
            body = {"customer_id": customer_id(i), "sequence_num": seq, "operation": "DELETE"}
            body |= {"change_time": iso(change_time)} | _DELETED_STATE
            return _Record(change_time, i, seq, True, orjson.dumps(body), None)
        p = self.pools
        email, first, last = self.email(i), int(self.first[i]), int(self.last[i])
        address, tier = int(self.address[i]), int(self.tier[i])
        street, city, postal, country = p.addresses[address]
        body = {
            "customer_id": customer_id(i),
            "sequence_num": seq,
            "operation": "UPSERT",
            "change_time": iso(change_time),
            "email": email,
            "first_name": p.first_names[first],
            "last_name": p.last_names[last],
            "address": {"street": street, "city": city, "postal_code": postal, "country": country},
            "tier": TIERS[tier],
            "signup_time": iso(int(self.signup[i])),
        }
        fingerprint = (email, p.first_names[first], p.last_names[last], p.addresses[address], tier)
        return _Record(change_time, i, seq, False, orjson.dumps(body), fingerprint)

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
        on_time: list[_Record] = [self._record(i, int(self.signup[i]), False) for i in range(low, high)]
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
            record = self._record(int(i), int(when), False)
            if not is_late:
                on_time.append(record)
                continue
            self._late.setdefault(batch_id + int(lag), []).append(record)
            self.quiet_until[i] = batch_id + int(lag) + 1
            self._change(int(i), int(rng.integers(0, len(_CHANGE_KINDS))), rng)
            on_time.append(self._record(int(i), min(end - 1, int(when) + int(after)), False))
        on_time += [self._record(int(i), int(rng.integers(begin, end)), True) for i in self._deleting]
        on_time.sort(key=lambda r: (r.change_time, r.customer, r.seq))
        delivered = self._late.pop(batch_id, []) + on_time
        self._apply(delivered)
        return FeedBatch(lines=[r.line for r in delivered])

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
    def _apply(self, records: list[_Record]) -> None:
        """Count SCD2 versions in sequence order (delivery order does not matter).

        In-order records extend the count incrementally; a late record (lower sequence_num than one
        already delivered) makes that customer's history be recounted from scratch.
        """
        for record in records:
            history = self._history.setdefault(record.customer, [])
            late = bool(history) and record.seq < history[-1][0]
            history.append((record.seq, record.fingerprint))
            if late:
                history.sort(key=lambda item: item[0])
                versions, previous = 0, None
                for _seq, fingerprint in history:
                    if fingerprint is not None and fingerprint != previous:
                        versions += 1
                    previous = fingerprint  # a DELETE (None) closes the version and adds none
                self.versions[record.customer] = versions
            elif record.fingerprint is not None:
                previous = history[-2][1] if len(history) > 1 else None
                if record.fingerprint != previous:
                    self.versions[record.customer] = self.versions.get(record.customer, 0) + 1
            else:
                self.versions.setdefault(record.customer, 0)
            self.current[record.customer] = history[-1][1] is not None

    def scd2_versions(self) -> dict[str, int]:
        """Versions per customer id (every customer with a delivered record), sorted by id."""
        known = sorted(self.versions)
        while len(self._ids) <= (known[-1] if known else -1):
            self._ids.append(customer_id(len(self._ids)))
        return {self._ids[c]: self.versions[c] for c in known}

    def current_customers(self) -> int:
        return sum(self.current.values())
