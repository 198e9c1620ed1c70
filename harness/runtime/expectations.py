"""Expectations as DLT applies them: warn keeps and counts, drop removes and counts, fail stops the flow.

Counts are gathered in the same pass as the write: one Spark `Observation` per flow batch carrying
``count(1)`` and, per rule, the number of failing rows — no second scan. A row fails a rule when the
constraint is FALSE **or NULL** (``NOT coalesce(constraint, false)``); set the Spark conf
``harness.expectations.nullPasses=true`` for SQL CHECK semantics instead (see docs/semantics.md).
A `fail` rule becomes a filter that raises a Spark error carrying the flow, the rule and the
offending record, before anything is committed; `parse_violation` turns it into
`ExpectationViolationError`.

The SQL builders are pure (strings in, strings out) and unit-tested without a JVM.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ExpectationViolationError
from harness.shim.records import Expectation, ExpectationAction

NULL_PASSES_CONF = "harness.expectations.nullPasses"
VIOLATION_MARKER = "HARNESS_EXPECTATION_VIOLATION"
_ROWS = "__rows"


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def passes_sql(rule: Expectation, null_passes: bool = False) -> str:
    """SQL that is TRUE exactly when a record satisfies the rule."""
    return f"coalesce(({rule.constraint}), {'true' if null_passes else 'false'})"


def metric_alias(index: int) -> str:
    return f"__failed_{index}"


def observation_sql(rules: Sequence[Expectation], null_passes: bool = False) -> list[tuple[str, str]]:
    """(alias, aggregate SQL) pairs: total rows, failures per rule, rows dropped by drop rules."""
    metrics = [(_ROWS, "count(1)")]
    for index, rule in enumerate(rules):
        metrics.append(
            (metric_alias(index), f"sum(CASE WHEN {passes_sql(rule, null_passes)} THEN 0 ELSE 1 END)")
        )
    drops = [r for r in rules if r.action is ExpectationAction.DROP]
    if drops:
        metrics.append(("__dropped", f"sum(CASE WHEN {keep_sql(drops, null_passes)} THEN 0 ELSE 1 END)"))
    return metrics


def keep_sql(drop_rules: Sequence[Expectation], null_passes: bool = False) -> str:
    """TRUE for rows that pass every drop rule (a row failing any of them is dropped)."""
    return " AND ".join(f"({passes_sql(r, null_passes)})" for r in drop_rules) or "true"


def fail_check_sql(fail_rules: Sequence[Expectation], flow: str, null_passes: bool = False) -> str:
    """A filter that is TRUE for good rows and raises on the first row failing a fail rule."""
    clauses = []
    for rule in fail_rules:
        message = (
            f"concat({_sql_string(f'{VIOLATION_MARKER}|{flow}|{rule.name}|')}, "
            "coalesce(to_json(struct(*)), '<unavailable>'))"
        )
        clauses.append(f"WHEN NOT {passes_sql(rule, null_passes)} THEN raise_error({message})")
    return "CASE " + " ".join(clauses) + " ELSE true END" if clauses else "true"


_VIOLATION = re.compile(
    VIOLATION_MARKER + r"\|(?P<flow>[^|]*)\|(?P<rule>[^|]*)\|(?P<record>[^\n]*?)(?: SQLSTATE: |\n|$)"
)


def parse_violation(error: BaseException | str) -> ExpectationViolationError | None:
    """The ExpectationViolationError hidden in a Spark exception raised by `fail_check_sql`."""
    text = str(error)
    match = _VIOLATION.search(text)
    if not match:
        return None
    return ExpectationViolationError(match.group("flow"), match.group("rule"), match.group("record").strip())


@dataclass(frozen=True)
class ExpectationResult:
    """Counts for one flow (summed over its batches), shaped like DLT's data_quality details."""

    dataset: str
    rules: tuple[Expectation, ...]
    input_rows: int
    failed: tuple[int, ...]
    dropped: int

    def data_quality(self) -> dict[str, Any]:
        return {
            "dropped_records": self.dropped,
            "expectations": [
                {
                    "name": rule.name,
                    "dataset": self.dataset,
                    "passed_records": self.input_rows - failed,
                    "failed_records": failed,
                }
                for rule, failed in zip(self.rules, self.failed, strict=True)
                if rule.action is not ExpectationAction.FAIL or failed == 0
            ],
        }

    def plus(self, other: ExpectationResult) -> ExpectationResult:
        return ExpectationResult(
            self.dataset,
            self.rules,
            self.input_rows + other.input_rows,
            tuple(a + b for a, b in zip(self.failed, other.failed, strict=True)),
            self.dropped + other.dropped,
        )

    @classmethod
    def empty(cls, dataset: str, rules: Sequence[Expectation]) -> ExpectationResult:
        return cls(dataset, tuple(rules), 0, tuple(0 for _ in rules), 0)


class AppliedExpectations:
    """A flow's rules applied to one DataFrame, with an Observation counting rows in the same pass.

    Read `result()` only after the write action succeeded (an Observation is filled when the
    action completes).
    """

    def __init__(
        self,
        df: Any,
        rules: Sequence[Expectation],
        dataset: str,
        flow: str,
        null_passes: bool,
        streaming_name: str | None = None,
    ) -> None:
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        self.rules = tuple(rules)
        self.dataset = dataset
        #: a streaming query reports named observations per micro-batch in its progress
        #: (``observedMetrics[streaming_name]``); a batch write fills an `Observation`
        self.streaming_name = streaming_name
        self._observation = None if streaming_name else Observation(f"flow_{flow}")
        metrics = [F.expr(sql).alias(alias) for alias, sql in observation_sql(self.rules, null_passes)]
        out = df.observe(streaming_name or self._observation, *metrics)
        fails = [r for r in self.rules if r.action is ExpectationAction.FAIL]
        if fails:
            out = out.where(F.expr(fail_check_sql(fails, flow, null_passes)))
        drops = [r for r in self.rules if r.action is ExpectationAction.DROP]
        if drops:
            out = out.where(F.expr(keep_sql(drops, null_passes)))
        self.df = out

    def result(self) -> ExpectationResult:
        assert self._observation is not None, "a streaming query's counts come from its progress"
        from harness.runtime.profile import timed

        with timed("observation"):
            values = self._observation.get
        return result_from_row(self.dataset, self.rules, values)

    def batch_results(self, progresses: Sequence[Any]) -> list[ExpectationResult]:
        """Counts per micro-batch that reported this observation, in batch order.

        A batch the Delta sink skipped as a replay (already committed by a crashed update) never
        ran its plan: it reports no rows, so nothing is counted twice.
        """
        assert self.streaming_name is not None
        out = []
        for progress in progresses:
            observed = (
                progress.get("observedMetrics")
                if isinstance(progress, dict)
                else getattr(progress, "observedMetrics", None)
            ) or {}
            if self.streaming_name in observed:
                out.append(result_from_row(self.dataset, self.rules, observed[self.streaming_name]))
        return out


def result_from_row(dataset: str, rules: Sequence[Expectation], values: Any) -> ExpectationResult:
    """Counts from an observed-metrics row or dict (Observation.get or a streaming progress)."""
    values = values.asDict() if hasattr(values, "asDict") else dict(values or {})
    total = int(values.get(_ROWS) or 0)
    failed = tuple(int(values.get(metric_alias(i)) or 0) for i in range(len(rules)))
    return ExpectationResult(dataset, tuple(rules), total, failed, int(values.get("__dropped") or 0))


def null_passes(spark: Any) -> bool:
    return str(spark.conf.get(NULL_PASSES_CONF, "false")).lower() == "true"
