"""Where one update of the reference pipeline spends its time (issue 15, point 1).

    one-jvm --bench python benchmarks/profile_update.py [--orders 300] [--updates 4] [--json OUT]

One Spark session, a fresh state directory. Update 1 runs on a fresh state (the set-up cost);
updates 2..N each get one new simulator batch of ``--orders`` orders on a warm session. Prints each
update's wall time and its profile (harness/runtime/profile.py) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.workload import new_run

from harness.runtime.profile import format_profile
from harness.spark import create_session
from harness.state import StateLayout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quiet", action="store_true", help="print only the summary lines")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark conf (to measure a setting)",
    )
    parser.add_argument("--max-flows", type=int, help="flow concurrency (default: the harness default)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="h15-profile-"))
    started = time.perf_counter()
    extra = dict(item.split("=", 1) for item in args.conf)
    spark = create_session(StateLayout.at(root / "session"), extra_conf=extra)
    session_s = time.perf_counter() - started
    run = new_run(spark, root / "state", args.orders)
    if args.max_flows:
        run.pipeline.runtime.max_concurrent_flows = args.max_flows
    records = []
    for index in range(args.updates):
        run.simulator.next_batch()
        t0 = time.perf_counter()
        result = run.pipeline.run()
        wall = time.perf_counter() - t0
        assert result.succeeded, result.error
        profile = result.profile or {}
        records.append({"update": index + 1, "wall_s": wall, "profile": profile})
        phases = {s["name"]: s["wall_ms"] / 1000 for s in profile.get("scopes", []) if s["kind"] == "phase"}
        print(
            f"update {index + 1}: {wall:.2f} s, {profile.get('jobs')} jobs, {profile.get('stages')} stages; "
            + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()),
            flush=True,
        )
        if not args.quiet:
            print(format_profile(profile), flush=True)
    warm = [r["wall_s"] for r in records[1:]]
    load = os.getloadavg()
    print(
        f"session start {session_s:.1f} s; first update {records[0]['wall_s']:.2f} s; "
        f"warm median {statistics.median(warm) if warm else float('nan'):.2f} s over {len(warm)}; "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; conf {extra or '-'}; max flows "
        f"{run.pipeline.runtime.max_concurrent_flows}"
    )
    if args.json:
        args.json.write_text(json.dumps({"session_s": session_s, "load": load, "updates": records}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
