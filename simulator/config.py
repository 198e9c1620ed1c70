"""Simulator options: one frozen `SimulatorConfig`, validated in one place, plus the defect catalogue.

The defect kinds and the rules each kind fails are copied from docs/data-contract.md (the pipeline
defines the rules in `pipeline/utils/data_quality.py`; the simulator never imports the pipeline).
Profiles are named bundles of defect rates; explicit rates override the profile's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from harness.errors import SimulatorConfigError

#: Defects that replace a genuine event line by a broken one (the event is lost for the pipeline).
REPLACING_KINDS: tuple[str, ...] = (
    "null_order_id",
    "missing_order_id",
    "null_customer_id",
    "missing_customer_id",
    "non_positive_quantity",
    "negative_price",
    "unknown_status",
    "future_timestamp",
    "wrong_type",
    "oversized_line",
    "non_utf8",
    "malformed_json",
)
#: Defects that add an extra line next to a genuine, valid event line.
DUPLICATE_KINDS: tuple[str, ...] = ("duplicate_identical", "duplicate_conflicting")
#: Per-file defects: rate = probability per order file (truncated) or per batch (empty file).
FILE_KINDS: tuple[str, ...] = ("truncated_last_line", "empty_file")
LINE_KINDS: tuple[str, ...] = REPLACING_KINDS + DUPLICATE_KINDS
DEFECT_KINDS: tuple[str, ...] = LINE_KINDS + FILE_KINDS

#: Every expectation rule of the contract, in a stable order.
RULES: tuple[str, ...] = (
    "record_parseable",
    "order_id_present",
    "customer_id_present",
    "status_known",
    "event_time_not_future",
    "has_items",
    "quantity_positive",
    "price_non_negative",
    "quantity_numeric",
    "items_count_reasonable",
    "text_encoding_valid",
)
_PARSE_RULES = (
    "record_parseable",
    "order_id_present",
    "customer_id_present",
    "status_known",
    "event_time_not_future",
    "has_items",
)
#: The contract's defect -> failed rules table.
DEFECT_RULES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "null_order_id": ("order_id_present",),
        "missing_order_id": ("order_id_present",),
        "null_customer_id": ("customer_id_present",),
        "missing_customer_id": ("customer_id_present",),
        "non_positive_quantity": ("quantity_positive",),
        "negative_price": ("price_non_negative",),
        "unknown_status": ("status_known",),
        "future_timestamp": ("event_time_not_future",),
        "wrong_type": ("quantity_numeric",),
        "oversized_line": ("items_count_reasonable",),
        "non_utf8": ("text_encoding_valid",),
        "malformed_json": _PARSE_RULES,
        "truncated_last_line": _PARSE_RULES,
        "duplicate_identical": (),
        "duplicate_conflicting": (),
        "empty_file": (),
    }
)
#: Defects whose line lands in the quarantine (fails at least one rule).
QUARANTINED_KINDS: tuple[str, ...] = tuple(k for k in DEFECT_KINDS if DEFECT_RULES[k])

_ZERO = dict.fromkeys(DEFECT_KINDS, 0.0)
PROFILES: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "clean": MappingProxyType(dict(_ZERO)),
        "realistic": MappingProxyType(
            _ZERO
            | {
                "null_order_id": 0.0005,
                "missing_order_id": 0.0003,
                "null_customer_id": 0.0005,
                "missing_customer_id": 0.0003,
                "non_positive_quantity": 0.0005,
                "negative_price": 0.0003,
                "unknown_status": 0.0005,
                "future_timestamp": 0.0003,
                "wrong_type": 0.0003,
                "oversized_line": 0.0001,
                "non_utf8": 0.0003,
                "malformed_json": 0.001,
                "duplicate_identical": 0.005,
                "duplicate_conflicting": 0.001,
                "truncated_last_line": 0.1,
                "empty_file": 0.05,
            }
        ),
        "hostile": MappingProxyType(
            _ZERO
            | {
                "null_order_id": 0.004,
                "missing_order_id": 0.003,
                "null_customer_id": 0.004,
                "missing_customer_id": 0.003,
                "non_positive_quantity": 0.004,
                "negative_price": 0.003,
                "unknown_status": 0.004,
                "future_timestamp": 0.003,
                "wrong_type": 0.003,
                "oversized_line": 0.0005,
                "non_utf8": 0.003,
                "malformed_json": 0.01,
                "duplicate_identical": 0.03,
                "duplicate_conflicting": 0.01,
                "truncated_last_line": 0.5,
                "empty_file": 0.5,
            }
        ),
    }
)
#: Share of customer changes delivered one or two batches late (a lower sequence_num arrives later).
LATE_CHANGE_RATES: Mapping[str, float] = MappingProxyType({"clean": 0.0, "realistic": 0.05, "hostile": 0.2})

FORMATS: tuple[str, ...] = ("ndjson", "json-array")
#: Line defects a JSON array cannot carry per element: one broken element breaks the whole file.
_ARRAY_INCOMPATIBLE = ("malformed_json", "truncated_last_line")
DEFAULT_START = "2026-01-01T00:00:00Z"
#: Event ids are `E{batch:05d}-{seq:07d}`; the sequence must stay below this to sort as text.
MAX_LINES_PER_BATCH = 10_000_000
_INTERVAL_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(text: str) -> int:
    """'1d', '6h', '30m', '90s', '1w' -> seconds (at least one second)."""
    match = _INTERVAL_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise SimulatorConfigError("interval", text, "use a positive number and a unit: 90s, 30m, 6h, 1d, 1w")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_start(text: str) -> int:
    """ISO-8601 UTC instant -> epoch seconds (a naive value is read as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SimulatorConfigError("start", text, f"not an ISO-8601 instant ({exc})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def parse_rate(text: str) -> tuple[str, float]:
    """'malformed_json=0.002' -> ('malformed_json', 0.002)."""
    kind, sep, value = text.partition("=")
    kind = kind.strip()
    if not sep:
        raise SimulatorConfigError("defect_rate", text, "write KIND=RATE, e.g. malformed_json=0.002")
    try:
        rate = float(value)
    except ValueError:
        raise SimulatorConfigError("defect_rate", text, f"{value!r} is not a number") from None
    return kind, rate


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that decides the simulator's output; same config -> byte-identical files.

    `defect_rates` overrides the profile's rates kind by kind. Line kinds are fractions of genuine
    event lines; `truncated_last_line` is a probability per order file and `empty_file` a
    probability per batch. `orders_per_batch` is the baseline of new orders per batch: the real
    count follows the daily/weekly seasonality and promotion days of the batch's time window.
    """

    seed: int = 42
    orders_per_batch: int = 1000
    customers: int = 10_000
    products: int = 500
    start: str = DEFAULT_START
    interval: str = "1d"
    profile: str = "realistic"
    defect_rates: Mapping[str, float] = field(default_factory=dict)
    late_change_rate: float | None = None
    schema_drift_at: int | None = None
    format: str = "ndjson"
    lines_per_file: int = 250_000

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise SimulatorConfigError("profile", self.profile, f"choose one of {', '.join(PROFILES)}")
        if self.format not in FORMATS:
            raise SimulatorConfigError("format", self.format, f"choose one of {', '.join(FORMATS)}")
        for name in ("orders_per_batch", "customers", "products", "lines_per_file"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SimulatorConfigError(name, str(value), "must be a positive integer")
        if self.customers < 10:
            raise SimulatorConfigError("customers", str(self.customers), "need at least 10 customers")
        if self.products > 99_999:
            raise SimulatorConfigError("products", str(self.products), "at most 99999 (SKU-00000 format)")
        if self.customers > 9_999_999:
            raise SimulatorConfigError("customers", str(self.customers), "at most 9999999 (CUST-0000000)")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise SimulatorConfigError("seed", str(self.seed), "must be a non-negative integer")
        if self.schema_drift_at is not None and self.schema_drift_at < 1:
            raise SimulatorConfigError("schema_drift_at", str(self.schema_drift_at), "batches start at 1")
        parse_start(self.start)
        parse_interval(self.interval)
        for kind, rate in self.defect_rates.items():
            if kind not in DEFECT_KINDS:
                raise SimulatorConfigError(
                    "defect_rate", kind, f"unknown defect kind; known: {', '.join(DEFECT_KINDS)}"
                )
            if not 0.0 <= float(rate) <= 1.0:
                raise SimulatorConfigError("defect_rate", f"{kind}={rate}", "a rate is between 0 and 1")
        rates = self.rates
        if sum(rates[k] for k in LINE_KINDS) > 0.5:
            raise SimulatorConfigError(
                "defect_rate",
                str(sum(rates[k] for k in LINE_KINDS)),
                "line defect rates add up to more than 0.5",
            )
        if self.format == "json-array":
            for kind in _ARRAY_INCOMPATIBLE:
                if self.defect_rates.get(kind, 0.0) > 0:
                    raise SimulatorConfigError(
                        "defect_rate",
                        kind,
                        "a JSON array file cannot carry a per-element parse error; use --format ndjson",
                    )
        late = self.late_change_rate
        if late is not None and not 0.0 <= late <= 0.5:
            raise SimulatorConfigError("late_change_rate", str(late), "between 0 and 0.5")
        object.__setattr__(self, "defect_rates", MappingProxyType(dict(self.defect_rates)))

    @property
    def rates(self) -> Mapping[str, float]:
        """Effective rate per defect kind: profile, then overrides (parse errors off for json-array)."""
        merged = dict(PROFILES[self.profile]) | {k: float(v) for k, v in self.defect_rates.items()}
        if self.format == "json-array":
            for kind in _ARRAY_INCOMPATIBLE:
                merged[kind] = 0.0
        return MappingProxyType(merged)

    @property
    def effective_late_change_rate(self) -> float:
        return LATE_CHANGE_RATES[self.profile] if self.late_change_rate is None else self.late_change_rate

    @property
    def start_epoch(self) -> int:
        return parse_start(self.start)

    @property
    def interval_seconds(self) -> int:
        return parse_interval(self.interval)

    def drift(self, batch_id: int) -> bool:
        """True when batch `batch_id` uses the drifted schema (gift_wrap, shipping_cost object)."""
        return self.schema_drift_at is not None and batch_id >= self.schema_drift_at

    def manifest_options(self) -> dict[str, Any]:
        """The options that decide the data, as recorded in every manifest (no paths, no batch range)."""
        return {
            "orders_per_batch": self.orders_per_batch,
            "customers": self.customers,
            "products": self.products,
            "start": self.start,
            "interval": self.interval,
            "profile": self.profile,
            "defect_rates": {k: self.rates[k] for k in DEFECT_KINDS},
            "late_change_rate": self.effective_late_change_rate,
            "schema_drift_at": self.schema_drift_at,
            "format": self.format,
            "lines_per_file": self.lines_per_file,
        }
