"""Scoring functions and alert rules: pure Python, no JVM, no database."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from pipeline.monitoring.alerts import (
    AlertSettings,
    DailyBusiness,
    FlowRun,
    FreshnessObservation,
    QualityObservation,
    RunStatus,
    alert_message,
    business_anomaly_alerts,
    failure_alerts,
    performance_alerts,
    quality_alerts,
    sla_alerts,
)
from pipeline.monitoring.scoring import degradation_ratio, mad, median, robust_zscore
from pipeline.utils.errors import ConfigError

pytestmark = pytest.mark.unit

SETTINGS = AlertSettings.from_config(
    {
        "quality": {"min_pass_rate": {"order_id_present": 0.99, "status_known": 0.95}},
        "alerts": {"revenue_zscore_threshold": 3.5, "performance_degradation_factor": 2.0},
    }
)


def test_median_and_mad() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    assert mad([1, 2, 3, 4, 100]) == 1  # |x-3| = 2,1,0,1,97 -> median 1
    with pytest.raises(ValueError):
        median([])


def test_robust_zscore_ignores_the_outlier_in_the_history() -> None:
    history = [100, 102, 98, 101, 99, 100, 1000]  # one outlier day in the past
    # median 100, MAD 1 -> a 105 day is 0.6745*5/1 = 3.37 (not flagged at 3.5), 110 is 6.7
    assert robust_zscore(105, history) == pytest.approx(3.3725)
    assert robust_zscore(110, history) == pytest.approx(6.745)
    assert robust_zscore(90, history) == pytest.approx(-6.745)


def test_robust_zscore_flat_history_fallbacks() -> None:
    assert robust_zscore(5, [1, 2]) is None  # too short
    # MAD 0 (more than half identical) -> mean absolute deviation: |0,0,0,0,10| mean 2
    assert robust_zscore(20, [10, 10, 10, 10, 20]) == pytest.approx(10 / (1.2533 * 2))
    assert robust_zscore(10, [10, 10, 10]) == 0.0
    assert robust_zscore(11, [10, 10, 10]) == math.inf
    assert robust_zscore(9, [10, 10, 10]) == -math.inf


def test_degradation_ratio_for_duration_and_throughput() -> None:
    assert degradation_ratio(30, [10, 12, 8], higher_is_worse=True) == 3.0
    assert degradation_ratio(50, [100, 200, 150], higher_is_worse=False) == 3.0
    assert degradation_ratio(0, [100, 200, 150], higher_is_worse=False) == math.inf
    assert degradation_ratio(30, [10, 12], higher_is_worse=True) is None
    assert degradation_ratio(30, [0, 0, 0], higher_is_worse=True) is None


def test_quality_rate_below_minimum_per_rule() -> None:
    alerts = quality_alerts(
        "retail_dev",
        [
            QualityObservation("u1", "silver_orders", "order_id_present", passed=980, failed=20),
            QualityObservation("u1", "silver_orders", "status_known", passed=990, failed=10),  # 0.99 >= 0.95
            QualityObservation("u1", "silver_orders", "no_threshold_rule", passed=0, failed=10),
            QualityObservation("u1", "silver_orders", "order_id_present", passed=0, failed=0),  # no rows
        ],
        SETTINGS,
    )
    [alert] = alerts
    assert (alert.rule, alert.subject, alert.window) == (
        "quality_rate",
        "silver_orders:order_id_present",
        "u1",
    )
    assert (alert.value, alert.threshold) == (0.98, 0.99)
    assert alert.dedup_key == "quality_rate|silver_orders:order_id_present|u1"
    assert alert.details == {"passed": 980, "failed": 20}


def test_failed_updates_and_flows() -> None:
    alerts = failure_alerts(
        "p",
        [
            RunStatus("u1", "COMPLETED"),
            RunStatus("u2", "FAILED", error="boom"),
            RunStatus("u2", "FAILED", flow="silver_orders", error="AnalysisException: x"),
            RunStatus("u2", "COMPLETED", flow="bronze_orders"),
            RunStatus("u3", "CANCELED"),
        ],
    )
    assert [(a.rule, a.subject, a.window) for a in alerts] == [
        ("update_failed", "p", "u2"),
        ("flow_failed", "silver_orders", "u2"),
        ("update_failed", "p", "u3"),
    ]
    assert alerts[1].message == "flow silver_orders failed in update u2: AnalysisException: x"


def test_sla_breach() -> None:
    alerts = sla_alerts(
        "p",
        [
            FreshnessObservation("gold_kpis", "u1", 5400, 3600),
            FreshnessObservation("silver_orders", "u1", 60, 900),
        ],
    )
    [alert] = alerts
    assert (alert.subject, alert.value, alert.threshold) == ("gold_kpis", 5400, 3600)


def _run(flow: str, n: int, duration: float, rows: int) -> FlowRun:
    return FlowRun(
        flow, f"u{n}", dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=n), duration, rows
    )


def test_performance_degradation_against_the_flow_own_baseline() -> None:
    history = [_run("silver_orders", n, 10.0 + n % 2, 1000) for n in range(12)] + [
        _run("gold_daily", n, 100.0, 10)
        for n in range(12)  # a slow flow: not this flow's baseline
    ]
    current = [_run("silver_orders", 20, 25.0, 1000), _run("gold_daily", 20, 110.0, 10)]
    alerts = performance_alerts("p", current, history, SETTINGS)
    # silver_orders: median of last 10 runs (10/11 alternating) = 10.5 -> 25/10.5 = 2.38x;
    # throughput: median of 100 and 90.9 rows/s = 95.45 vs 40 now = 2.39x
    assert sorted((a.subject, a.value) for a in alerts) == [
        ("silver_orders:duration", pytest.approx(2.381, abs=1e-3)),
        ("silver_orders:throughput", pytest.approx(2.386, abs=1e-3)),
    ]
    assert all(a.window == "u20" and a.threshold == 2.0 for a in alerts)


def test_performance_needs_a_baseline() -> None:
    history = [_run("f", n, 1.0, 10) for n in range(2)]
    assert performance_alerts("p", [_run("f", 5, 100.0, 10)], history, SETTINGS) == []


def test_business_anomaly_flags_a_revenue_collapse_not_normal_noise() -> None:
    start = dt.date(2026, 1, 1)
    days = [
        DailyBusiness(start + dt.timedelta(days=i), 10_000 + (i % 5) * 100, 200 + i % 3) for i in range(28)
    ]
    normal = [*days, DailyBusiness(start + dt.timedelta(days=28), 10_150, 201)]
    assert business_anomaly_alerts("p", normal, SETTINGS) == []
    collapse = [*days, DailyBusiness(start + dt.timedelta(days=28), 2_000, 201)]
    [alert] = business_anomaly_alerts("p", collapse, SETTINGS)
    assert (alert.rule, alert.subject, alert.window) == ("revenue_anomaly", "revenue", "2026-01-29")
    assert alert.value < -3.5 and alert.threshold == 3.5
    assert "below the 28-day median" in alert.message


def test_business_anomaly_needs_history_days() -> None:
    days = [DailyBusiness(dt.date(2026, 1, d), 100.0, 10) for d in range(1, 5)] + [
        DailyBusiness(dt.date(2026, 1, 5), 1.0, 1)
    ]
    assert business_anomaly_alerts("p", days, SETTINGS) == []


def test_alert_message_carries_what_where_value_threshold() -> None:
    [alert] = sla_alerts("retail_dev", [FreshnessObservation("gold_kpis", "u9", 7200, 3600)])
    message = alert_message(alert)
    assert message.subject == "[retail_dev] sla_breach: gold_kpis"
    assert dict(message.fields) == {
        "what": "sla_breach",
        "where": "gold_kpis",
        "window": "u9",
        "value": "7200",
        "threshold": "3600",
    }


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"quality": {"min_pass_rate": {"r": 1.5}}}, "quality.min_pass_rate.r"),
        ({"quality": {"min_pass_rate": ["r"]}}, "quality.min_pass_rate"),
        ({"alerts": {"performance_degradation_factor": 0.5}}, "alerts.performance_degradation_factor"),
        ({"alerts": {"baseline_runs": 2.5}}, "alerts.baseline_runs"),
        ({"alerts": {"revenue_zscore_threshold": True}}, "alerts.revenue_zscore_threshold"),
    ],
)
def test_bad_alert_settings_name_the_key(config: dict, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        AlertSettings.from_config(config)
    assert info.value.key == key
