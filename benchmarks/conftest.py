"""Benchmark suite set-up: ``--bench-size``, collection of ``bench_*.py``, one Spark session, results.

    nox -s bench                              # quick (default): a few minutes on 2 cores
    nox -s bench -- --bench-size=large        # the sizes the targets in README.md are stated for
    nox -s bench -- --bench-size=soak         # only the soak run (100 batches x 10k orders)

pyproject.toml's ``testpaths`` is ``tests`` and ``python_files`` keeps pytest's default
(``test_*.py``), so the default CI run never sees these files; here `pytest_collect_file` makes
``pytest benchmarks`` collect ``bench_*.py`` as test modules.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchlib.report import ResultsBook
from benchlib.sizes import SIZES, Size, resolve

REPO_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HARNESS_IVY_DIR", str(REPO_ROOT / ".harness" / "ivy"))
_BOOK_KEY = pytest.StashKey[ResultsBook]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-size",
        choices=sorted(SIZES),
        default="quick",
        help="benchmark size: quick (default), medium, large, or soak (only the soak run)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # Files named on the command line are collected by pytest's python plugin already.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


#: Run order: the simulator first (its peak RSS is the process's high-water mark), the soak last.
ORDER = ("bench_simulator", "bench_layers", "bench_overhead", "bench_incremental", "bench_soak")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        stem = item.path.stem
        return ORDER.index(stem) if stem in ORDER else len(ORDER)

    items.sort(key=rank)  # stable: tests keep their order inside a module


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_BOOK_KEY] = ResultsBook(config.getoption("--bench-size"))


def pytest_unconfigure(config: pytest.Config) -> None:
    book = config.stash.get(_BOOK_KEY, None)
    if book is not None:
        path = book.write()
        if path is not None:
            print(f"\nbenchmark results: {path} (+ .md, .png)")


@pytest.fixture(scope="session")
def bench_size(request: pytest.FixtureRequest) -> Size:
    return resolve(request.config.getoption("--bench-size"))


@pytest.fixture(scope="session")
def results(request: pytest.FixtureRequest) -> ResultsBook:
    return request.config.stash[_BOOK_KEY]


@pytest.fixture(scope="session")
def bench_dir() -> Iterator[Path]:
    """Scratch space for landing folders and pipeline state (BENCH_DIR chooses the file system)."""
    path = Path(tempfile.mkdtemp(prefix="harness-bench-", dir=os.environ.get("BENCH_DIR")))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def spark(bench_dir: Path) -> Iterator[Any]:
    """One local Spark + Delta session for every pipeline benchmark (as the CLI would create it)."""
    from harness.spark import create_session, stop_session

    session = create_session(bench_dir / "spark", app_name="harness-bench")
    yield session
    stop_session()


@pytest.fixture(scope="session")
def warm_spark(spark: Any, bench_dir: Path) -> Any:
    """The session after one unrecorded 1k-order update of the real pipeline.

    The first update in a fresh JVM pays for class loading and JIT compilation; that is a start-up
    cost, not the pipeline's throughput, so every pipeline benchmark starts after it.
    ``BENCH_WARMUP=0`` skips it (the benchmark's own first update then pays it).
    """
    from benchlib.workload import new_run, run_update

    if os.environ.get("BENCH_WARMUP", "1") == "0":  # e.g. a separate process for one benchmark
        return spark
    run = new_run(spark, bench_dir / "warmup", 1_000, seed=3)
    landed = run.simulator.next_batch()
    run_update(run, landed.new_orders)
    return spark
