"""Compare a case's expected rows and event-log counts with what the update produced.

Rows are compared as multisets over the columns the expected rows name (a table may carry more
columns, e.g. `_rescued_data` or `__START_AT`, which a case checks only when it names them).
Values are normalised so YAML and Spark agree: Decimal -> float, timestamps -> 'YYYY-MM-DD
HH:MM:SS[.ffffff]', dates -> 'YYYY-MM-DD', Rows -> dicts, floats rounded to 9 places.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from conformance_case import UpdateExpectation


def normalise(value: Any) -> Any:
    if hasattr(value, "asDict"):
        return {k: normalise(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, Decimal):
        return round(float(value), 9)
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def assert_rows(frame: Any, expected: list[dict[str, Any]], where: str) -> None:
    columns = sorted({name for row in expected for name in row}) or list(frame.columns)
    missing = [c for c in columns if c not in frame.columns]
    assert not missing, f"{where}: columns {missing} not in the table (it has {frame.columns})"
    actual_rows = [normalise(row.asDict(recursive=False)) for row in frame.select(*columns).collect()]
    actual = Counter(_key({c: row[c] for c in columns}) for row in actual_rows)
    wanted = Counter(_key({c: normalise(row.get(c)) for c in columns}) for row in expected)
    if actual != wanted:
        extra = sorted((actual - wanted).elements())
        lacking = sorted((wanted - actual).elements())
        raise AssertionError(f"{where}: rows differ\n  unexpected: {extra}\n  missing: {lacking}")


def _short(name: str | None) -> str:
    return (name or "").split(".")[-1].strip("`")


def event_counts(event_log: Any, update_id: str) -> dict[str, Any]:
    """Per dataset: expectation [passed, failed], dropped records and output rows of one update."""
    rows = (
        event_log.where(f"event_type = 'flow_progress' AND origin.update_id = '{update_id}'")
        .select("origin.dataset_name", "details")
        .collect()
    )
    expectations: dict[str, dict[str, list[int]]] = {}
    dropped: Counter[str] = Counter()
    output: Counter[str] = Counter()
    for row in rows:
        progress = json.loads(row["details"]).get("flow_progress", {})
        dataset = _short(row["dataset_name"])
        quality = progress.get("data_quality") or {}
        for rule in quality.get("expectations") or []:
            pair = expectations.setdefault(_short(rule.get("dataset") or dataset), {}).setdefault(
                rule["name"], [0, 0]
            )
            pair[0] += int(rule.get("passed_records") or 0)
            pair[1] += int(rule.get("failed_records") or 0)
        if "dropped_records" in quality:
            dropped[dataset] += int(quality["dropped_records"] or 0)
        metrics = progress.get("metrics") or {}
        if "num_output_rows" in metrics:
            output[dataset] += int(metrics["num_output_rows"] or 0)
    return {"expectations": expectations, "dropped": dropped, "output_rows": output}


def assert_event_counts(event_log: Any, update_id: str, expected: UpdateExpectation, where: str) -> None:
    if not (expected.expectations or expected.dropped or expected.output_rows):
        return
    counts = event_counts(event_log, update_id)
    for dataset, rules in expected.expectations.items():
        for rule, (passed, failed) in rules.items():
            actual = counts["expectations"].get(dataset, {}).get(rule)
            assert actual == [passed, failed], (
                f"{where}: expectation {dataset}.{rule}: expected [passed, failed] = "
                f"[{passed}, {failed}], event log has {actual} (all: {counts['expectations']})"
            )
    for dataset, n in expected.dropped.items():
        assert counts["dropped"].get(dataset, 0) == n, (
            f"{where}: dropped_records of {dataset}: expected {n}, event log has {counts['dropped'].get(dataset, 0)}"
        )
    for dataset, n in expected.output_rows.items():
        assert counts["output_rows"].get(dataset, 0) == n, (
            f"{where}: num_output_rows of {dataset}: expected {n}, "
            f"event log has {counts['output_rows'].get(dataset, 0)}"
        )
