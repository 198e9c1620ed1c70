"""Keep secrets off the page: mask configuration values whose keys look like secrets, then scrub those
values (and any other known secret value, e.g. what `dbutils.secrets.get` returned) from every
string the page shows.

Databricks itself prints ``[REDACTED]`` for secret values; the page does the same. Masking by key
is a heuristic (a password under an innocent key is not caught by it), so the scrub pass also
removes every value passed in as a known secret, wherever it occurs: in messages, errors, details.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"

#: Configuration keys that hold credentials: matched against the whole key, any part of it.
SECRET_KEY = re.compile(
    r"(?i)(passw(or)?d|\bpwd\b|_pwd\b|secret|token|credential|api[_.-]?key|private[_.-]?key|access[_.-]?key"
    r"|client[_.-]?key|auth(?!or)|sas\b|signature|cookie|session[_.-]?key|\bkey$)"
)

#: Shorter values are masked where their key says so but not scrubbed from free text (too many
#: false hits: a 2-character "secret" would shred every message).
MIN_SCRUB_LENGTH = 4


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY.search(key))


class Redactor:
    """Collects secret values from configurations, then redacts any JSON-like value."""

    def __init__(self, known_secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = {s for s in known_secrets if s}
        self._pattern: re.Pattern[str] | None = None

    def learn(self, configuration: Any) -> None:
        """Remember the values of secret-looking keys of one configuration mapping."""
        if not isinstance(configuration, dict):
            return
        for key, value in configuration.items():
            if isinstance(value, str) and value and is_secret_key(str(key)):
                self._secrets.add(value)
                self._pattern = None

    def mask_configuration(self, configuration: dict[str, Any]) -> dict[str, Any]:
        return {
            key: REDACTED if is_secret_key(str(key)) and value not in (None, "") else self.redact(value)
            for key, value in configuration.items()
        }

    def _scrubber(self) -> re.Pattern[str] | None:
        if self._pattern is None:
            values = sorted((s for s in self._secrets if len(s) >= MIN_SCRUB_LENGTH), key=len, reverse=True)
            if values:
                self._pattern = re.compile("|".join(re.escape(v) for v in values))
        return self._pattern

    def redact(self, value: Any) -> Any:
        """The value with every known secret scrubbed from its strings (keys are left alone)."""
        if isinstance(value, str):
            pattern = self._scrubber()
            return pattern.sub(REDACTED, value) if pattern else value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value
