"""Reading values out of one config with the context every error names (environment, file).

The section parsers of `pipeline.config.parse` ask a `Reader` for each key: it checks the type (a
boolean is never a number; ``float`` means any number), the range, unknown keys of a section, and
whether a missing key is an error (always, or only in a complete environment file).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import Any

from pipeline.utils.errors import ConfigError

__all__ = ["Reader"]

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list"}
_MISSING = object()


class Reader:
    """Reads values out of one config with the context every error names (environment, file).

    ``complete`` is True for a whole environment file: keys marked ``in_file`` must then be present;
    otherwise they take their default.
    """

    def __init__(self, *, complete: bool, environment: str | None = None, source: str | None = None) -> None:
        self.complete = complete
        self.environment = environment
        self.source = source

    @property
    def where(self) -> dict[str, Any]:
        return {"environment": self.environment, "source": self.source}

    def error(self, key: str, value: Any, reason: str, expected: str | None = None) -> ConfigError:
        return ConfigError(key, value, reason, expected=expected, **self.where)

    def missing(self, key: str) -> ConfigError:
        return self.error(key, None, "missing required key")

    def section(
        self, parent: Mapping[str, Any], key: str, allowed: Collection[str], *, in_file: bool = True
    ) -> Mapping[str, Any]:
        """The object under dotted ``key`` (``{}`` when absent and allowed to be), unknown keys refused."""
        value = parent.get(key.rsplit(".", 1)[-1])
        if value is None:
            if self.complete and in_file:
                raise self.missing(key)
            return {}
        if not isinstance(value, Mapping):
            raise self.error(key, value, f"expected an object, got {type(value).__name__}", "an object")
        for name in value:
            if name not in allowed:
                raise self.error(f"{key}.{name}", value[name], f"unknown key; allowed: {', '.join(allowed)}")
        return value

    def value(
        self,
        section: Mapping[str, Any],
        key: str,
        kind: type,
        *,
        default: Any = None,
        in_file: bool = False,
        required: bool = False,
        above: float | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> Any:
        """The value under dotted ``key`` in ``section``, type-checked (``float`` means any number; a
        boolean is never a number) and range-checked (``above`` exclusive, ``low``/``high`` inclusive)."""
        raw = section.get(key.rsplit(".", 1)[-1], _MISSING)
        if raw is _MISSING or raw is None:
            if required or (self.complete and in_file):
                raise self.missing(key)
            return default
        return self.check(key, raw, kind, above=above, low=low, high=high)

    def check(
        self,
        key: str,
        value: Any,
        kind: type,
        *,
        above: float | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> Any:
        kinds: tuple[type, ...] = (int, float) if kind is float else (kind,)
        expected = _TYPE_NAMES.get(kind, kind.__name__)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kinds):
            raise self.error(
                key, value, f"expected {expected}, got {type(value).__name__} {value!r}", expected
            )
        if kind is float:
            value = float(value)
        if above is not None and not value > above:
            raise self.error(key, value, f"must be greater than {above:g}", expected)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"[{low:g}, {high:g}]" if low is not None and high is not None else ""
            reason = (
                f"must lie in {bounds}"
                if bounds
                else f"must be at least {low:g}"
                if low is not None
                else f"must be at most {high:g}"
            )
            raise self.error(key, value, reason, expected)
        return value

    def mapping(
        self,
        section: Mapping[str, Any],
        key: str,
        kind: type,
        *,
        in_file: bool = False,
        above: float | None = None,
        low: float | None = None,
        high: float | None = None,
    ) -> Mapping[str, Any]:
        """A JSON object with free keys (table or rule names) whose values all have ``kind``."""
        raw = section.get(key.rsplit(".", 1)[-1])
        if raw is None:
            if self.complete and in_file:
                raise self.missing(key)
            return MappingProxyType({})
        if not isinstance(raw, Mapping):
            raise self.error(key, raw, f"expected an object {{name: {_TYPE_NAMES[kind]}}}", "an object")
        return MappingProxyType(
            {
                str(name): self.check(f"{key}.{name}", item, kind, above=above, low=low, high=high)
                for name, item in raw.items()
            }
        )
