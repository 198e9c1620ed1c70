"""Find Java and check its version before Spark tries (and fails obscurely) to launch it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import JavaNotFoundError, JavaVersionError

#: Spark 4.x runs on Java 17 and 21.
REQUIRED_JAVA_MAJOR = 17

_VERSION = re.compile(r'version "(?P<v>[^"]+)"')


@dataclass(frozen=True)
class JavaRuntime:
    executable: str
    version: str
    major: int


def parse_java_major(version: str) -> int:
    """'1.8.0_392' -> 8, '17.0.15' -> 17, '21' -> 21."""
    parts = version.split(".")
    if parts[0] == "1" and len(parts) > 1:
        return int(parts[1])
    return int(re.match(r"\d+", parts[0]).group(0))  # type: ignore[union-attr]


def find_java() -> tuple[str | None, list[str]]:
    """The java executable Spark will use: $JAVA_HOME/bin/java first, then PATH (as spark-submit does)."""
    searched: list[str] = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        searched.append(str(candidate))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate), searched
        return None, searched  # spark-submit would fail on a broken JAVA_HOME too
    on_path = shutil.which("java")
    searched.append("PATH")
    return on_path, searched


def check_java(required: int = REQUIRED_JAVA_MAJOR) -> JavaRuntime:
    """Return the Java runtime Spark will use, or raise a clear error naming what was found."""
    executable, searched = find_java()
    if executable is None:
        raise JavaNotFoundError(required=required, searched=searched)
    try:
        out = subprocess.run([executable, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaNotFoundError(required=required, searched=[*searched, f"{executable} ({exc})"]) from exc
    match = _VERSION.search(out.stderr + out.stdout)
    if not match:
        raise JavaVersionError(found="unknown", required=required, java=executable)
    version = match.group("v")
    major = parse_java_major(version)
    if major < required:
        raise JavaVersionError(found=version, required=required, java=executable)
    return JavaRuntime(executable=executable, version=version, major=major)
