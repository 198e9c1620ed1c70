"""`dbutils.widgets` in a pipeline: values come from the pipeline configuration.

Declaring a widget (`text`, `dropdown`, `combobox`, `multiselect`) gives it a default that the
configuration overrides, so code written for a notebook parameter runs unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import WidgetNotDefinedError


class Widgets:
    def __init__(self, configuration: Mapping[str, str]) -> None:
        self._configuration = dict(configuration)
        self._defaults: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name in self._configuration:
            return self._configuration[name]
        if name in self._defaults:
            return self._defaults[name]
        raise WidgetNotDefinedError(name, sorted({*self._configuration, *self._defaults}))

    def getArgument(self, name: str, optional: str | None = None) -> str | None:
        try:
            return self.get(name)
        except WidgetNotDefinedError:
            return optional

    def getAll(self) -> dict[str, str]:
        return {**self._defaults, **self._configuration}

    def _declare(self, name: str, defaultValue: str) -> None:
        self._defaults[name] = str(defaultValue)

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._declare(name, defaultValue)

    def dropdown(self, name: str, defaultValue: str, choices: Any, label: str | None = None) -> None:
        self._declare(name, defaultValue)

    def combobox(self, name: str, defaultValue: str, choices: Any, label: str | None = None) -> None:
        self._declare(name, defaultValue)

    def multiselect(self, name: str, defaultValue: str, choices: Any, label: str | None = None) -> None:
        self._declare(name, defaultValue)

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)

    def removeAll(self) -> None:
        self._defaults.clear()
