"""Issue 10 point 2: a corpus of bad input through the real pipeline; every record accounted for.

Two updates of the unchanged pipeline on one state directory (each update costs seconds of fixed
time, so every kind shares them):

1. a simulator batch with every defect kind it injects (line defects, duplicates, a truncated last
   line in every part file, a zero-byte part) -> reconciled exactly with the manifest (bronze rows
   = lines produced, quarantine per rule = injected defects, gold = oracle);
2. after one ingested part file is rewritten under the same name and another is deleted, the
   hand-made kinds of `bad_input_corpus` are dropped: each file's rows are found in bronze, silver
   or the quarantine with the expected ``failed_rules``; the bronze flow's corrupt / rescued / files
   counters equal the corpus's sums; the rewritten file is not read again (a WARN event names it)
   and the deleted file's rows stay. docs/bad-input.md is the same table for readers.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
from bad_input_corpus import UNPARSEABLE, Kind, corpus, event, line, write_corpus
from pipeline_paths import BUNDLE_TARGET, REPO_ROOT

from harness.pipeline import LocalPipeline
from harness.reconcile import reconcile
from simulator import Simulator, SimulatorConfig
from simulator.config import DEFECT_KINDS

pytestmark = pytest.mark.spark

LANDING = "/Volumes/retail_dev/ecommerce/raw/orders"
#: the simulator's line kinds, forced so that each appears in a ~300-line batch
LINE_DEFECT_RATE = 0.03


def _file_of(source: str) -> str:
    return source.rsplit("/", 1)[-1]


class CorpusRun:
    """The pipeline after both updates, with what the test needs to look things up."""

    def __init__(self, pipeline: LocalPipeline, manifest: dict[str, Any], first: Any, second: Any) -> None:
        self.pipeline = pipeline
        self.manifest = manifest
        self.first = first
        self.second = second
        self.kinds = corpus()
        self.rewritten = ""
        self.deleted = ""
        self.rows_before: dict[str, int] = {}
        self.first_mismatches: list[str] = []

    def per_file(self, table: str) -> Counter[str]:
        rows = self.pipeline.table(table).groupBy("_source_file").count().collect()
        return Counter({_file_of(r["_source_file"]): int(r["count"]) for r in rows})


@pytest.fixture(scope="module")
def corpus_run(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> CorpusRun:
    base = tmp_path_factory.mktemp("bad-input")
    pipeline = LocalPipeline.from_bundle(REPO_ROOT, BUNDLE_TARGET, state=base / "state", spark=spark)
    landing = pipeline.volume_path(LANDING)
    rates = {kind: LINE_DEFECT_RATE for kind in DEFECT_KINDS}
    rates.update({"truncated_last_line": 1.0, "empty_file": 1.0})
    config = SimulatorConfig(
        seed=5, orders_per_batch=100, customers=300, profile="clean", defect_rates=rates, lines_per_file=120
    )
    manifest = Simulator(config, landing).next_batch().manifest
    first = pipeline.run()
    assert first.status == "COMPLETED", first.error

    run = CorpusRun(pipeline, manifest, first, None)
    run.first_mismatches = [str(m) for m in reconcile(pipeline.table, manifest)]
    orders = landing / "landing" / "orders"
    parts = sorted(p for p in orders.iterdir() if p.stat().st_size > 0)
    assert len(parts) >= 2, [p.name for p in parts]
    run.rows_before = dict(run.per_file("bronze_orders"))
    # re-dropped under the same name with new content (and a newer modification time)
    rewritten = parts[0]
    rewritten.write_bytes(line(event("rewritten_file")) + b"\n")
    stamp = rewritten.stat().st_mtime + 60
    os.utime(rewritten, (stamp, stamp))
    run.rewritten = rewritten.name
    # deleted after ingestion
    parts[1].unlink()
    run.deleted = parts[1].name
    write_corpus(orders, run.kinds)

    run.second = pipeline.run()
    assert run.second.status == "COMPLETED", run.second.error
    return run


def test_simulator_defects_reconcile_with_the_manifest(corpus_run: CorpusRun) -> None:
    """Every kind the simulator injects was produced, and the first update matches the oracle exactly
    (bronze rows = lines, quarantine per rule = injected defects, silver and gold = the oracle)."""
    defects = corpus_run.manifest["batch"]["defects"]
    missing = sorted(kind for kind in DEFECT_KINDS if not defects.get(kind))
    assert missing == [], f"the batch has no line of these kinds: {missing}"
    assert corpus_run.first_mismatches == []
    expected = corpus_run.manifest["cumulative"]["expected"]
    flows = corpus_run.first.flows
    assert flows["bronze_orders"].num_output_rows == expected["bronze_order_rows"]
    assert flows["silver_order_events"].num_output_rows == expected["valid_order_events"]
    assert flows["silver_orders_quarantine"].num_output_rows == expected["quarantined_order_events"]
    corrupt = defects["malformed_json"] + defects["truncated_last_line"]
    assert flows["bronze_orders"].num_corrupt_records == corrupt
    dq = {e["name"]: e["failed_records"] for e in flows["silver_order_events"].expectations}
    assert {k: v for k, v in dq.items() if v} == {
        k: v for k, v in expected["quarantine_by_rule"].items() if v
    }


def test_every_hand_made_record_lands_where_databricks_puts_it(corpus_run: CorpusRun) -> None:
    bronze = corpus_run.per_file("bronze_orders")
    silver = corpus_run.pipeline.table("silver_order_events")
    silver_ids = {
        r["event_id"]: (_file_of(r["_source_file"]), r["city"])
        for r in silver.where("event_id LIKE 'EBAD-%'")
        .selectExpr("event_id", "_source_file", "shipping_address.city AS city")
        .collect()
    }
    quarantine = Counter(
        (_file_of(r["_source_file"]), tuple(r["failed_rules"]))
        for r in corpus_run.pipeline.table("silver_orders_quarantine")
        .select("_source_file", "failed_rules")
        .collect()
    )
    problems = []
    for kind in corpus_run.kinds:
        if bronze.get(kind.file, 0) != kind.bronze_rows:
            problems.append(f"{kind.name}: bronze rows {bronze.get(kind.file, 0)} != {kind.bronze_rows}")
        got = sorted(i for i, (f, _) in silver_ids.items() if f == kind.file)
        if got != sorted(kind.silver):
            problems.append(f"{kind.name}: silver events {got} != {sorted(kind.silver)}")
        got_q = {rules: n for (f, rules), n in quarantine.items() if f == kind.file}
        if got_q != dict(kind.quarantine):
            problems.append(f"{kind.name}: quarantine {got_q} != {dict(kind.quarantine)}")
        for event_id, city in kind.silver_values.items():
            if event_id in silver_ids and silver_ids[event_id][1] != city:
                problems.append(f"{kind.name}: city {silver_ids[event_id][1]!r} != {city!r}")
        # nothing lost: every bronze row is either valid or quarantined
        if bronze.get(kind.file, 0) != len(kind.silver) + sum(kind.quarantine.values()):
            problems.append(f"{kind.name}: bronze rows not all accounted for")
    assert problems == []


def test_bronze_flow_counts_corrupt_rescued_and_files(corpus_run: CorpusRun) -> None:
    kinds: list[Kind] = corpus_run.kinds
    bronze = corpus_run.second.flows["bronze_orders"]
    assert bronze.num_output_rows == sum(k.bronze_rows for k in kinds)
    assert bronze.num_corrupt_records == sum(k.corrupt for k in kinds)
    assert bronze.num_rescued_records == sum(k.rescued for k in kinds)
    assert bronze.num_files == len(kinds)  # the rewritten file is not read again
    quarantined = sum(sum(k.quarantine.values()) for k in kinds)
    assert corpus_run.second.flows["silver_orders_quarantine"].num_output_rows == quarantined
    dq = {e["name"]: e["failed_records"] for e in corpus_run.second.flows["silver_order_events"].expectations}
    expected: Counter[str] = Counter()
    for kind in kinds:
        for rules, n in kind.quarantine.items():
            for rule in rules:
                expected[rule] += n
    assert {k: v for k, v in dq.items() if v} == dict(expected)
    assert expected["record_parseable"] == sum(k.corrupt for k in kinds)
    assert set(UNPARSEABLE) <= set(expected)


def test_rescued_values_are_kept_in_bronze_and_silver(corpus_run: CorpusRun) -> None:
    silver = corpus_run.pipeline.table("silver_order_events")
    row = silver.where("event_id = 'EBAD-string_in_number_column-0'").first()
    assert row["shipping_cost"] is None
    assert json.loads(row["_rescued_data"])["shipping_cost"] == "4.99"
    quarantined = corpus_run.pipeline.table("silver_orders_quarantine").where(
        "_source_file LIKE '%bad_wrong_case_key.json'"
    )
    raw = json.loads(quarantined.first()["raw_record"])
    assert json.loads(raw["_rescued_data"])["Order_Id"] == "ORD-BAD-wrong_case_key-0"


def test_rewritten_file_is_not_reprocessed_and_deleted_file_keeps_its_rows(corpus_run: CorpusRun) -> None:
    bronze = corpus_run.per_file("bronze_orders")
    assert bronze[corpus_run.rewritten] == corpus_run.rows_before[corpus_run.rewritten]
    assert bronze[corpus_run.deleted] == corpus_run.rows_before[corpus_run.deleted]
    silver = corpus_run.pipeline.table("silver_order_events")
    assert silver.where("event_id = 'EBAD-rewritten_file-0'").count() == 0
    warnings = (
        corpus_run.pipeline.event_log()
        .where("level = 'WARN'")
        .where(f"origin.update_id = '{corpus_run.second.update_id}'")
        .select("message")
        .collect()
    )
    rewrite_warnings = [w["message"] for w in warnings if corpus_run.rewritten in w["message"]]
    assert len(rewrite_warnings) == 1, [w["message"] for w in warnings]
    assert "allowOverwrites=false" in rewrite_warnings[0]
    assert not any(corpus_run.deleted in w["message"] for w in warnings)
