"""Find and load a pipeline's source files the way Databricks does.

The settings' ``libraries`` decide what runs: ``file`` and ``notebook`` paths (a notebook is a
``.py`` or ``.sql`` file in source format locally) and ``glob`` includes (``folder/**``), in order,
each file once; ``.sql`` files are loaded by `harness.sql` into the same registry. Relative paths resolve against the pipeline root; workspace paths (``/Workspace/...``) are
mapped onto it by the root folder's name. Each file is executed as a module with ``spark`` in its
globals (as Databricks provides it) and the pipeline root on ``sys.path``, so sibling imports such
as ``from utils.data_quality import RULES`` work as they do on Databricks.
"""

from __future__ import annotations

import builtins
import importlib.util
import itertools
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from harness.errors import HarnessError, PipelineSourceError
from harness.graph.names import PipelineNames
from harness.settings.model import Library
from harness.shim.injection import dlt_visible
from harness.shim.registry import PipelineRegistry

_module_ids = itertools.count()
_ABSENT = object()
#: Source files a pipeline runs: Python modules and SQL files (harness.sql), mixed freely.
SOURCE_SUFFIXES = (".py", ".sql")


def _resolve(path: str, root: Path) -> Path:
    candidate = Path(path)
    if not candidate.is_absolute():
        return (root / candidate).resolve()
    if candidate.exists():
        return candidate
    parts = candidate.parts
    if root.name in parts:  # /Workspace/Users/me/<root>/transformations/x.py -> <root>/transformations/x.py
        index = len(parts) - 1 - parts[::-1].index(root.name)
        return root.joinpath(*parts[index + 1 :])
    return candidate


def library_files(libraries: Sequence[Library], root: Path) -> list[Path]:
    """The source files a pipeline runs, in the order Databricks loads them, each once."""
    files: list[Path] = []
    for library in libraries:
        if library.kind == "glob":
            include = library.path.rstrip("/")
            base = _resolve(include.removesuffix("/**").removesuffix("/*"), root)
            if include.endswith("/**") or base.is_dir():
                if not base.is_dir():
                    raise PipelineSourceError(str(base), f"glob {library.path!r} matches no folder")
                matches = sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            else:
                matches = sorted(Path(p) for p in base.parent.glob(base.name))
            files.extend(path for path in matches if path.suffix in SOURCE_SUFFIXES)
        else:
            path = _resolve(library.path, root)
            if library.kind == "notebook" and path.suffix == "" and not path.exists():
                path = next(
                    (c for c in (path.with_suffix(".py"), path.with_suffix(".sql")) if c.exists()), path
                )
            if not path.is_file():
                raise PipelineSourceError(str(path), f"{library.kind} library {library.path!r} not found")
            files.append(path)
    seen: set[Path] = set()
    unique = []
    for path in files:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


#: The harness itself, the engine and the shim: a pipeline root that happens to hold a folder of the
#: same name (a repository root used as the pipeline root) must not unload them mid-run.
_NEVER_SET_ASIDE = frozenset({"harness", "pyspark", "py4j", "delta", "dlt"})


def _top_level_names(paths: Sequence[Path]) -> set[str]:
    """Module and package names a pipeline's import roots provide (``utils``, ``transformations``)."""
    names: set[str] = set()
    for root in paths:
        if not root.is_dir():
            continue
        for child in root.iterdir():
            if child.suffix == ".py":
                names.add(child.stem)
            elif child.is_dir() and child.name.isidentifier() and any(child.glob("*.py")):
                names.add(child.name)
    return names - _NEVER_SET_ASIDE


def _module_names_under(names: set[str]) -> list[str]:
    return [m for m in list(sys.modules) if m.split(".")[0] in names]


def _is_under(module: ModuleType | None, roots: Sequence[Path]) -> bool:
    file = getattr(module, "__file__", None)
    locations = getattr(getattr(module, "__spec__", None), "submodule_search_locations", None) or []
    candidates = [Path(f) for f in ([file] if file else [])] + [Path(loc) for loc in locations]
    return any(c.resolve().is_relative_to(r) for c in candidates for r in roots)


