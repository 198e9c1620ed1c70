"""Suites as JSON files: written from the code definitions, read back to run.

The stored form is GX's own suite JSON (``ExpectationSuite.to_json_dict()``) without the random
ids GX assigns, so regenerating gives byte-identical files and a diff shows only real changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import great_expectations as gx

from pipeline.utils.errors import QualitySuiteError
from quality_suites.definitions import SUITES

__all__ = ["SUITES_DIR", "load_suite", "stored_suite_json", "suite_json", "write_suites"]

SUITES_DIR = Path(__file__).resolve().parent / "suites"


def _strip_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items() if k not in ("id", "batch_id", "rendered_content")}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


def suite_json(name: str) -> dict[str, Any]:
    """The JSON form of the suite defined in code as ``name``."""
    if name not in SUITES:
        raise QualitySuiteError(name, f"no such suite; known: {sorted(SUITES)}")
    spec = SUITES[name]
    suite = gx.ExpectationSuite(name=spec.name, expectations=spec.expectations())
    data = _strip_ids(suite.to_json_dict())
    data["meta"] = {**data.get("meta", {}), "target": spec.target, "layer": spec.layer}
    return data


def write_suites(directory: Path = SUITES_DIR) -> list[Path]:
    """Write every suite's JSON (sorted keys, 2-space indent); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in sorted(SUITES):
        path = directory / f"{name}.json"
        path.write_text(json.dumps(suite_json(name), indent=2, sort_keys=True) + "\n")
        paths.append(path)
    return paths


def stored_suite_json(name: str, directory: Path = SUITES_DIR) -> dict[str, Any]:
    path = directory / f"{name}.json"
    if not path.is_file():
        raise QualitySuiteError(name, f"{path} does not exist; run `python -m quality_suites` to write it")
    return json.loads(path.read_text())


def load_suite(name: str, directory: Path = SUITES_DIR) -> gx.ExpectationSuite:
    """The stored suite as a GX object (what runs), refusing a file that differs from the code."""
    data = stored_suite_json(name, directory)
    if data != suite_json(name):
        raise QualitySuiteError(
            name, f"{directory / (name + '.json')} is stale; run `python -m quality_suites` to rewrite it"
        )
    meta = {k: v for k, v in data.get("meta", {}).items() if k not in ("target", "layer")}
    return gx.ExpectationSuite(name=data["name"], expectations=data["expectations"], meta=meta)
