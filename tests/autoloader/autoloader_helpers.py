"""Test rig for Auto Loader tests: an input directory, a schema location, a checkpoint and a Delta
target, and `update()` which runs one availableNow query the way a pipeline update does."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.autoloader import batch_metrics, cloud_files_stream, translate_stream_failure


@dataclass
class UpdateResult:
    """What one update did: per-batch progress, this source's metrics, and the translated failure."""

    batches: list[dict[str, Any]]
    metrics: list[dict[str, int]]
    error: BaseException | None
    warnings: list[str]

    @property
    def records(self) -> int:
        return sum(m["num_records"] for m in self.metrics)


@dataclass
class Rig:
    spark: Any
    root: Path
    source_name: str = "bronze_src"
    clock: int = 1_700_000_000_000  # deterministic file modification times (ms)
    warnings: list[str] = field(default_factory=list)

    @property
    def input(self) -> Path:
        return self.root / "landing"

    @property
    def schema_location(self) -> Path:
        return self.root / "schemas"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoint"

    @property
    def target(self) -> Path:
        return self.root / "target"

    def write(self, name: str, content: str | bytes | list[dict[str, Any]]) -> Path:
        """Drop a file atomically (hidden temp name, then rename) with a strictly increasing mtime."""
        if isinstance(content, list):
            content = "".join(json.dumps(r) + "\n" for r in content)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = self.input / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.tmp"
        tmp.write_bytes(data)
        self.clock += 1000
        os.utime(tmp, ns=(self.clock * 1_000_000, self.clock * 1_000_000))
        os.replace(tmp, path)
        return path

    def stream(self, options: Mapping[str, str], schema: Any = None):
        opts = {"cloudFiles.format": "json", **options}
        return cloud_files_stream(
            self.spark,
            str(self.input),
            opts,
            schema,
            default_schema_location=str(self.schema_location),
            source_name=self.source_name,
            checkpoint_dir=str(self.checkpoint),
            warn=self.warnings.append,
        )

    def update(
        self, options: Mapping[str, str], schema: Any = None, transform: Any = None, sink: str = "delta"
    ) -> UpdateResult:
        """One update: build the source, run it availableNow into the Delta target (schema merge on)."""
        start = len(self.warnings)
        df = self.stream(options, schema)
        if transform is not None:
            df = transform(df)
        writer = df.writeStream.option("checkpointLocation", str(self.checkpoint)).trigger(availableNow=True)
        if sink == "delta":
            query = writer.format("delta").option("mergeSchema", "true").start(str(self.target))
        else:
            query = writer.foreachBatch(sink).start()  # type: ignore[arg-type]
        error: BaseException | None = None
        try:
            query.awaitTermination()
        except Exception as exc:  # the stream failure the runner would translate
            error = translate_stream_failure(exc, self.spark) or exc
        batches = [p for p in query.recentProgress if p["numInputRows"] or p.get("observedMetrics")]
        metrics = [m for m in (batch_metrics(p, self.source_name) for p in query.recentProgress) if m]
        return UpdateResult(batches, metrics, error, self.warnings[start:])

    def rows(self, order_by: str = "id") -> list[dict[str, Any]]:
        if not (self.target / "_delta_log").exists():
            return []
        df = self.spark.read.format("delta").load(str(self.target))
        return [r.asDict(recursive=True) for r in df.orderBy(order_by).collect()]


def rescued(row: Mapping[str, Any], column: str = "_rescued_data") -> dict[str, Any] | None:
    """The rescued data column of a row, parsed."""
    value = row.get(column)
    return None if value is None else json.loads(value)
