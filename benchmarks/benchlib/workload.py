"""The measured workload: simulator batches landed where the dev settings read them, and the real
pipeline (``pipeline/``, as ``databricks.yml`` deploys it to dev) run by `LocalPipeline.from_bundle`.

Per-flow wall-clock spans come from an event-log listener (the RUNNING and the terminal
``flow_progress`` event of each flow): flows of one layer run concurrently, so a layer's time is the
span from its first flow starting to its last flow finishing, not the sum of its flow durations.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib.memory import tree_cpu_seconds
from harness.pipeline import LocalPipeline
from simulator import Simulator, SimulatorConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE_ROOT = REPO_ROOT / "pipeline"
BUNDLE_TARGET = "dev"  # the pipeline as databricks.yml deploys it to dev
#: the dev settings' landing folders live under this volume (``ecommerce.landing_*``)
LANDING_VOLUME = "/Volumes/retail_dev/ecommerce/raw/orders"
LAYERS = ("bronze", "silver", "gold")
#: the reference pipeline's streaming flows: the ones that must not reprocess earlier batches
STREAMING = (
    "bronze_orders",
    "bronze_customers",
    "silver_order_events",
    "silver_orders_quarantine",
    "silver_customers",
)
TERMINAL = {"COMPLETED", "FAILED", "SKIPPED", "STOPPED", "EXCLUDED", "IDLE"}


def layer_of(dataset: str) -> str:
    """bronze_* / silver_* / gold_*; the customer_changes view feeds silver_customers: silver."""
    prefix = dataset.split("_", 1)[0]
    return prefix if prefix in LAYERS else "silver"


class FlowClock:
    """Event-log listener recording when each flow started and finished (perf_counter seconds)."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.finished: dict[str, float] = {}
        self.dataset: dict[str, str] = {}
        #: update_progress state -> when it was first seen in this update
        self.states: dict[str, float] = {}

    def reset(self) -> None:
        self.started.clear()
        self.finished.clear()
        self.states.clear()

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event_type") == "update_progress":
            state = json.loads(event["details"]).get("update_progress", {}).get("state")
            if state:
                self.states.setdefault(state, time.perf_counter())
            return
        if event.get("event_type") != "flow_progress":
            return
        origin = event.get("origin") or {}
        flow = origin.get("flow_name")
        if not flow:
            return
        status = json.loads(event["details"]).get("flow_progress", {}).get("status")
        now = time.perf_counter()
        self.dataset[flow] = origin.get("dataset_name") or flow
        if status == "RUNNING":
            self.started.setdefault(flow, now)
        elif status in TERMINAL:
            self.finished[flow] = now

    def layer_spans(self) -> dict[str, float]:
        """Seconds from the first flow of a layer starting to its last flow finishing."""
        starts: dict[str, list[float]] = defaultdict(list)
        ends: dict[str, list[float]] = defaultdict(list)
        for flow, end in self.finished.items():
            if flow not in self.started:
                continue  # a view's counts are reported once all flows are done: not a flow's own time
            layer = layer_of(self.dataset.get(flow, flow))
            ends[layer].append(end)
            starts[layer].append(self.started[flow])
        return {layer: max(ends[layer]) - min(starts[layer]) for layer in LAYERS if ends[layer]}

    def phases(self, started: float, returned: float) -> dict[str, float]:
        """Where an update's wall time goes: before the flows, the flows, after them.

        ``load_and_graph``: INITIALIZING -> SETTING_UP_TABLES (configuration applied, sources loaded);
        ``table_setup``: SETTING_UP_TABLES -> RUNNING, i.e. graph analysis (every dataset function
        evaluated for its schema; on a fresh state Auto Loader infers the landing schema here) and
        creating / registering the tables; ``flows``: first flow start -> last flow end; ``finish``: last flow
        end -> run() returned (final event-log flush, schema-change check).
        """
        s = self.states
        first = min(self.started.values(), default=returned)
        last = max((t for f, t in self.finished.items() if f in self.started), default=returned)
        init = s.get("INITIALIZING", started)
        tables = s.get("SETTING_UP_TABLES", init)
        running = s.get("RUNNING", tables)
        return {
            "before_initializing": init - started,
            "load_and_graph": tables - init,
            "table_setup": running - tables,
            "running_to_first_flow": first - running,
            "flows": last - first,
            "finish": returned - last,
        }


@dataclass
class Run:
    """One pipeline bound to its own state directory and landing folder, with its flow clock."""

    pipeline: LocalPipeline
    simulator: Simulator
    clock: FlowClock
    updates: list[dict[str, Any]] = field(default_factory=list)


def simulator_config(orders_per_batch: int, seed: int = 7) -> SimulatorConfig:
    """Realistic daily batches; customers scale with orders (about 5 orders per customer per batch)."""
    return SimulatorConfig(
        seed=seed,
        orders_per_batch=orders_per_batch,
        customers=max(1_000, orders_per_batch // 5),
        interval="1d",
        profile="realistic",
    )


def new_run(spark: Any, state: Path, orders_per_batch: int, seed: int = 7) -> Run:
    clock = FlowClock()
    pipeline = LocalPipeline.from_bundle(
        REPO_ROOT, BUNDLE_TARGET, state=state, spark=spark, listeners=[clock]
    )
    landing = pipeline.volume_path(LANDING_VOLUME)
    simulator = Simulator(simulator_config(orders_per_batch, seed), landing, fsync=False)
    return Run(pipeline, simulator, clock)


def run_update(run: Run, orders: int) -> dict[str, Any]:
    """One triggered update; returns wall time, per-layer spans and per-flow durations and rows."""
    run.clock.reset()
    cpu = tree_cpu_seconds()
    started = time.perf_counter()
    result = run.pipeline.run()
    returned = time.perf_counter()
    wall = returned - started
    cpu = tree_cpu_seconds() - cpu
    if not result.succeeded:
        raise RuntimeError(f"pipeline update {result.update_id} {result.status}: {result.error}")
    flows = {
        name: {
            "target": f.target,
            "layer": layer_of(f.target),
            "rows": f.num_output_rows,
            "upserted": f.num_upserted_rows,
            "seconds": round(f.duration_s, 3),
        }
        for name, f in result.flows.items()
    }
    record = {
        "orders": orders,
        "seconds": wall,
        "cpu_seconds": cpu,
        "runner_seconds": result.duration_s,
        "layer_seconds": run.clock.layer_spans(),
        "phase_seconds": run.clock.phases(started, returned),
        "flow_seconds_sum": {
            layer: sum(f["seconds"] for f in flows.values() if f["layer"] == layer) for layer in LAYERS
        },
        "flows": flows,
    }
    run.updates.append(record)
    return record
