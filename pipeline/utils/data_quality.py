"""Data-quality rules of the order events, each defined once: name, SQL constraint, severity.

The same `Rule` objects feed the ``expect_all_or_drop`` decorator of ``silver_order_events``, the
quarantine table (``failed_rules`` lists the names of the rules a row broke) and reports. Names
and which defect fails which rule are fixed by docs/data-contract.md: the simulator's manifest
counts quarantined rows by these names.

A record fails a rule when the SQL is FALSE **or NULL** (Databricks' expectation semantics). Rules
that check a field another rule already covers are written to pass when that field is NULL, so a
defect fails exactly the rules the contract lists (e.g. a non-numeric quantity becomes NULL after
``try_cast`` and fails only ``quantity_numeric``).

The constraints run on the typed event columns produced by `utils.silver.prepare_order_events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "CUSTOMER_RULES",
    "MAX_ITEMS_PER_ORDER",
    "ORDER_RULES",
    "ORDER_STATUSES",
    "RULES",
    "Rule",
    "Severity",
    "drop_expectations",
    "failed_rules_sql",
    "passes_all_sql",
    "rule",
    "warn_expectations",
]

#: The order lifecycle; the position is the tie-break rank of docs/data-contract.md (created 1 ...).
ORDER_STATUSES: tuple[str, ...] = ("created", "paid", "shipped", "delivered", "cancelled", "returned")
#: Orders carry 1-8 items; 1,000 is the contract's oversized line. 100 leaves room for real baskets.
MAX_ITEMS_PER_ORDER = 100


class Severity(str, Enum):  # noqa: UP042 - StrEnum needs Python 3.11; DBR 13/14 pipelines run 3.10
    """What a failed rule does: drop the row (and quarantine it), only count it, or fail the update."""

    DROP = "drop"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Rule:
    """One expectation: a SQL boolean over a dataset's columns (FALSE or NULL = failed)."""

    name: str
    constraint: str
    severity: Severity
    description: str


_STATUS_LIST = ", ".join(f"'{s}'" for s in ORDER_STATUSES)

ORDER_RULES: tuple[Rule, ...] = (
    Rule(
        "record_parseable",
        "_corrupt_record IS NULL",
        Severity.DROP,
        "the line is a JSON object (malformed or truncated lines land in _corrupt_record)",
    ),
    Rule(
        "order_id_present",
        "order_id IS NOT NULL AND trim(order_id) <> ''",
        Severity.DROP,
        "the event names its order",
    ),
    Rule(
        "customer_id_present",
        "customer_id IS NOT NULL AND trim(customer_id) <> ''",
        Severity.DROP,
        "the event names its customer",
    ),
    Rule("status_known", f"status IN ({_STATUS_LIST})", Severity.DROP, "the status is part of the lifecycle"),
    Rule(
        "event_time_not_future",
        "event_time <= _ingested_at + INTERVAL 1 DAY",
        Severity.DROP,
        "the event did not happen after it was ingested (one day of clock skew tolerated)",
    ),
    Rule("has_items", "size(items) > 0", Severity.DROP, "the order has at least one item"),
    Rule(
        "quantity_positive",
        "items IS NULL OR forall(items, i -> coalesce(i.quantity > 0, true))",
        Severity.DROP,
        "every numeric quantity is at least 1 (non-numeric ones: quantity_numeric)",
    ),
    Rule(
        "price_non_negative",
        "items IS NULL OR forall(items, i -> coalesce(i.unit_price >= 0, true))",
        Severity.DROP,
        "no item has a negative unit price",
    ),
    Rule(
        "quantity_numeric",
        "items IS NULL OR forall(items, i -> i.quantity IS NOT NULL)",
        Severity.DROP,
        "every item quantity is an integer (try_cast gives NULL otherwise)",
    ),
    Rule(
        "items_count_reasonable",
        f"items IS NULL OR size(items) <= {MAX_ITEMS_PER_ORDER}",
        Severity.DROP,
        f"at most {MAX_ITEMS_PER_ORDER} items per order",
    ),
    Rule(
        "text_encoding_valid",
        "NOT contains(concat_ws('|', shipping_address.street, shipping_address.city, "
        "shipping_address.postal_code, shipping_address.country), '\\uFFFD')",
        Severity.DROP,
        "the address text decoded as UTF-8 (undecodable bytes become U+FFFD)",
    ),
)

#: Rules of the customer change feed (counted, not dropped: AUTO CDC needs every change in order).
CUSTOMER_RULES: tuple[Rule, ...] = (
    Rule(
        "customer_change_keyed",
        "customer_id IS NOT NULL AND sequence_num IS NOT NULL",
        Severity.WARN,
        "a change names its customer and its sequence number",
    ),
    Rule(
        "customer_operation_known",
        "operation IN ('UPSERT', 'DELETE')",
        Severity.WARN,
        "a change is an UPSERT or a DELETE",
    ),
)

#: Every rule by name (names are unique across datasets, so reports can key on them).
RULES: Mapping[str, Rule] = {r.name: r for r in ORDER_RULES + CUSTOMER_RULES}


def rule(name: str) -> Rule:
    """The rule called ``name``; KeyError names the known rules."""
    try:
        return RULES[name]
    except KeyError:
        raise KeyError(f"unknown data-quality rule {name!r}; known: {', '.join(RULES)}") from None


def _by_severity(rules: Iterable[Rule], severity: Severity) -> dict[str, str]:
    return {r.name: r.constraint for r in rules if r.severity is severity}


def drop_expectations(rules: Iterable[Rule] = ORDER_RULES) -> dict[str, str]:
    """``{name: constraint}`` for ``dlt.expect_all_or_drop``."""
    return _by_severity(rules, Severity.DROP)


def warn_expectations(rules: Iterable[Rule] = ORDER_RULES) -> dict[str, str]:
    """``{name: constraint}`` for ``dlt.expect_all``."""
    return _by_severity(rules, Severity.WARN)


def passes_all_sql(rules: Iterable[Rule]) -> str:
    """One SQL boolean that is TRUE exactly when a row passes every rule (NULL counts as failed)."""
    parts = [f"coalesce(({r.constraint}), false)" for r in rules]
    return " AND ".join(parts) if parts else "true"


def failed_rules_sql(rules: Iterable[Rule]) -> str:
    """SQL for an ``ARRAY<STRING>`` with the names of the rules a row fails, in rule order."""
    cases = ", ".join(
        f"CASE WHEN coalesce(({r.constraint}), false) THEN NULL ELSE '{r.name}' END" for r in rules
    )
    return f"filter(array({cases}), x -> x IS NOT NULL)"
