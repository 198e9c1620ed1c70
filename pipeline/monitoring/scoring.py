"""Pure scoring functions behind the alert rules: robust z-scores and baseline ratios.

Why robust statistics: daily revenue has outliers (sale days, the drift batch) and a handful of
points. A mean/stddev z-score is dragged by the very outlier it should flag; the median and the
median absolute deviation (MAD) are not (Iglewicz & Hoaglin, "How to Detect and Handle Outliers",
1993: the modified z-score ``0.6745 · (x − median) / MAD``, flag above 3.5). When more than half
of the history is identical the MAD is 0; we then fall back to the mean absolute deviation scaled
by 1.2533 (the same consistency constant for a normal distribution), and when that is 0 too any
difference from the median is an infinitely large score (a flat series that moves is news).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["degradation_ratio", "mad", "median", "robust_zscore"]

#: 0.6745 = Φ⁻¹(0.75): makes MAD a consistent estimator of σ for normal data.
MAD_CONSISTENCY = 0.6745
#: sqrt(pi/2): the mean absolute deviation of a normal variable is σ·sqrt(2/pi).
MEAN_AD_CONSISTENCY = 1.2533


def median(values: Sequence[float]) -> float:
    """The median; raises ValueError on an empty sequence (callers check history length first)."""
    if not values:
        raise ValueError("median of an empty sequence")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation from the median (unscaled)."""
    center = median(values)
    return median([abs(v - center) for v in values])


def robust_zscore(value: float, history: Sequence[float], min_points: int = 3) -> float | None:
    """The modified z-score of ``value`` against ``history`` (signed), or None when the history is too short."""
    if len(history) < min_points:
        return None
    center = median(history)
    deviation = mad(history)
    if deviation > 0:
        return MAD_CONSISTENCY * (value - center) / deviation
    mean_ad = sum(abs(v - center) for v in history) / len(history)
    if mean_ad > 0:
        return (value - center) / (MEAN_AD_CONSISTENCY * mean_ad)
    if value == center:
        return 0.0
    return math.copysign(math.inf, value - center)


def degradation_ratio(
    current: float, baseline: Sequence[float], *, higher_is_worse: bool, min_points: int = 3
) -> float | None:
    """How many times worse ``current`` is than the median of its own past runs (1.0 = as usual).

    For a duration (``higher_is_worse``) that is ``current / median``; for a throughput it is
    ``median / current``. None when the baseline is too short or its median is 0 (nothing to compare);
    a zero throughput against a positive baseline is infinitely worse.
    """
    if len(baseline) < min_points:
        return None
    center = median(baseline)
    if center <= 0:
        return None
    if higher_is_worse:
        return current / center
    return math.inf if current <= 0 else center / current
