"""Value pools built once per seed: Faker names and addresses for a European locale mix, and the
product catalogue.

Faker is slow per call, so it only fills small pools here; the volume is drawn from the pools by
numpy index arrays. Every string that goes into an order line is JSON-encoded once here (orjson),
so rendering never escapes anything per row.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
import orjson
from faker import Faker

#: (Faker locale, ISO country, share of customers). EUR shop with a European customer base.
LOCALES: tuple[tuple[str, str, float], ...] = (
    ("de_DE", "DE", 0.30),
    ("fr_FR", "FR", 0.18),
    ("it_IT", "IT", 0.12),
    ("nl_NL", "NL", 0.10),
    ("es_ES", "ES", 0.10),
    ("pl_PL", "PL", 0.08),
    ("de_AT", "AT", 0.06),
    ("nl_BE", "BE", 0.06),
)
NAMES_PER_LOCALE = 200
ADDRESSES_PER_LOCALE = 300
DOMAINS_PER_LOCALE = 6

CATEGORIES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    # (category, product nouns, median price in EUR)
    ("electronics", ("Headphones", "Charger", "Speaker", "Smartwatch", "Keyboard", "Webcam"), 79.0),
    ("home", ("Lamp", "Cushion", "Vase", "Blanket", "Frying Pan", "Kettle"), 34.0),
    ("fashion", ("T-Shirt", "Sneakers", "Jacket", "Scarf", "Jeans", "Backpack"), 45.0),
    ("beauty", ("Face Cream", "Shampoo", "Perfume", "Lipstick", "Serum"), 19.0),
    ("sports", ("Yoga Mat", "Dumbbell", "Running Shorts", "Water Bottle", "Tennis Racket"), 39.0),
    ("books", ("Novel", "Cookbook", "Travel Guide", "Comic", "Biography"), 16.0),
    ("toys", ("Puzzle", "Board Game", "Plush Bear", "Building Set", "Kite"), 24.0),
    ("garden", ("Hose", "Planter", "Pruning Shears", "Bird Feeder", "Solar Light"), 29.0),
)
ADJECTIVES = ("Classic", "Pro", "Eco", "Deluxe", "Compact", "Urban", "Nordic", "Smart", "Vintage", "Ultra")
PRICE_BANDS = ("budget", "mid", "premium", "luxury")
_BAND_FACTORS = (0.45, 1.0, 2.2, 5.0)
_BAND_SHARES = (0.35, 0.4, 0.2, 0.05)
_PRICE_ENDINGS = np.array([99, 49, 95, 90, 0])


def _faker(locale: str, seed: int) -> Faker:
    """A seeded Faker whose candidate lists do not depend on the process's hash seed.

    Some providers build candidate lists from sets (it_IT `cities` is `list({...})`), so their order,
    and thus what a seeded draw returns, changes with PYTHONHASHSEED. Sorting every list of strings
    on the providers keeps the candidates and makes the draws reproducible across processes.
    """
    fake = Faker(locale)
    for provider in fake.providers:
        for name, value in list(vars(type(provider)).items()) + list(vars(provider).items()):
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                setattr(provider, name, sorted(value))
    fake.seed_instance(seed)
    return fake


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum()).lower()


@dataclass(frozen=True)
class Pools:
    """Names, e-mail domains and addresses by locale; flat arrays with per-locale offsets."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    ascii_first: tuple[str, ...]
    ascii_last: tuple[str, ...]
    domains: tuple[str, ...]
    addresses: tuple[tuple[str, str, str, str], ...]  # street, city, postal_code, country
    address_json: tuple[str, ...]  # pre-encoded {"street":..,"city":..,"postal_code":..,"country":..}
    locale_shares: np.ndarray
    locale_countries: tuple[str, ...]

    def name_index(self, locale: np.ndarray, offset: np.ndarray) -> np.ndarray:
        return locale * NAMES_PER_LOCALE + offset % NAMES_PER_LOCALE

    def address_index(self, locale: np.ndarray, offset: np.ndarray) -> np.ndarray:
        return locale * ADDRESSES_PER_LOCALE + offset % ADDRESSES_PER_LOCALE

    def domain_index(self, locale: np.ndarray, offset: np.ndarray) -> np.ndarray:
        return locale * DOMAINS_PER_LOCALE + offset % DOMAINS_PER_LOCALE


