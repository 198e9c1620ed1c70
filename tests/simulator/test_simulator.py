"""Order simulator: contract conformance, oracle correctness, determinism, atomic drops, CLI.

All tests are `unit` (no JVM) and use small configurations in `tmp_path`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from simulator_reference import classify, evaluate, expected_customers, expected_orders, read_landing

from harness.errors import SimulatorConfigError, SimulatorOutputError
from simulator import DEFECT_KINDS, Simulator, SimulatorConfig
from simulator.writer import atomic_write

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def _run(out: Path, batches: int, **options: Any) -> list[Any]:
    return list(Simulator(SimulatorConfig(**options), out, fsync=False).run(batches))


def _digests(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def _nonzero(mapping: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in mapping.items() if v}


HOSTILE = {
    "orders_per_batch": 300,
    "customers": 400,
    "products": 40,
    "profile": "hostile",
    "lines_per_file": 400,
}


def test_manifest_counts_match_the_files(tmp_path: Path) -> None:
    _run(tmp_path, 4, **HOSTILE)
    landing = read_landing(tmp_path)
    for batch, manifest in landing.manifests.items():
        for entry in manifest["files"]:
            path = tmp_path / "landing" / entry["folder"] / entry["name"]
            data = path.read_bytes()
            assert entry["size_bytes"] == len(data)
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
            assert entry["lines"] == lines, entry["name"]
        assert manifest["batch"]["order_lines"] == sum(line.batch == batch for line in landing.order_lines)
    counts = classify(landing)
    last = landing.manifests[4]["cumulative"]
    assert _nonzero(last["defects"]) == counts
    assert set(last["defects"]) == set(DEFECT_KINDS)
    # hostile rates over ~4k lines: every line-level kind shows up at least once
    for kind in (
        "malformed_json",
        "duplicate_identical",
        "duplicate_conflicting",
        "null_order_id",
        "non_utf8",
    ):
        assert counts.get(kind, 0) > 0, kind
    assert last["order_lines"] == len(landing.order_lines)
    assert last["expected"]["bronze_order_rows"] == len(landing.order_lines)
    assert last["customer_lines"] == len(landing.customer_records)


@pytest.mark.parametrize("upto", [1, 3, 4])
def test_cumulative_oracle_matches_an_independent_recount(tmp_path: Path, upto: int) -> None:
    _run(tmp_path, 4, **HOSTILE)
    landing = read_landing(tmp_path, upto)
    expected = landing.manifests[upto]["cumulative"]["expected"]
    reference = expected_orders(landing)
    for key, value in reference.items():
        actual = expected[key]
        if key == "quarantine_by_rule":
            actual = _nonzero(actual)
        assert actual == value, key
    customers = expected_customers(landing)
    assert expected["scd2_versions"] == customers["scd2_versions"]
    assert expected["current_customers"] == customers["current_customers"]
    assert expected["bronze_customer_rows"] == len(landing.customer_records)


def test_oracle_on_a_tiny_hand_checkable_batch(tmp_path: Path) -> None:
    [result] = _run(tmp_path, 1, orders_per_batch=5, customers=20, products=5, profile="clean")
    lines = [
        json.loads(t)
        for f in sorted((tmp_path / "landing/orders").iterdir())
        for t in f.read_text().splitlines()
    ]
    expected = result.manifest["cumulative"]["expected"]
    latest: dict[str, dict[str, Any]] = {}
    for event in lines:  # clean data, one batch: events of an order arrive in time order
        if event["order_id"] not in latest or event["event_time"] >= latest[event["order_id"]]["event_time"]:
            latest[event["order_id"]] = event
    assert expected["orders"] == len(latest) == result.new_orders
    total = sum(
        round(i["quantity"] * i["unit_price"] * 100) - round(i["discount"] * 100)
        for e in latest.values()
        for i in e["items"]
    )
    assert sum(round(float(d["revenue"]) * 100) for d in expected["daily"]) == total
    assert sum(d["units"] for d in expected["daily"]) == sum(
        i["quantity"] for e in latest.values() for i in e["items"]
    )
    assert {s["status"]: s["orders"] for s in expected["by_status"]} == {
        s: sum(e["status"] == s for e in latest.values()) for s in {e["status"] for e in latest.values()}
    }
    assert expected["customers_with_orders"] == len({e["customer_id"] for e in latest.values()})
    assert expected["quarantined_order_events"] == 0
    assert expected["valid_order_events"] == len(lines)
    assert all(
        isinstance(d["revenue"], str) and len(d["revenue"].split(".")[1]) == 2 for d in expected["daily"]
    )


def test_same_seed_same_bytes_across_processes(tmp_path: Path) -> None:
    args = ["--batches", "3", "--orders-per-batch", "200", "--customers", "300", "--profile", "hostile"]
    args += ["--schema-drift-at", "2", "--no-fsync", "--quiet"]
    env = os.environ | {"PYTHONHASHSEED": "random"}
    for name in ("a", "b"):
        subprocess.run(
            [sys.executable, "-m", "simulator", "--out", str(tmp_path / name), *args], check=True, env=env
        )
    first, second = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert first == second and len(first) >= 9
    _run(
        tmp_path / "c", 3, orders_per_batch=200, customers=300, profile="hostile", seed=43, schema_drift_at=2
    )
    assert _digests(tmp_path / "c") != first


def test_first_batch_regenerates_the_same_files(tmp_path: Path) -> None:
    options = {"orders_per_batch": 150, "customers": 200, "profile": "realistic"}
    _run(tmp_path / "full", 3, **options)
    stepwise = tmp_path / "step"
    for batch in (1, 2, 3):
        list(Simulator(SimulatorConfig(**options), stepwise, fsync=False).run(batch, first_batch=batch))
    assert _digests(stepwise) == _digests(tmp_path / "full")
    with pytest.raises(SimulatorOutputError) as error:
        list(Simulator(SimulatorConfig(**options), stepwise).run(3, first_batch=3))
    assert error.value.path.endswith("manifest_b00003.json")
    with pytest.raises(SimulatorOutputError):  # continuing with other options is refused
        list(Simulator(SimulatorConfig(**(options | {"seed": 7})), stepwise).run(4, first_batch=4))


def test_schema_drift_from_batch_k(tmp_path: Path) -> None:
    _run(tmp_path, 3, orders_per_batch=100, customers=100, profile="clean", schema_drift_at=2)
    landing = read_landing(tmp_path)
    for line in landing.order_lines:
        record = json.loads(line.raw)
        if line.batch < 2:
            assert isinstance(record["shipping_cost"], float) and "gift_wrap" not in record
        else:
            assert set(record["shipping_cost"]) == {"amount", "currency"} and isinstance(
                record["gift_wrap"], bool
            )
    assert any(line.batch >= 2 for line in landing.order_lines)


def test_customer_feed_invariants(tmp_path: Path) -> None:
    _run(tmp_path, 8, orders_per_batch=400, customers=600, profile="realistic", late_change_rate=0.3)
    landing = read_landing(tmp_path)
    first_upsert: dict[str, int] = {}
    deleted_at: dict[str, str] = {}
    highest: dict[str, int] = {}
    out_of_order = 0
    for batch, record in landing.customer_records:
        customer = record["customer_id"]
        if record["operation"] == "UPSERT":
            first_upsert.setdefault(customer, batch)
        else:
            deleted_at[customer] = record["change_time"]
        out_of_order += record["sequence_num"] < highest.get(customer, 0)
        highest[customer] = max(highest.get(customer, 0), record["sequence_num"])
    assert out_of_order > 0 and deleted_at
    for line in landing.order_lines:
        evaluate(line)
        record = line.record
        customer = record.get("customer_id") if record and not line.failed else None
        if not customer:
            continue
        assert first_upsert[customer] <= line.batch, customer
        if customer in deleted_at:
            assert record["order_time"] < deleted_at[customer], customer


def test_realistic_profile_delivers_some_changes_out_of_order(tmp_path: Path) -> None:
    _run(tmp_path, 6, orders_per_batch=500, customers=2000, profile="realistic")
    seen: dict[str, int] = {}
    late = 0
    for _batch, record in read_landing(tmp_path).customer_records:
        late += record["sequence_num"] < seen.get(record["customer_id"], 0)
        seen[record["customer_id"]] = max(seen.get(record["customer_id"], 0), record["sequence_num"])
    assert late > 0


def test_atomic_write_never_shows_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "orders_b00001_20260102T000000Z_p00.json"
    observed: list[list[str]] = []

    def fill(sink: Any) -> None:
        sink.write(b'{"a":1}\n')
        observed.append(sorted(p.name for p in tmp_path.iterdir()))
        sink.write(b'{"a":2}\n')

    size, digest = atomic_write(target, fill)
    assert observed == [[f".{target.name}.tmp"]]  # only the dot-file exists while writing
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]
    assert size == target.stat().st_size == 16 and digest == hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "broken.json", lambda sink: (_ for _ in ()).throw(RuntimeError("disk")))
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no leftovers


def test_files_seen_during_a_run_always_have_their_final_size(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "simulator", "--out", str(out), "--batches", "4", "--quiet"]
    process = subprocess.Popen([*command, "--orders-per-batch", "20000", "--customers", "5000"])
    seen: dict[str, set[int]] = {}
    while process.poll() is None:
        for path in out.rglob("*.json") if out.exists() else []:
            if not path.name.startswith("."):
                with contextlib.suppress(FileNotFoundError):
                    seen.setdefault(str(path), set()).add(path.stat().st_size)
    assert process.returncode == 0
    final = {str(p): p.stat().st_size for p in out.rglob("*.json")}
    assert seen and all(sizes == {final[name]} for name, sizes in seen.items())
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_cli_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "landing-root"
    command = [
        sys.executable,
        "-m",
        "simulator",
        "--out",
        str(out),
        "--batches",
        "2",
        "--orders-per-batch",
        "50",
    ]
    command += [
        "--customers",
        "100",
        "--defect-rate",
        "malformed_json=0.05",
        "--format",
        "ndjson",
        "--no-fsync",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "batch 2/2" in done.stderr and "manifest_b00002.json" in done.stdout
    manifest = json.loads((out / "manifests" / "manifest_b00002.json").read_text())
    assert manifest["options"]["defect_rates"]["malformed_json"] == 0.05
    assert sorted(p.name for p in (out / "landing" / "orders").iterdir())[0].startswith(
        "orders_b00001_20260102T"
    )
    bad = subprocess.run(
        [*command[:3], "--out", str(tmp_path / "x"), "--interval", "soon"], capture_output=True, text=True
    )
    assert bad.returncode == 1 and bad.stderr.startswith("Error: Invalid simulator option interval='soon'")


def test_json_array_format_and_option_validation(tmp_path: Path) -> None:
    _run(tmp_path, 2, orders_per_batch=60, customers=50, format="json-array", profile="hostile")
    landing = read_landing(tmp_path)
    manifest = landing.manifests[2]
    assert manifest["cumulative"]["defects"]["malformed_json"] == 0
    assert manifest["cumulative"]["order_lines"] == len(landing.order_lines)
    with pytest.raises(SimulatorConfigError) as error:
        SimulatorConfig(format="json-array", defect_rates={"truncated_last_line": 0.1})
    assert error.value.option == "defect_rate"
    with pytest.raises(SimulatorConfigError) as error:
        SimulatorConfig(defect_rates={"teleport": 0.1})
    assert error.value.value == "teleport"
    with pytest.raises(SimulatorConfigError):
        SimulatorConfig(interval="0d")