@contextmanager
def pipeline_import_path(paths: Sequence[Path]) -> Iterator[None]:
    """Put the pipeline's roots first on ``sys.path`` and give its top-level names to its own modules.

    Databricks starts each update in a fresh Python process; locally one process may load several
    pipelines (tests, ``harness watch``) or already hold an unrelated ``utils`` module. Modules with a
    name the pipeline's roots provide are set aside while it runs and restored afterwards, and the
    pipeline's own modules are dropped at the end, so the next update re-imports edited code.
    """
    roots = [p.resolve() for p in paths]
    names = _top_level_names(roots)
    set_aside = {
        m: sys.modules.pop(m) for m in _module_names_under(names) if not _is_under(sys.modules[m], roots)
    }
    added = [str(p) for p in paths if str(p) not in sys.path]
    for path in reversed(added):
        sys.path.insert(0, path)
    try:
        yield
    finally:
        for path in added:
            if path in sys.path:
                sys.path.remove(path)
        for module_name in _module_names_under(names):
            if _is_under(sys.modules[module_name], roots):
                del sys.modules[module_name]
        sys.modules.update(set_aside)


@contextmanager
def spark_builtin(spark: Any, dbutils: Any = None) -> Iterator[None]:
    """Expose `spark` (and `dbutils`) as builtins while a pipeline runs, as Databricks does for pipeline code.

    What the pipeline prints meanwhile is redacted of secret values (`harness.dbutils.redaction`).
    """
    from harness.dbutils.redaction import redacted_output

    names = {"spark": spark, **({"dbutils": dbutils} if dbutils is not None else {})}
    previous = {name: getattr(builtins, name, _ABSENT) for name in names}
    for name, value in names.items():
        setattr(builtins, name, value)
    try:
        with redacted_output():
            yield
    finally:
        for name, value in previous.items():
            if value is _ABSENT:
                delattr(builtins, name)
            else:
                setattr(builtins, name, value)


def load_sources(
    files: Sequence[Path],
    spark: Any,
    registry: PipelineRegistry,
    extra_globals: dict[str, Any] | None = None,
    *,
    configuration: Mapping[str, str] | None = None,
    names: PipelineNames | None = None,
) -> list[ModuleType]:
    """Execute each source file as a module while the `dlt` shim collects its declarations.

    `.sql` files go to `harness.sql` with the pipeline `configuration` (for `${key}`) and `names`
    (for USE CATALOG / USE SCHEMA); both kinds register into the same `registry`, in file order.
    """
    modules: list[ModuleType] = []
    with dlt_visible(registry):
        for path in files:
            if path.suffix == ".sql":
                from harness.sql import load_sql_file

                load_sql_file(
                    path,
                    registry,
                    configuration or {},
                    names.catalog if names else None,
                    names.schema if names else "default",
                )
                continue
            name = f"_dlt_source_{next(_module_ids)}_{path.stem}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise PipelineSourceError(str(path), "cannot be imported as a Python module")
            module = importlib.util.module_from_spec(spec)
            module.__dict__["spark"] = spark
            module.__dict__.update(extra_globals or {})
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except HarnessError:
                raise
            except SyntaxError as exc:
                raise PipelineSourceError(f"{path}:{exc.lineno}", f"syntax error: {exc.msg}") from exc
            except TypeError as exc:
                if "unexpected keyword argument" in str(exc):
                    raise PipelineSourceError(
                        str(path),
                        f"{exc}. Databricks-only keywords (private=, cluster_by_auto=, path=, row_filter=) are not "
                        "accepted by open-source pyspark.pipelines; use `import dlt` (the harness's dlt supports them).",
                    ) from exc
                raise PipelineSourceError(str(path), f"{type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                raise PipelineSourceError(str(path), f"{type(exc).__name__}: {exc}") from exc
            modules.append(module)
    return modules


def share_with_python_workers(roots: Sequence[Path]) -> None:
    """Pickle pipeline code by value, so UDFs defined in it run in Spark's Python workers.

    Source files are executed under generated module names and sibling modules are importable only
    through the driver's `sys.path`; a worker cannot import either, so functions from them (UDFs,
    foreachBatch handlers) must travel by value, as notebook code does on Databricks.
    """
    from pyspark import cloudpickle

    resolved = [root.resolve() for root in roots]
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or "site-packages" in file or name.split(".")[0] in ("harness", "pyspark"):
            continue
        path = Path(file).resolve()
        if name.startswith("_dlt_source_") or any(path.is_relative_to(root) for root in resolved):
            try:
                cloudpickle.register_pickle_by_value(module)
            except ValueError:  # not importable by that name (e.g. replaced in sys.modules)
                continue