@functools.lru_cache(maxsize=4)
def build_pools(seed: int) -> Pools:
    """Faker pools for `seed` (deterministic for a given Faker version); cached per process."""
    first: list[str] = []
    last: list[str] = []
    domains: list[str] = []
    addresses: list[tuple[str, str, str, str]] = []
    for index, (locale, country, _share) in enumerate(LOCALES):
        fake = _faker(locale, seed * 1000 + index)
        first += [fake.first_name() for _ in range(NAMES_PER_LOCALE)]
        last += [fake.last_name() for _ in range(NAMES_PER_LOCALE)]
        local_domains = sorted({fake.free_email_domain() for _ in range(60)})
        domains += [local_domains[i % len(local_domains)] for i in range(DOMAINS_PER_LOCALE)]
        for _ in range(ADDRESSES_PER_LOCALE):
            street = fake.street_address().replace("\n", ", ")
            addresses.append((street, fake.city(), fake.postcode(), country))
    address_json = tuple(
        orjson.dumps({"street": s, "city": c, "postal_code": p, "country": k}).decode()
        for s, c, p, k in addresses
    )
    shares = np.array([share for _, _, share in LOCALES])
    return Pools(
        first_names=tuple(first),
        last_names=tuple(last),
        ascii_first=tuple(_ascii(n) or "customer" for n in first),
        ascii_last=tuple(_ascii(n) or "x" for n in last),
        domains=tuple(domains),
        addresses=tuple(addresses),
        address_json=address_json,
        locale_shares=shares / shares.sum(),
        locale_countries=tuple(country for _, country, _ in LOCALES),
    )


@dataclass(frozen=True)
class Catalog:
    """The product catalogue: one row per SKU; `popularity` sums to 1 (Zipf-like)."""

    sku: tuple[str, ...]
    name: tuple[str, ...]
    category: tuple[str, ...]
    brand: tuple[str, ...]
    price_band: tuple[str, ...]
    price_cents: np.ndarray
    popularity: np.ndarray

    def __len__(self) -> int:
        return len(self.sku)

    def rows(self) -> list[dict[str, object]]:
        """The catalogue as plain records (for docs, tests and a future product dimension)."""
        return [
            {
                "sku": self.sku[i],
                "name": self.name[i],
                "category": self.category[i],
                "brand": self.brand[i],
                "price_band": self.price_band[i],
                "price": f"{self.price_cents[i] // 100}.{self.price_cents[i] % 100:02d}",
            }
            for i in range(len(self.sku))
        ]


@functools.lru_cache(maxsize=4)
def build_catalog(seed: int, products: int) -> Catalog:
    """A deterministic catalogue of `products` SKUs with category, brand, price band and price."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 101]))
    fake = _faker("en_US", seed)
    brands = sorted(
        {fake.last_name() + suffix for suffix in ("", " & Co", " Labs", "ware") for _ in range(10)}
    )
    category = rng.integers(0, len(CATEGORIES), products)
    band = rng.choice(len(PRICE_BANDS), products, p=_BAND_SHARES)
    median = np.array([c[2] for c in CATEGORIES])[category] * np.array(_BAND_FACTORS)[band]
    euros = np.maximum(1, np.floor(median * rng.lognormal(0.0, 0.35, products))).astype(np.int64)
    price = euros * 100 + _PRICE_ENDINGS[rng.integers(0, len(_PRICE_ENDINGS), products)]
    price = np.where(price - 100 > 0, price - 100, price)  # 19.99 rather than 20.99 from floor(x)+.99
    noun = rng.integers(0, 1000, products)
    adjective = rng.integers(0, len(ADJECTIVES), products)
    brand = rng.integers(0, len(brands), products)
    ranks = rng.permutation(products) + 1
    weights = 1.0 / ranks**1.1
    names = []
    for i in range(products):
        nouns = CATEGORIES[category[i]][1]
        names.append(f"{brands[brand[i]]} {ADJECTIVES[adjective[i]]} {nouns[noun[i] % len(nouns)]}")
    return Catalog(
        sku=tuple(f"SKU-{i:05d}" for i in range(products)),
        name=tuple(names),
        category=tuple(CATEGORIES[c][0] for c in category),
        brand=tuple(brands[b] for b in brand),
        price_band=tuple(PRICE_BANDS[b] for b in band),
        price_cents=price.astype(np.int64),
        popularity=weights / weights.sum(),
    )
