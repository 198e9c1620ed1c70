"""`harness watch`: one triggered update per arrival of complete batches, as a file-arrival trigger.

A batch is **complete** when its manifest (``manifests/manifest_bNNNNN.json``, written last and
atomically) exists and every file it lists exists under ``landing/<folder>/`` with the listed size
(docs/data-contract.md). Files alone never trigger an update: a batch whose files are still being
written is invisible until its manifest lands, so an update never sees half a batch.

The watcher polls. Each poll that finds new complete batches runs **one** update covering all of
them — a Databricks file-arrival trigger also coalesces arrivals that happen while an update runs.
Batches already handled are remembered in ``<state>/watch/<pipeline>.json``, so a restarted watcher
does not re-trigger for old batches. Stopping (`WatchLoop.stop`, Ctrl-C in the CLI) takes effect
between updates; a running update is never interrupted half-way.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import WatchError

__all__ = [
    "BatchCheck",
    "WatchLoop",
    "WatchSummary",
    "check_batch",
    "complete_batches",
    "landing_root_for",
    "pending_batches",
    "state_file_for",
]

log = logging.getLogger(__name__)

_MANIFEST_PREFIX = "manifest_b"


@dataclass(frozen=True)
class BatchCheck:
    """Whether one batch is complete, and if not, which listed files are missing or still growing."""

    batch_id: int
    manifest: Path
    missing: tuple[str, ...] = ()
    wrong_size: tuple[str, ...] = ()
    unreadable: str | None = None

    @property
    def complete(self) -> bool:
        return not (self.missing or self.wrong_size or self.unreadable)


def _batch_id(manifest: Path) -> int | None:
    stem = manifest.stem
    digits = stem[len(_MANIFEST_PREFIX) :] if stem.startswith(_MANIFEST_PREFIX) else ""
    return int(digits) if digits.isdigit() else None


def check_batch(landing_root: Path, manifest: Path) -> BatchCheck:
    """Check one manifest against the files under ``landing_root/landing``."""
    batch_id = _batch_id(manifest)
    if batch_id is None:
        raise WatchError(str(manifest), "not a manifest_bNNNNN.json file")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return BatchCheck(batch_id, manifest, unreadable=f"{type(exc).__name__}: {exc}")
    missing, wrong = [], []
    for entry in files:
        path = landing_root / "landing" / str(entry["folder"]) / str(entry["name"])
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            missing.append(str(path))
            continue
        if size != int(entry["size_bytes"]):
            wrong.append(f"{path} ({size} of {entry['size_bytes']} bytes)")
    return BatchCheck(batch_id, manifest, tuple(missing), tuple(wrong))


def complete_batches(landing_root: Path) -> list[BatchCheck]:
    """Every batch with a manifest, in batch order, checked (complete or not)."""
    folder = landing_root / "manifests"
    if not folder.is_dir():
        return []
    manifests = [p for p in folder.glob(f"{_MANIFEST_PREFIX}*.json") if _batch_id(p) is not None]
    return [check_batch(landing_root, m) for m in sorted(manifests, key=lambda p: _batch_id(p) or 0)]


def pending_batches(landing_root: Path, handled: set[int]) -> list[int]:
    """Complete batches not handled yet (an incomplete batch is waited for, not skipped)."""
    return [c.batch_id for c in complete_batches(landing_root) if c.complete and c.batch_id not in handled]


@dataclass
class WatchSummary:
    """What a watch session did: the updates it ran and the batches each covered."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = ""

    @property
    def failed(self) -> int:
        return sum(1 for u in self.updates if u["status"] != "COMPLETED")


class WatchLoop:
    """Poll ``landing_root`` and call ``run_update()`` once per arrival of complete batches.

    ``run_update`` is any callable returning an object with ``status``, ``update_id`` and ``error``
    (``LocalPipeline.run``). ``state_file`` keeps the handled batch ids across restarts.
    """

    def __init__(
        self,
        landing_root: str | os.PathLike[str],
        run_update: Callable[[], Any],
        state_file: str | os.PathLike[str],
        *,
        poll_seconds: float = 5.0,
        max_updates: int | None = None,
        once: bool = False,
        on_event: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if poll_seconds <= 0:
            raise WatchError(str(landing_root), f"--poll-seconds must be positive, got {poll_seconds}")
        if max_updates is not None and max_updates < 1:
            raise WatchError(str(landing_root), f"--max-updates must be at least 1, got {max_updates}")
        self.landing_root = Path(landing_root)
        self.run_update = run_update
        self.state_file = Path(state_file)
        self.poll_seconds = poll_seconds
        self.max_updates = max_updates
        self.once = once
        self.on_event = on_event
        self.clock = clock
        self._stop = threading.Event()

    # --- handled batches -------------------------------------------------------------------------
    def handled(self) -> set[int]:
        try:
            return set(json.loads(self.state_file.read_text(encoding="utf-8"))["handled_batches"])
        except FileNotFoundError:
            return set()
        except (ValueError, KeyError, TypeError) as exc:
            raise WatchError(
                str(self.state_file), f"unreadable watch state ({exc}); delete it to start over"
            ) from exc

    def _remember(self, handled: set[int]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(f".{self.state_file.name}.tmp")
        tmp.write_text(json.dumps({"handled_batches": sorted(handled)}), encoding="utf-8")
        os.replace(tmp, self.state_file)

    # --- control ---------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to stop; a running update finishes first."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> WatchSummary:
        """Watch until stopped, ``max_updates`` updates ran, or (``once``) after one poll."""
        summary = WatchSummary()
        handled = self.handled()
        self.on_event(
            f"watching {self.landing_root} (every {self.poll_seconds:g} s; handled batches: {len(handled)})"
        )
        waiting_for: set[int] = set()
        while not self._stop.is_set():
            checks = complete_batches(self.landing_root)
            new = [c.batch_id for c in checks if c.complete and c.batch_id not in handled]
            for check in checks:
                if not check.complete and check.batch_id not in handled and check.batch_id not in waiting_for:
                    waiting_for.add(check.batch_id)
                    detail = check.unreadable or ", ".join((check.missing + check.wrong_size)[:3])
                    self.on_event(f"batch {check.batch_id} is incomplete, waiting: {detail}")
            if new:
                self.on_event(f"batches {new} complete: starting an update")
                started = self.clock()
                result = self.run_update()
                handled |= set(new)
                self._remember(handled)
                record = {
                    "update_id": getattr(result, "update_id", None),
                    "status": getattr(result, "status", "UNKNOWN"),
                    "batches": new,
                    "seconds": round(self.clock() - started, 1),
                    "error": getattr(result, "error", None),
                }
                summary.updates.append(record)
                self.on_event(
                    f"update {record['update_id']} {record['status']} in {record['seconds']} s (batches {new})"
                    + (f": {record['error']}" if record["error"] else "")
                )
                if self.max_updates is not None and len(summary.updates) >= self.max_updates:
                    summary.stopped_by = "max_updates"
                    return summary
            if self.once:
                summary.stopped_by = "once"
                return summary
            self._stop.wait(self.poll_seconds)
        summary.stopped_by = "stop"
        return summary


def state_file_for(state_root: Path, pipeline_name: str) -> Path:
    """Where the handled batch ids of one pipeline live (next to its other state)."""
    from harness.state import slug

    return state_root / "watch" / f"{slug(pipeline_name)}.json"


def landing_root_for(catalog: str | None, schema: str) -> str:
    """The default landing root: ``/Volumes/<catalog>/<schema>/raw/orders`` (docs/data-contract.md)."""
    return f"/Volumes/{catalog or 'main'}/{schema}/raw/orders"
