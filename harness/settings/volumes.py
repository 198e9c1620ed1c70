"""Unity Catalog volumes, locally: /Volumes/<catalog>/<schema>/<volume>/... → <state>/volumes/...

Reads and writes of `/Volumes` paths made through Spark readers inside a harness run are mapped
here, as are Auto Loader paths and options; `harness path` prints the mapping so users and tools
know where to drop files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.errors import VolumePathError
from harness.settings.naming import validate_identifier

_PREFIXES = ("dbfs:/Volumes/", "/Volumes/")


def is_volume_path(path: str) -> bool:
    return isinstance(path, str) and path.startswith(_PREFIXES)


@dataclass(frozen=True)
class VolumeMapper:
    root: Path  # <state>/volumes

    def to_local(self, path: str) -> Path:
        """The local directory or file for a /Volumes path (validates catalog, schema and volume names)."""
        if not is_volume_path(path):
            raise VolumePathError(path, "not a /Volumes path")
        relative = path.split("/Volumes/", 1)[1]
        parts = PurePosixPath(relative).parts
        if len(parts) < 3:
            raise VolumePathError(path, "needs at least catalog, schema and volume")
        if any(part in ("..", ".") for part in parts):
            raise VolumePathError(path, "'.' and '..' are not allowed")
        catalog, schema, volume = parts[:3]
        for kind, value in (("catalog", catalog), ("schema", schema), ("volume", volume)):
            try:
                validate_identifier(value, kind)
            except Exception as exc:  # IdentifierError → a volume-specific message
                raise VolumePathError(path, f"{kind} {value!r} is not a valid name") from exc
        return self.root.joinpath(*parts)

    def map(self, path: str) -> str:
        """Map a path if it is a /Volumes path; leave any other path untouched."""
        return str(self.to_local(path)) if is_volume_path(path) else path

    def to_volume(self, local: Path) -> str | None:
        """The /Volumes path for a local path under the volumes root, if it is one."""
        try:
            relative = Path(local).resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        return "/Volumes/" + relative.as_posix()
