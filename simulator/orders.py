"""New orders of a batch and their whole life, drawn at once with numpy.

An order's lifecycle (created -> paid -> shipped -> delivered [-> returned], or a cancellation)
and the defect of each of its event lines are decided when the order is placed. Later events are
handed to the batch whose window contains their `event_time`, so status changes of earlier orders
arrive in later batches. Because everything is known up front, the oracle can book each order's
effect on the gold aggregates into the batches where it will happen (see `oracle.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from simulator.clock import HOUR, Clock
from simulator.config import DUPLICATE_KINDS, REPLACING_KINDS
from simulator.pools import Catalog, Pools

STATUSES = ("created", "paid", "shipped", "delivered", "cancelled", "returned")  # rank = index + 1
CHANNELS = ("web", "mobile_app", "marketplace", "call_center")
_CHANNEL_SHARES = (0.5, 0.33, 0.12, 0.05)
PAYMENTS = ("card", "paypal", "klarna", "bank_transfer", "gift_card")
_PAYMENT_SHARES = (0.42, 0.25, 0.15, 0.1, 0.08)
BANK_TRANSFER = 3
COUPONS = (("WELCOME10", 10), ("SAVE15", 15), ("FLASH20", 20), ("SPRING5", 5))
MAX_ITEMS = 8
_QUANTITIES = np.array([1, 2, 3, 4, 5])
_QUANTITY_SHARES = (0.72, 0.18, 0.06, 0.03, 0.01)
DOMESTIC = frozenset({"DE", "AT", "NL", "BE"})
FREE_SHIPPING_FROM = 4900
#: Line kinds drawn per event: replacing defects (1..12), then the duplicates.
EVENT_KINDS = REPLACING_KINDS + DUPLICATE_KINDS
DUP_IDENTICAL = len(REPLACING_KINDS) + 1
DUP_CONFLICTING = len(REPLACING_KINDS) + 2
_DAY = 86_400


@dataclass(frozen=True)
class NewOrders:
    """Orders placed in one batch (index = position) and all their future events."""

    number: np.ndarray  # global order number, ORD-{number:09d}
    customer: np.ndarray
    order_time: np.ndarray
    channel: np.ndarray
    payment: np.ndarray
    coupon: np.ndarray  # -1: none
    address: np.ndarray
    shipping: np.ndarray  # cents
    gift_wrap: np.ndarray
    item_offsets: np.ndarray  # items of order o: [offsets[o], offsets[o+1])
    sku: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray  # cents
    discount: np.ndarray  # cents
    revenue: np.ndarray  # cents, sum of line_net
    units: np.ndarray
    alt_revenue: np.ndarray  # the conflicting-duplicate variant: first item's quantity + 1
    alt_units: np.ndarray
    alt_discount0: np.ndarray
    # events, sorted by (order, time)
    ev_order: np.ndarray
    ev_status: np.ndarray  # 1..6 (status rank)
    ev_time: np.ndarray
    ev_batch: np.ndarray
    ev_kind: np.ndarray  # 0: clean, 1..12 replacing defect, 13/14 duplicates (see EVENT_KINDS)

    def __len__(self) -> int:
        return len(self.number)


def _pick(rng: np.random.Generator, shares: tuple[float, ...] | np.ndarray, size: int) -> np.ndarray:
    cumulative = np.cumsum(shares)
    return np.minimum(
        np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right"), len(cumulative) - 1
    )


def make_orders(
    rng: np.random.Generator,
    *,
    first_number: int,
    times: np.ndarray,
    customers: np.ndarray,
    first_order: np.ndarray,
    addresses: np.ndarray,
    promo: np.ndarray,
    pools: Pools,
    catalog: Catalog,
    clock: Clock,
    rates: Mapping[str, float],
) -> NewOrders:
    """Draw the content, lifecycle and line defects of `len(times)` orders placed at `times`."""
    n = len(times)
    channel = _pick(rng, _CHANNEL_SHARES, n)
    payment = _pick(rng, _PAYMENT_SHARES, n)
    draw = rng.random(n)
    coupon = np.full(n, -1)
    coupon = np.where(draw < 0.04, 3, coupon)
    coupon = np.where((draw >= 0.04) & (draw < 0.07), 1, coupon)
    coupon = np.where(promo & (draw < 0.4), 2, coupon)
    coupon = np.where(first_order & (draw < 0.5), 0, coupon)
    percent = np.where(coupon >= 0, np.array([c[1] for c in COUPONS])[coupon], 0)

    counts = np.minimum(rng.geometric(0.55, n), MAX_ITEMS)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    owner = np.repeat(np.arange(n), counts)
    sku = _pick(rng, catalog.popularity, len(owner))
    quantity = _QUANTITIES[_pick(rng, _QUANTITY_SHARES, len(owner))]
    unit_price = catalog.price_cents[sku]
    discount = (quantity * unit_price * percent[owner] + 50) // 100
    net = quantity * unit_price - discount
    revenue = np.add.reduceat(net, offsets[:-1])
    units = np.add.reduceat(quantity, offsets[:-1])
    head = offsets[:-1]
    alt_discount0 = ((quantity[head] + 1) * unit_price[head] * percent + 50) // 100
    alt_revenue = revenue + unit_price[head] - (alt_discount0 - discount[head])
    domestic = np.array([a[3] in DOMESTIC for a in pools.addresses])[addresses]
    shipping = np.where(revenue >= FREE_SHIPPING_FROM, 0, np.where(domestic, 499, 699))

    # Lifecycle: column k holds the k-th event's time (-1: no such event) and status rank.
    t0 = times
    pay_delay = np.where(
        payment == BANK_TRANSFER, rng.integers(2 * HOUR, 72 * HOUR, n), rng.integers(5, 600, n)
    )
    unpaid = rng.random(n) < np.where(payment == BANK_TRANSFER, 0.25, 0.02)
    unpaid_cancel = t0 + np.where(
        payment == BANK_TRANSFER, 72 * HOUR + rng.integers(60, 600, n), rng.integers(300, 2 * HOUR, n)
    )
    paid = t0 + pay_delay
    cancel_after_pay = ~unpaid & (rng.random(n) < 0.03)
    cancel_paid = paid + rng.integers(600, 12 * HOUR, n)
    shipped = paid + rng.integers(6 * HOUR, 72 * HOUR, n)
    delivered = shipped + rng.integers(24 * HOUR, 144 * HOUR, n)
    returns = rng.random(n) < 0.07
    returned = delivered + rng.integers(48 * HOUR, 21 * _DAY, n)
    full = ~unpaid & ~cancel_after_pay
    minus = np.full(n, -1, dtype=np.int64)
    time_grid = np.stack(
        [
            t0,
            np.where(unpaid, unpaid_cancel, paid),
            np.where(unpaid, minus, np.where(cancel_after_pay, cancel_paid, shipped)),
            np.where(full, delivered, minus),
            np.where(full & returns, returned, minus),
        ],
        axis=1,
    )
    status_grid = np.stack(
        [
            np.full(n, 1),
            np.where(unpaid, 5, 2),
            np.where(cancel_after_pay, 5, 3),
            np.full(n, 4),
            np.full(n, 6),
        ],
        axis=1,
    )
    present = time_grid >= 0
    ev_order = np.repeat(np.arange(n), present.sum(axis=1))
    ev_time = time_grid[present]
    ev_status = status_grid[present]
    probabilities = np.array([rates[k] for k in EVENT_KINDS])
    ev_kind = np.searchsorted(np.cumsum(probabilities), rng.random(len(ev_time)), side="right") + 1
    ev_kind = np.where(ev_kind > len(EVENT_KINDS), 0, ev_kind)
    return NewOrders(
        number=np.arange(first_number, first_number + n, dtype=np.int64),
        customer=customers,
        order_time=times,
        channel=channel,
        payment=payment,
        coupon=coupon,
        address=addresses,
        shipping=shipping,
        gift_wrap=rng.random(n) < 0.08,
        item_offsets=offsets,
        sku=sku,
        quantity=quantity,
        unit_price=unit_price,
        discount=discount,
        revenue=revenue,
        units=units,
        alt_revenue=alt_revenue,
        alt_units=units + 1,
        alt_discount0=alt_discount0,
        ev_order=ev_order,
        ev_status=ev_status,
        ev_time=ev_time,
        ev_batch=clock.batch_of(ev_time),
        ev_kind=ev_kind,
    )
