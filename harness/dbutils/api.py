"""The `dbutils` object a pipeline sees: fs, secrets and widgets; anything else refused by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from harness.dbutils.fs import FileSystem
from harness.dbutils.secrets import Secrets
from harness.dbutils.widgets import Widgets
from harness.errors import DbutilsUnsupportedError
from harness.settings.volumes import VolumeMapper


class _Unsupported:
    """A `dbutils` member with no local meaning: any use raises, naming the full call."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> _Unsupported:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Unsupported(f"{self._name}.{attribute}")

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise DbutilsUnsupportedError(self._name)

    def __repr__(self) -> str:
        return f"<{self._name}: not available locally>"


class DBUtils:
    """`dbutils.fs`, `dbutils.secrets`, `dbutils.widgets`; other members raise on use."""

    def __init__(
        self,
        volumes: VolumeMapper,
        dbfs_root: Path,
        configuration: Mapping[str, str],
        secrets_file: Path | None = None,
    ) -> None:
        self.fs = FileSystem(volumes, dbfs_root)
        self.secrets = Secrets(secrets_file)
        self.widgets = Widgets(configuration)

    def __getattr__(self, name: str) -> _Unsupported:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Unsupported(f"dbutils.{name}")

    def help(self, *_: Any) -> None:
        print(
            "Local dbutils: fs (ls, head, mkdirs, cp, mv, rm, put), secrets (get, list), widgets (get, ...)."
        )
