"""The simulated clock: batch windows, timestamp text, and the order intensity over time.

Intensity = daily profile (hour of day, UTC) x weekly profile (day of week) x promotion factor. A
batch's order count is the baseline scaled by the mean intensity over its window, and order times
are drawn from the same intensity, so hourly/daily/weekly seasonality and promotion spikes show
up in the gold aggregates. Everything is a pure function of the seed and the window.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

_DAILY = np.array(
    [
        0.25,
        0.15,
        0.1,
        0.08,
        0.08,
        0.12,
        0.3,
        0.6,
        0.9,
        1.1,
        1.2,
        1.3,
        1.4,
        1.3,
        1.2,
        1.2,
        1.3,
        1.5,
        1.7,
        1.9,
        2.0,
        1.7,
        1.1,
        0.6,
    ]
)
DAILY_PROFILE = _DAILY / _DAILY.mean()
_WEEKLY = np.array([1.0, 0.95, 0.95, 1.0, 1.05, 0.9, 1.25])  # Monday .. Sunday
WEEKLY_PROFILE = _WEEKLY / _WEEKLY.mean()
PROMO_PROBABILITY = 0.05
PROMO_FACTOR = 2.5
BLACK_FRIDAY_FACTOR = 4.0
DAY = 86_400
HOUR = 3_600


@functools.lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


@functools.lru_cache(maxsize=1)
def _time_of_day() -> tuple[str, ...]:
    return tuple(f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(DAY))


def iso(epoch: int) -> str:
    """Epoch seconds -> '2026-01-05T13:45:12Z' (table lookups: called once per feed record)."""
    day, second = divmod(int(epoch), DAY)
    return _day_prefix(day) + _time_of_day()[second]


def compact(epoch: int) -> str:
    """Epoch seconds -> '20260105T134512Z' (file names)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def day_text(day: int) -> str:
    """Days since 1970-01-01 -> '2026-01-05'."""
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


def month_text(epoch: int) -> str:
    return time.strftime("%Y-%m", time.gmtime(epoch))


def _is_black_friday(day: int) -> bool:
    moment = time.gmtime(day * DAY)
    return moment.tm_mon == 11 and moment.tm_wday == 4 and 22 <= moment.tm_mday <= 28


@dataclass(frozen=True)
class Clock:
    """Windows of the batches: batch k covers [start + (k-1)*interval, start + k*interval)."""

    seed: int
    start: int
    interval: int

    def window(self, batch_id: int) -> tuple[int, int]:
        begin = self.start + (batch_id - 1) * self.interval
        return begin, begin + self.interval

    def batch_of(self, epoch: np.ndarray) -> np.ndarray:
        """The batch whose window contains each instant."""
        return (epoch - self.start) // self.interval + 1

    def promo_factor(self, day: int) -> float:
        """Promotion multiplier of a UTC day (days since epoch): a seeded flash sale or Black Friday."""
        if _is_black_friday(day):
            return BLACK_FRIDAY_FACTOR
        draw = np.random.default_rng(np.random.SeedSequence([self.seed, 7, day])).random()
        return PROMO_FACTOR if draw < PROMO_PROBABILITY else 1.0

    def _hour_weights(self, begin: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per UTC hour overlapping [begin, end): (lower bound, upper bound, intensity x overlap)."""
        first, last = begin // HOUR, (end - 1) // HOUR
        hours = np.arange(first, last + 1, dtype=np.int64)
        lower = np.maximum(hours * HOUR, begin)
        upper = np.minimum((hours + 1) * HOUR, end)
        days = hours // 24
        weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        promo = {int(d): self.promo_factor(int(d)) for d in np.unique(days)}
        factor = np.array([promo[int(d)] for d in days])
        intensity = DAILY_PROFILE[hours % 24] * WEEKLY_PROFILE[weekday] * factor
        return lower, upper, intensity * (upper - lower)

    def order_count(self, batch_id: int, baseline: int) -> int:
        """New orders in the batch: the baseline scaled by the window's mean intensity."""
        begin, end = self.window(batch_id)
        _, _, weight = self._hour_weights(begin, end)
        return round(baseline * float(weight.sum()) / (end - begin))

    def sample_times(self, rng: np.random.Generator, batch_id: int, count: int) -> np.ndarray:
        """`count` sorted order times inside the batch window, drawn from the intensity."""
        begin, end = self.window(batch_id)
        lower, upper, weight = self._hour_weights(begin, end)
        cumulative = np.cumsum(weight)
        bucket = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
        bucket = np.minimum(bucket, len(lower) - 1)
        offset = (rng.random(count) * (upper[bucket] - lower[bucket])).astype(np.int64)
        return np.sort(lower[bucket] + offset)

    def is_promo(self, epochs: np.ndarray) -> np.ndarray:
        days = epochs // DAY
        unique = np.unique(days)
        promo = np.array([self.promo_factor(int(d)) > 1.0 for d in unique], dtype=bool)
        return promo[np.searchsorted(unique, days)]
