"""What a trial checks after the recovering run; each check returns its name or raises AssertionError."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from crash_helpers import event_log_path, table_reader

from harness.reconcile import reconcile

#: how an update killed by SIGKILL is closed by the next update (harness/runtime/update.py)
CRASHED_CLASS = "UpdateTerminatedUnexpectedly"
TERMINAL = ("COMPLETED", "FAILED", "CANCELED")


def check_tables(spark: Any, state: Path, manifest: dict[str, Any]) -> list[str]:
    """Bronze rows = lines produced, silver + quarantine = bronze, gold = oracle, no order twice."""
    read = table_reader(spark, state)
    bronze = read("bronze_orders").count()
    lines = manifest["cumulative"]["order_lines"]
    assert bronze == lines, f"bronze_orders has {bronze} rows, the simulator produced {lines} lines"
    mismatches = [str(m) for m in reconcile(read, manifest)]
    assert mismatches == [], mismatches[:20]
    orders = read("silver_orders")
    total, distinct = orders.count(), orders.select("order_id").distinct().count()
    assert total == distinct, f"silver_orders: {total - distinct} duplicate order_id"
    return [f"bronze={bronze}=lines", "reconcile(gold=oracle)", "silver_orders unique"]


def update_terminals(spark: Any, state: Path) -> tuple[dict[str, list[tuple[str, str | None]]], set[str]]:
    """Terminal (state, error class) events per update id, and every update id the log mentions."""
    rows = (
        spark.read.format("delta")
        .load(str(event_log_path(state)))
        .where("event_type IN ('create_update', 'update_progress')")
        .selectExpr(
            "origin.update_id AS update_id",
            "get_json_object(details, '$.update_progress.state') AS state",
            "get_json_object(error, '$.exceptions[0].class_name') AS error_class",
        )
        .collect()
    )
    terminals: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    seen: set[str] = set()
    for row in rows:
        seen.add(row["update_id"])
        if row["state"] in TERMINAL:
            terminals[row["update_id"]].append((row["state"], row["error_class"]))
    return dict(terminals), seen


def full_id(prefix: str, ids: set[str]) -> str:
    matches = [u for u in ids if u.startswith(prefix)]
    assert len(matches) == 1, f"update {prefix}: {len(matches)} ids in the event log"
    return matches[0]


def check_event_log(
    spark: Any,
    state: Path,
    killed_prefix: str | None,
    recovered_prefix: str,
    killed_must_be: str | None,
) -> tuple[list[str], str, str]:
    """Each update has exactly one terminal state; the killed one FAILED (or COMPLETED if it was)."""
    terminals, seen = update_terminals(spark, state)
    several = {u: t for u, t in terminals.items() if len(t) != 1}
    assert several == {}, f"updates with more than one terminal state: {several}"
    open_updates = sorted(seen - set(terminals))
    assert open_updates == [], f"updates never closed: {open_updates}"
    recovered = full_id(recovered_prefix, seen)
    assert terminals[recovered] == [("COMPLETED", None)], terminals[recovered]
    checks = [f"{len(terminals)} updates: 1 terminal state each", f"recovering {recovered[:8]} COMPLETED"]
    killed_text = ""
    if killed_prefix is not None:
        killed = full_id(killed_prefix, seen)
        (state_, error_class) = terminals[killed][0]
        killed_text = f"{killed[:8]} {state_}" + (f" ({error_class})" if error_class else "")
        if killed_must_be == "FAILED":
            assert (state_, error_class) == ("FAILED", CRASHED_CLASS), killed_text
        elif killed_must_be == "COMPLETED":
            assert state_ == "COMPLETED", killed_text
        elif state_ == "FAILED":  # a time offset: either, but a FAILED one must say why
            assert error_class in (CRASHED_CLASS, "NewColumnsDetectedError"), killed_text
        checks.append(f"killed {killed_text}")
    return checks, killed_text, recovered[:8]


def _flow_rows_out(spark: Any, state: Path) -> dict[tuple[str, str], int]:
    rows = (
        spark.read.format("delta")
        .load(str(event_log_path(state)))
        .where("event_type = 'flow_progress'")
        .selectExpr(
            "origin.update_id AS update_id",
            "origin.flow_name AS flow_name",
            "get_json_object(details, '$.flow_progress.status') AS status",
            "get_json_object(details, '$.flow_progress.metrics.num_output_rows') AS rows_out",
        )
        .where("status = 'COMPLETED' AND rows_out IS NOT NULL")
        .collect()
    )
    out: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        out[(row["update_id"], row["flow_name"])] += int(row["rows_out"])
    return dict(out)


def check_postgres(spark: Any, state: Path, connection: Any, schema: str) -> list[str]:
    """Every finished update exactly once, with its state; flow rows_out equal to the event log's."""
    terminals, _ = update_terminals(spark, state)
    with connection.cursor() as cur:
        cur.execute(f"SELECT update_id, state FROM {schema}.pipeline_updates")
        updates = cur.fetchall()
        cur.execute(
            f"SELECT update_id, flow_name, rows_out FROM {schema}.flow_metrics "
            "WHERE status = 'COMPLETED' AND rows_out IS NOT NULL"
        )
        flows = {(u, f): int(r) for u, f, r in cur.fetchall()}
        cur.execute(f"SELECT count(*) FROM {schema}.dead_letters")
        dead = cur.fetchone()[0]
    ids = [u for u, _ in updates]
    assert len(ids) == len(set(ids)), "an update exported twice"
    expected = {u: t[0][0] for u, t in terminals.items()}
    assert dict(updates) == expected, {
        "missing": sorted(set(expected) - set(ids)),
        "extra": sorted(set(ids) - set(expected)),
        "state differs": sorted(u for u in set(ids) & set(expected) if dict(updates)[u] != expected[u]),
    }
    log_flows = _flow_rows_out(spark, state)
    differ = {k: (v, log_flows.get(k)) for k, v in flows.items() if log_flows.get(k) != v}
    assert differ == {}, f"flow_metrics.rows_out differs from the event log: {differ}"
    missing = sorted(k for k in log_flows if k not in flows)
    assert missing == [], f"flows in the event log not in flow_metrics: {missing[:10]}"
    assert dead == 0, f"{dead} dead letters"
    return [f"pg: {len(ids)} updates once each", f"pg: {len(flows)} flow rows = event log"]


def dump(outcome: Any) -> str:
    """The end of a process's output, for an assertion message."""
    return json.dumps(
        {"rc": outcome.returncode, "stdout": outcome.stdout[-2000:], "stderr": outcome.stderr[-4000:]}
    )
