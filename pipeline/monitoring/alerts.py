"""Alert rules, configured per environment, evaluated over plain records (no I/O here).

Rules (value / threshold in brackets):

- ``quality_rate``: a rule's pass rate in an update is below ``quality.min_pass_rate[rule]``
  [rate / minimum].
- ``update_failed`` / ``flow_failed``: an update ends FAILED or CANCELED / a flow ends FAILED [1 / 0].
- ``sla_breach``: a table's freshness lag exceeds its SLA target [lag s / target s].
- ``performance_degradation``: a flow's duration or throughput is more than
  ``alerts.performance_degradation_factor`` times worse than the median of its own previous runs
  [ratio / factor].
- ``revenue_anomaly`` / ``order_count_anomaly``: a day's revenue / order count has a robust z-score
  beyond ``alerts.revenue_zscore_threshold`` against the previous ``anomaly_window_days`` days
  [z / threshold].

Every alert carries what (rule, message), where (subject: table, flow or rule), the value and the
threshold, and a natural key ``rule | subject | window`` (window: the update id or the day) that
makes re-evaluating the same run a no-op in the store (`pipeline.monitoring.alert_store`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.config.model import AlertSettings
from pipeline.monitoring.notifications import Message
from pipeline.monitoring.scoring import degradation_ratio, robust_zscore

__all__ = [
    "Alert",
    "AlertSettings",
    "DailyBusiness",
    "FlowRun",
    "FreshnessObservation",
    "QualityObservation",
    "RunStatus",
    "alert_message",
    "business_anomaly_alerts",
    "failure_alerts",
    "performance_alerts",
    "quality_alerts",
    "sla_alerts",
]


@dataclass(frozen=True)
class Alert:
    """One finding. ``dedup_key`` is the natural key the store keeps unique."""

    rule: str
    severity: str
    pipeline: str
    subject: str
    window: str
    value: float | None
    threshold: float | None
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        return f"{self.rule}|{self.subject}|{self.window}"


# --- inputs (read from the metrics tables by alert_store, or built by tests) --------------------


@dataclass(frozen=True)
class QualityObservation:
    """Rows that passed / failed one expectation rule on one dataset in one update."""

    update_id: str
    dataset: str
    rule: str
    passed: int
    failed: int

    @property
    def pass_rate(self) -> float | None:
        total = self.passed + self.failed
        return None if total == 0 else self.passed / total


@dataclass(frozen=True)
class RunStatus:
    """The final state of an update (``flow`` None) or of one of its flows."""

    update_id: str
    status: str
    flow: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class FreshnessObservation:
    """An SLA check at one update (``window``: update id or check time): observed vs target seconds.

    ``check`` is ``freshness`` (``dataset``'s data age) or ``update_duration`` (how long the update
    ran; ``dataset`` is then the check's subject, ``update``), as in the ``sla_status`` table.
    """

    dataset: str
    window: str
    lag_seconds: float
    target_seconds: float
    check: str = "freshness"


@dataclass(frozen=True)
class FlowRun:
    """One flow's run in one update: duration and output rows (throughput = rows / second)."""

    flow: str
    update_id: str
    started_at: dt.datetime
    duration_seconds: float
    rows_out: int

    @property
    def throughput(self) -> float:
        return self.rows_out / self.duration_seconds if self.duration_seconds > 0 else 0.0


@dataclass(frozen=True)
class DailyBusiness:
    """One day of the business: revenue (EUR) and order count, from the gold daily aggregates."""

    day: dt.date
    revenue: float
    orders: int


# --- rules --------------------------------------------------------------------------------------


def quality_alerts(
    pipeline: str, observations: Iterable[QualityObservation], settings: AlertSettings
) -> list[Alert]:
    """A rule whose pass rate in an update is below its configured minimum (rules without one are not checked)."""
    found = []
    for obs in observations:
        minimum = settings.min_pass_rate.get(obs.rule)
        rate = obs.pass_rate
        if minimum is None or rate is None or rate >= minimum:
            continue
        found.append(
            Alert(
                rule="quality_rate",
                severity="critical",
                pipeline=pipeline,
                subject=f"{obs.dataset}:{obs.rule}",
                window=obs.update_id,
                value=round(rate, 6),
                threshold=minimum,
                message=(
                    f"{obs.rule} passed {rate:.2%} of {obs.passed + obs.failed} rows in {obs.dataset} "
                    f"(minimum {minimum:.2%}; {obs.failed} failed)"
                ),
                details={"passed": obs.passed, "failed": obs.failed},
            )
        )
    return found


FAILED_STATES = frozenset({"FAILED", "CANCELED", "CANCELLED"})


def failure_alerts(pipeline: str, runs: Iterable[RunStatus]) -> list[Alert]:
    """An update or a flow that ended FAILED (an update also when CANCELED)."""
    found = []
    for run in runs:
        status = run.status.upper()
        if run.flow is None and status in FAILED_STATES:
            rule, subject, what = "update_failed", pipeline, f"update {run.update_id} ended {status}"
        elif run.flow is not None and status == "FAILED":
            rule, subject, what = "flow_failed", run.flow, f"flow {run.flow} failed in update {run.update_id}"
        else:
            continue
        error = (run.error or "").strip()
        found.append(
            Alert(
                rule=rule,
                severity="critical",
                pipeline=pipeline,
                subject=subject,
                window=run.update_id,
                value=1.0,
                threshold=0.0,
                message=what + (f": {error[:500]}" if error else ""),
                details={"status": status, "error": error[:2000]},
            )
        )
    return found


def sla_alerts(pipeline: str, observations: Iterable[FreshnessObservation]) -> list[Alert]:
    """A table whose data is older than its freshness SLA, or an update that ran longer than allowed."""
    found = []
    for obs in observations:
        if obs.lag_seconds <= obs.target_seconds:
            continue
        observed, allowed = obs.lag_seconds / 60, obs.target_seconds / 60
        if obs.check == "freshness":
            subject, what = obs.dataset, f"{obs.dataset} is {observed:.1f} min old"
        else:
            subject, what = obs.check, f"update {obs.window} took {observed:.1f} min"
        found.append(
            Alert(
                rule="sla_breach",
                severity="warning",
                pipeline=pipeline,
                subject=subject,
                window=obs.window,
                value=obs.lag_seconds,
                threshold=obs.target_seconds,
                message=f"{what}; the SLA allows {allowed:.1f} min",
                details={"check": obs.check},
            )
        )
    return found


def performance_alerts(
    pipeline: str, current: Iterable[FlowRun], history: Sequence[FlowRun], settings: AlertSettings
) -> list[Alert]:
    """A flow whose duration or throughput is ``performance_degradation_factor`` × worse than its baseline.

    The baseline is the flow's own previous ``baseline_runs`` runs (started before the current one),
    so each flow is compared with itself, never with others. A flow that wrote no rows is only
    judged on duration.
    """
    found = []
    factor = settings.performance_degradation_factor
    for run in current:
        past = sorted(
            (h for h in history if h.flow == run.flow and h.started_at < run.started_at),
            key=lambda h: h.started_at,
        )[-settings.baseline_runs :]
        checks = [("duration", run.duration_seconds, [h.duration_seconds for h in past], True)]
        if run.rows_out > 0:
            checks.append(
                ("throughput", run.throughput, [h.throughput for h in past if h.rows_out > 0], False)
            )
        for metric, value, baseline, higher_is_worse in checks:
            ratio = degradation_ratio(
                value, baseline, higher_is_worse=higher_is_worse, min_points=settings.min_baseline_runs
            )
            if ratio is None or ratio <= factor:
                continue
            unit = "s" if metric == "duration" else " rows/s"
            found.append(
                Alert(
                    rule="performance_degradation",
                    severity="warning",
                    pipeline=pipeline,
                    subject=f"{run.flow}:{metric}",
                    window=run.update_id,
                    value=round(ratio, 4) if math.isfinite(ratio) else ratio,
                    threshold=factor,
                    message=(
                        f"{run.flow} {metric} {value:.2f}{unit} is {ratio:.1f}× worse than the median of its "
                        f"last {len(baseline)} runs (limit {factor:g}×)"
                    ),
                    details={"current": value, "baseline": baseline},
                )
            )
    return found


def business_anomaly_alerts(
    pipeline: str, days: Sequence[DailyBusiness], settings: AlertSettings, check_last: int = 1
) -> list[Alert]:
    """Revenue and order-count anomalies of the last ``check_last`` days against their rolling median.

    Each checked day is scored against the ``anomaly_window_days`` days before it (a trailing
    window, so the day itself never enters its own baseline).
    """
    ordered = sorted(days, key=lambda d: d.day)
    found = []
    threshold = settings.revenue_zscore_threshold
    for index in range(max(0, len(ordered) - check_last), len(ordered)):
        today = ordered[index]
        window = ordered[max(0, index - settings.anomaly_window_days) : index]
        for rule, metric, value, history in (
            ("revenue_anomaly", "revenue", today.revenue, [d.revenue for d in window]),
            ("order_count_anomaly", "orders", float(today.orders), [float(d.orders) for d in window]),
        ):
            z = robust_zscore(value, history, min_points=settings.min_anomaly_history_days)
            if z is None or abs(z) <= threshold:
                continue
            direction = "above" if z > 0 else "below"
            found.append(
                Alert(
                    rule=rule,
                    severity="warning",
                    pipeline=pipeline,
                    subject=metric,
                    window=today.day.isoformat(),
                    value=round(z, 4) if math.isfinite(z) else z,
                    threshold=threshold,
                    message=(
                        f"{metric} on {today.day.isoformat()} = {value:,.2f} is {direction} the {len(history)}-day "
                        f"median (robust z {z:+.2f}, limit ±{threshold:g})"
                    ),
                    details={"observed": value, "history_days": len(history)},
                )
            )
    return found


def alert_message(alert: Alert) -> Message:
    """The notification for one alert: what, where, value and threshold as labelled fields."""
    return Message(
        subject=f"[{alert.pipeline}] {alert.rule}: {alert.subject}",
        text=alert.message,
        fields=(
            ("what", alert.rule),
            ("where", alert.subject),
            ("window", alert.window),
            ("value", "n/a" if alert.value is None else f"{alert.value:g}"),
            ("threshold", "n/a" if alert.threshold is None else f"{alert.threshold:g}"),
        ),
        severity=alert.severity,
    )
