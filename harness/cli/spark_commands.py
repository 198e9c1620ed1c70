"""`harness warmup`: start Spark once so the Delta jars are resolved and cached, and say where.

Run it on a connected machine before going offline (or copy its Ivy cache to an air-gapped one):
later sessions resolve the same coordinate from the cache without the network.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    warmup = subparsers.add_parser(
        "warmup",
        parents=[common],
        help="resolve and cache the Delta jars, check Java and a Delta round trip",
        description="Start local Spark + Delta once: checks Java, resolves the Delta jars into the Ivy "
        "cache (or the Maven fallback) and writes and reads a Delta table.",
    )
    warmup.add_argument("--master", help="Spark master or Spark Connect remote (default: local[*])")
    warmup.set_defaults(func=warmup_command)


def warmup_command(args: argparse.Namespace) -> int:
    from harness.spark import create_session
    from harness.spark.jars import delta_coordinate, local_jars
    from harness.spark.java import check_java
    from harness.state import StateLayout

    layout = StateLayout.at(args.state)
    java = check_java()
    print(f"java:    {java.version} ({java.executable})")
    started = time.monotonic()
    spark = create_session(layout, master=args.master)
    print(f"spark:   {spark.version} started in {time.monotonic() - started:.1f}s")
    jars = local_jars(layout)
    if jars:
        print(f"delta:   {len(jars)} jars from {jars[0].parent} (spark.jars)")
    else:
        print(f"delta:   {delta_coordinate()} via Ivy cache {layout.ivy_dir}")
    with tempfile.TemporaryDirectory(dir=layout.tmp_dir) as scratch:
        spark.range(3).write.format("delta").save(f"{scratch}/t")
        rows = spark.read.format("delta").load(f"{scratch}/t").count()
    print(f"check:   Delta write + read of {rows} rows OK")
    return 0
