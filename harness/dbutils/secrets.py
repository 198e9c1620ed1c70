"""`dbutils.secrets` from the environment or a local secrets file, never from a workspace.

Look-up order for ``get(scope, key)``: the environment variable
``HARNESS_SECRET__<SCOPE>__<KEY>`` (upper-cased, every character other than a letter or digit
turned into ``_``), then the JSON file named by ``HARNESS_SECRETS_FILE`` or, failing that, the
state directory's ``secrets.json`` (``{"scope": {"key": "value"}}``). A value handed out is
redacted from then on (`harness.dbutils.redaction`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.dbutils.redaction import remember
from harness.errors import SecretNotFoundError

ENV_PREFIX = "HARNESS_SECRET__"
FILE_ENV = "HARNESS_SECRETS_FILE"


def secret_env_name(scope: str, key: str) -> str:
    """The environment variable that holds secret `key` of `scope`."""
    return f"{ENV_PREFIX}{_env_part(scope)}__{_env_part(key)}"


def _env_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", text).upper()


@dataclass(frozen=True)
class SecretScope:
    name: str


@dataclass(frozen=True)
class SecretMetadata:
    key: str


class Secrets:
    def __init__(self, default_file: Path | None) -> None:
        self._default_file = default_file

    def _file(self) -> Path | None:
        configured = os.environ.get(FILE_ENV)
        return Path(configured) if configured else self._default_file

    def _file_secrets(self) -> dict[str, dict[str, str]]:
        path = self._file()
        if path is None or not path.is_file():
            return {}
        data = json.loads(path.read_text())
        return {str(scope): {str(k): str(v) for k, v in keys.items()} for scope, keys in data.items()}

    def get(self, scope: str, key: str) -> str:
        value = os.environ.get(secret_env_name(scope, key))
        if value is None:
            value = self._file_secrets().get(scope, {}).get(key)
        if value is None:
            file = self._file()
            raise SecretNotFoundError(scope, key, secret_env_name(scope, key), str(file) if file else None)
        remember(value)
        return value

    def getBytes(self, scope: str, key: str) -> bytes:
        return self.get(scope, key).encode("utf-8")

    def listScopes(self) -> list[SecretScope]:
        scopes = set(self._file_secrets())
        return [SecretScope(name) for name in sorted(scopes)]

    def list(self, scope: str) -> list[SecretMetadata]:
        return [SecretMetadata(key) for key in sorted(self._file_secrets().get(scope, {}))]


def local_secret_values(default_file: Path | None) -> tuple[str, ...]:
    """Every secret value this machine could hand to `dbutils.secrets.get` (for pages that must mask them)."""
    values = [value for name, value in os.environ.items() if name.startswith(ENV_PREFIX) and value]
    for keys in Secrets(default_file)._file_secrets().values():
        values.extend(value for value in keys.values() if value)
    return tuple(sorted(set(values)))
