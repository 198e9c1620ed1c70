"""`Simulator`: generates batch after batch, drops the files atomically, writes each manifest last.

Batch k is a pure function of the seed, the options and the batches before it: every random draw
comes from a generator seeded with (seed, stream, k), never from the clock or `hash()`. Writing
batches K.. of a run regenerates 1..K-1 in memory first (`first_batch`), so one invocation can drop
one batch at a time and still produce the files a single long run would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from harness.errors import SimulatorConfigError, SimulatorOutputError
from simulator.clock import Clock, compact, iso
from simulator.config import (
    DEFECT_KINDS,
    DEFECT_RULES,
    MAX_LINES_PER_BATCH,
    QUARANTINED_KINDS,
    RULES,
    SimulatorConfig,
)
from simulator.customers import CustomerBook, FeedBatch
from simulator.defects import corrupt, cut
from simulator.oracle import Oracle
from simulator.orders import DUP_CONFLICTING, DUP_IDENTICAL, EVENT_KINDS, make_orders
from simulator.pools import build_catalog, build_pools
from simulator.render import Tables, event_lines, order_store
from simulator.writer import WrittenFile, atomic_write, sync_directories, write_array, write_json, write_lines

MANIFEST_VERSION = 1
ORDERS_FOLDER = "landing/orders"
CUSTOMERS_FOLDER = "landing/customers"
MANIFESTS_FOLDER = "manifests"
_STREAM_MAIN, _STREAM_PATCH = 1, 3


def manifest_name(batch_id: int) -> str:
    return f"manifest_b{batch_id:05d}.json"


@dataclass(frozen=True)
class BatchResult:
    """What one batch produced; `manifest` is the dict written to `manifest_path` (if written)."""

    batch_id: int
    written: bool
    files: tuple[WrittenFile, ...]
    manifest: dict[str, Any]
    manifest_path: Path | None
    new_orders: int
    order_lines: int
    customer_lines: int
    seconds: float


class Simulator:
    """Seeded order/customer simulator writing into `<out>/landing/...` and `<out>/manifests/`."""

    def __init__(
        self, config: SimulatorConfig, out_dir: str | Path, *, fsync: bool = True, overwrite: bool = False
    ) -> None:
        self.config = config
        self.out = Path(out_dir)
        self.fsync = fsync
        self.overwrite = overwrite
        self.clock = Clock(config.seed, config.start_epoch, config.interval_seconds)
        self.pools = build_pools(config.seed)
        self.catalog = build_catalog(config.seed, config.products)
        self.tables = Tables.build(self.pools, self.catalog)
        self.customers = CustomerBook(
            config.seed, config.customers, self.pools, self.clock, config.effective_late_change_rate
        )
        self.oracle = Oracle(config.customers, self.catalog.sku)
        self.batch_id = 0  # last batch generated
        self._next_order = 1
        self._store: pl.DataFrame | None = None
        self._store_numbers = np.zeros(0, dtype=np.int64)
        self._left = np.zeros(0, dtype=np.int64)
        self._first_number = 0
        self._row_of = np.zeros(0, dtype=np.int64)
        self._pending: dict[int, list[pl.DataFrame]] = {}
        self._lines = {"orders": 0, "customers": 0}
        self._defects = dict.fromkeys(DEFECT_KINDS, 0)

    # --- public API ---------------------------------------------------------------------------
    def run(
        self, batches: int, first_batch: int = 1, progress: Callable[[BatchResult], None] | None = None
    ) -> Iterator[BatchResult]:
        """Generate batches 1..`batches`; write those >= `first_batch`. Yields each written batch."""
        if batches < 1 or first_batch < 1:
            raise SimulatorConfigError("batches", f"{first_batch}..{batches}", "batch numbers start at 1")
        if first_batch > batches:
            raise SimulatorConfigError(
                "first_batch", str(first_batch), f"is after the last batch ({batches})"
            )
        self.check_output(max(first_batch, self.batch_id + 1), batches)
        while self.batch_id < batches:
            result = self.next_batch(write=self.batch_id + 1 >= first_batch)
            if result.written:
                if progress:
                    progress(result)
                yield result

    def next_batch(self, write: bool = True) -> BatchResult:
        """Generate the next batch; with `write`, drop its files and its manifest (last)."""
        started = time.perf_counter()
        batch_id = self.batch_id + 1
        if write and not self.overwrite:
            self._refuse_existing(batch_id)
        result = self._generate(batch_id, write, started)
        self.batch_id = batch_id
        return result

    def check_output(self, first_batch: int, last_batch: int) -> None:
        """Refuse to overwrite batches, or to continue a run made with other options."""
        if not self.overwrite:
            for batch_id in range(first_batch, last_batch + 1):
                self._refuse_existing(batch_id)
        previous = self.out / MANIFESTS_FOLDER / manifest_name(first_batch - 1)
        if first_batch > 1 and previous.exists():
            earlier = orjson.loads(previous.read_bytes())
            if (
                earlier.get("seed") != self.config.seed
                or earlier.get("options") != self.config.manifest_options()
            ):
                raise SimulatorOutputError(
                    str(previous),
                    "the previous batch was generated with another seed or other options; use the same options "
                    "to continue the run, or a new --out folder",
                )

    def _refuse_existing(self, batch_id: int) -> None:
        path = self.out / MANIFESTS_FOLDER / manifest_name(batch_id)
        if path.exists():
            raise SimulatorOutputError(
                str(path),
                f"batch {batch_id} already exists; continue with --first-batch {batch_id + 1} (and a larger "
                "--batches), pass --overwrite, or use an empty --out folder",
            )

    # --- one batch ----------------------------------------------------------------------------
    def _generate(self, batch_id: int, write: bool, started: float) -> BatchResult:
        cfg = self.config
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _STREAM_MAIN, batch_id]))
        count = self.clock.order_count(batch_id, cfg.orders_per_batch)
        book = self.customers
        book.begin_batch(batch_id, rng, count)
        times = self.clock.sample_times(rng, batch_id, count)
        buyers = book.choose_buyers(rng, batch_id, times)
        first = np.zeros(count, dtype=bool)
        first[np.unique(buyers, return_index=True)[1]] = True
        first &= ~book.has_ordered[buyers]
        book.has_ordered[buyers] = True
        orders = make_orders(
            rng,
            first_number=self._next_order,
            times=times,
            customers=buyers,
            first_order=first,
            addresses=book.address[buyers],
            promo=self.clock.is_promo(times),
            pools=self.pools,
            catalog=self.catalog,
            clock=self.clock,
            rates=cfg.rates,
        )
        self._next_order += count
        self.oracle.book(orders)
        self.oracle.apply(batch_id)
        conflicting = np.zeros(count, dtype=bool)
        conflicting[orders.ev_order[orders.ev_kind == DUP_CONFLICTING]] = True
        self._add_to_store(
            order_store(orders, self.tables, conflicting),
            np.bincount(orders.ev_order, minlength=count),
        )
        events = pl.DataFrame(
            {
                "number": orders.number[orders.ev_order],
                "status": orders.ev_status.astype(np.int64),
                "time": orders.ev_time,
                "kind": orders.ev_kind.astype(np.int64),
                "batch": orders.ev_batch,
            }
        )
        for (due_batch,), part in events.partition_by("batch", as_dict=True).items():
            self._pending.setdefault(int(due_batch), []).append(part.drop("batch"))
        due = pl.concat(self._pending.pop(batch_id, []) or [events.clear().drop("batch")])
        lines = self._arrange(rng, batch_id, due)
        if len(lines) >= MAX_LINES_PER_BATCH:
            raise SimulatorConfigError(
                "orders_per_batch",
                str(cfg.orders_per_batch),
                f"batch {batch_id} would hold {len(lines)} lines",
            )
        feed = book.end_batch(batch_id, rng)
        # Files are hashed and written by two threads while this one prepares the next file and
        # the manifest's expectations; the manifest waits for them and is written last.
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="simulator-writer") as pool:
            pending = self._drop(rng, batch_id, lines, feed, write, pool)
            self._release(lines)
            manifest = self._manifest(batch_id, pending, len(feed), count)
        files = [f.result() for f in pending]
        if files and self.fsync:
            sync_directories(f.path.parent for f in files)  # the renames are durable before the manifest
        manifest_path = None
        if write:
            manifest_path = self.out / MANIFESTS_FOLDER / manifest_name(batch_id)
            write_json(manifest_path, orjson.dumps(manifest, option=orjson.OPT_INDENT_2), fsync=self.fsync)
        return BatchResult(
            batch_id=batch_id,
            written=write,
            files=tuple(files),
            manifest=manifest,
            manifest_path=manifest_path,
            new_orders=count,
            order_lines=manifest["batch"]["order_lines"],
            customer_lines=len(feed),
            seconds=time.perf_counter() - started,
        )

    def _add_to_store(self, store: pl.DataFrame, events_per_order: np.ndarray) -> None:
        self._store = store if self._store is None else pl.concat([self._store, store], rechunk=True)
        self._store_numbers = np.concatenate([self._store_numbers, store["number"].to_numpy()])
        self._left = np.concatenate([self._left, events_per_order.astype(np.int64)])
        self._index_store()

    def _index_store(self) -> None:
        """Order number -> store row, as a dense table over the live number range (a gather, not a
        binary search per event line; the range spans the orders still in flight)."""
        numbers = self._store_numbers
        self._first_number = int(numbers[0]) if len(numbers) else 0
        span = int(numbers[-1]) - self._first_number + 1 if len(numbers) else 0
        self._row_of = np.full(span, -1, dtype=np.int64)
        self._row_of[numbers - self._first_number] = np.arange(len(numbers), dtype=np.int64)

    def _store_rows(self, numbers: np.ndarray) -> np.ndarray:
        return self._row_of[numbers - self._first_number]

    def _release(self, lines: pl.DataFrame) -> None:
        """Forget the stored content of orders with no event left to deliver (amortised compaction)."""
        genuine = lines.filter(pl.col("flag") == 0)["number"].to_numpy()
        rows = self._store_rows(genuine)
        self._left -= np.bincount(rows, minlength=len(self._left))
        live = self._left > 0
        if self._store is not None and live.sum() * 2 < len(live):
            self._store = self._store.filter(pl.Series(live)).rechunk()
            self._store_numbers = self._store_numbers[live]
            self._left = self._left[live]
            self._index_store()

    def _arrange(self, rng: np.random.Generator, batch_id: int, due: pl.DataFrame) -> pl.DataFrame:
        """Genuine events + duplicate lines, sorted by time, with event ids (`eid`) assigned."""
        _, end = self.clock.window(batch_id)
        kind = due["kind"].to_numpy()
        rows = [due.with_columns(flag=pl.lit(0, pl.Int64), sort_time=pl.col("time"))]
        for flag, code in ((1, DUP_IDENTICAL), (2, DUP_CONFLICTING)):
            dups = due.filter(pl.Series(kind == code))
            offset = (rng.random(len(dups)) * (end - dups["time"].to_numpy())).astype(np.int64)
            rows.append(
                dups.with_columns(
                    flag=pl.lit(flag, pl.Int64), sort_time=pl.Series(dups["time"].to_numpy() + offset)
                )
            )
        lines = pl.concat(rows).sort(["sort_time", "number", "status", "flag"])
        flag = lines["flag"].to_numpy()
        eid = np.arange(len(lines), dtype=np.int64)
        key = lines["number"].to_numpy() * 8 + lines["status"].to_numpy()
        genuine = np.flatnonzero(flag == 0)
        order = np.argsort(key[genuine], kind="stable")
        copies = np.flatnonzero(flag == 1)
        eid[copies] = genuine[order][np.searchsorted(key[genuine][order], key[copies])]
        return lines.with_columns(eid=pl.Series(eid))

    def _drop(
        self,
        rng: np.random.Generator,
        batch_id: int,
        lines: pl.DataFrame,
        feed: FeedBatch,
        write: bool,
        pool: Executor,
    ) -> list[Future[WrittenFile]]:
        """Count (and with `write`, submit the writing of) the batch's files, in manifest order;
        file-level defects are drawn here, in this thread, so the draws keep their order."""
        cfg = self.config
        rates = cfg.rates
        _, end = self.clock.window(batch_id)
        stamp = compact(end)
        flag = lines["flag"].to_numpy()
        drawn = lines["kind"].to_numpy()
        # a genuine line whose duplicate is the defect is itself clean; the duplicate line carries the kind
        kind = np.where(
            flag == 0,
            np.where(drawn < DUP_IDENTICAL, drawn, 0),
            np.where(flag == 1, DUP_IDENTICAL, DUP_CONFLICTING),
        )
        batch_defects = dict.fromkeys(DEFECT_KINDS, 0)
        for code, name in enumerate(EVENT_KINDS, start=1):
            batch_defects[name] = int((kind == code).sum())
        parts = math.ceil(len(lines) / cfg.lines_per_file)
        truncate = [
            (rng.random() < rates["truncated_last_line"], int(rng.integers(0, 1 << 30))) for _ in range(parts)
        ]
        empty = bool(rng.random() < rates["empty_file"]) and len(lines) > 0
        patch_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _STREAM_PATCH, batch_id]))
        rendered = (
            event_lines(batch_id, self._with_content(lines), self.tables, cfg.drift(batch_id))
            if write
            else None
        )
        files: list[Future[WrittenFile]] = []
        line_count = len(lines)
        for part in range(parts):
            low, high = part * cfg.lines_per_file, min(len(lines), (part + 1) * cfg.lines_per_file)
            clean = np.flatnonzero(kind[low:high] == 0)
            is_truncated, pick = truncate[part]
            tail_row = low + int(clean[pick % len(clean)]) if is_truncated and len(clean) else None
            if tail_row is not None:
                batch_defects["truncated_last_line"] += 1
                line_count += 1
            if not write or rendered is None:
                continue
            overrides: dict[int, bytes] = {}
            broken = np.flatnonzero((kind[low:high] >= 1) & (kind[low:high] < DUP_IDENTICAL))
            texts = rendered.gather(pl.Series(low + broken, dtype=pl.Int64)).to_list()
            for row, text in zip(broken.tolist(), texts, strict=True):
                defect = EVENT_KINDS[kind[low + row] - 1]
                overrides[row] = corrupt(defect, text.rstrip("\n"), patch_rng) + b"\n"
            tail = cut(rendered[tail_row].encode(), patch_rng) if tail_row is not None else None
            name = f"orders_b{batch_id:05d}_{stamp}_p{part:02d}.json"
            chunk = rendered.slice(low, high - low)
            extra = 1 if tail is not None else 0
            files.append(pool.submit(self._write_orders, name, chunk, overrides, tail, high - low + extra))
        if empty:
            batch_defects["empty_file"] += 1
            if write:
                name = f"orders_b{batch_id:05d}_{stamp}_p{parts:02d}.json"
                files.append(pool.submit(self._write_file, "orders", name, b"", 0))
        if len(feed) and write:
            name = f"customers_b{batch_id:05d}_{stamp}_p00.json"
            rendered_feed = feed.lines()
            if cfg.format == "ndjson":
                content = (rendered_feed.str.join("\n").item() + "\n").encode()
            else:
                content = ("[" + rendered_feed.str.join(",").item() + "]\n").encode()
            files.append(pool.submit(self._write_file, "customers", name, content, len(feed)))
        self._batch_counts = {"order_lines": line_count, "defects": batch_defects}
        return files

    def _with_content(self, lines: pl.DataFrame) -> pl.DataFrame:
        assert self._store is not None
        rows = self._store_rows(lines["number"].to_numpy())
        content = self._store.drop("number")[rows]
        return pl.concat(
            [lines.select("eid", "status", "time", (pl.col("flag") == 2).alias("use_alt")), content],
            how="horizontal",
        )

    def _write_orders(
        self, name: str, chunk: pl.Series, overrides: dict[int, bytes], tail: bytes | None, count: int
    ) -> WrittenFile:
        """One order part file (runs in a writer thread; the folder fsync is left to the batch)."""
        path = self.out / ORDERS_FOLDER / name
        if self.config.format == "ndjson":
            size, digest = atomic_write(
                path, lambda sink: write_lines(sink, chunk, overrides, tail), fsync=self.fsync, sync_dir=False
            )
        else:
            records = [
                (overrides.get(i) or text.encode()).rstrip(b"\n") for i, text in enumerate(chunk.to_list())
            ]
            size, digest = atomic_write(
                path, lambda sink: write_array(sink, records), fsync=self.fsync, sync_dir=False
            )
        return WrittenFile("orders", name, path, size, count, digest)

    def _write_file(self, folder: str, name: str, content: bytes, count: int) -> WrittenFile:
        path = self.out / (ORDERS_FOLDER if folder == "orders" else CUSTOMERS_FOLDER) / name
        size, digest = atomic_write(
            path, lambda sink: sink.write(content) and None, fsync=self.fsync, sync_dir=False
        )
        return WrittenFile(folder, name, path, size, count, digest)

    # --- manifest -----------------------------------------------------------------------------
    def _manifest(
        self, batch_id: int, files: list[Future[WrittenFile]], customer_lines: int, new_orders: int
    ) -> dict[str, Any]:
        """The batch's manifest; the expectations are computed before waiting for the files."""
        counts = self._batch_counts
        self._lines["orders"] += counts["order_lines"]
        self._lines["customers"] += customer_lines
        for name, value in counts["defects"].items():
            self._defects[name] += value
        quarantined = sum(self._defects[k] for k in QUARANTINED_KINDS)
        by_rule = {
            rule: sum(self._defects[k] for k in DEFECT_KINDS if rule in DEFECT_RULES[k]) for rule in RULES
        }
        begin, end = self.clock.window(batch_id)
        expected = {
            "bronze_order_rows": self._lines["orders"],
            "bronze_customer_rows": self._lines["customers"],
            "valid_order_events": self._lines["orders"] - quarantined,
            "quarantined_order_events": quarantined,
            "quarantine_by_rule": by_rule,
        }
        expected |= self.oracle.expected()
        expected["scd2_versions"] = self.customers.scd2_versions()
        expected["current_customers"] = self.customers.current_customers()
        return {
            "manifest_version": MANIFEST_VERSION,
            "batch_id": batch_id,
            "seed": self.config.seed,
            "options": self.config.manifest_options(),
            "window": {"start": iso(begin), "end": iso(end)},
            "files": [f.result().manifest_entry() for f in files],
            "batch": {
                "order_lines": counts["order_lines"],
                "customer_lines": customer_lines,
                "new_orders": new_orders,
                "defects": dict(counts["defects"]),
            },
            "cumulative": {
                "order_lines": self._lines["orders"],
                "customer_lines": self._lines["customers"],
                "defects": dict(self._defects),
                "expected": expected,
            },
        }
