"""`dbutils.fs` over local folders: volumes, a local DBFS root and `file:/` paths.

Paths come back in the scheme Databricks uses: volume and DBFS paths as `dbfs:/...`, local
paths as `file:/...`; folders end with `/` in both `path` and `name`, and `modificationTime` is
in milliseconds since the epoch, as in Databricks' `FileInfo`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.errors import DbfsPathError
from harness.settings.volumes import VolumeMapper, is_volume_path


@dataclass(frozen=True)
class FileInfo:
    path: str
    name: str
    size: int
    modificationTime: int

    def isDir(self) -> bool:
        return self.name.endswith("/")

    def isFile(self) -> bool:
        return not self.isDir()


@dataclass(frozen=True)
class _Resolved:
    local: Path
    display: str  # the path as dbutils reports it, without a trailing slash


class FileSystem:
    """The local meaning of each `dbutils.fs` call; errors name the path as the caller wrote it."""

    def __init__(self, volumes: VolumeMapper, dbfs_root: Path) -> None:
        self._volumes = volumes
        self._dbfs_root = dbfs_root

    def _resolve(self, path: str) -> _Resolved:
        if not isinstance(path, str) or not path:
            raise DbfsPathError(str(path), "dbutils.fs", "a path must be a non-empty string")
        if is_volume_path(path):
            volume_path = "/Volumes/" + path.split("/Volumes/", 1)[1]
            return _Resolved(self._volumes.to_local(volume_path), "dbfs:" + volume_path.rstrip("/"))
        if path.startswith("file:"):
            local = "/" + path.removeprefix("file:").lstrip("/")
            return _Resolved(Path(local), "file:" + local.rstrip("/"))
        relative = PurePosixPath(path.removeprefix("dbfs:").lstrip("/"))
        if ".." in relative.parts:
            raise DbfsPathError(path, "dbutils.fs", "'..' is not allowed in a DBFS path")
        return _Resolved(self._dbfs_root.joinpath(*relative.parts), "dbfs:/" + relative.as_posix())

    def _existing(self, path: str, call: str) -> _Resolved:
        resolved = self._resolve(path)
        if not resolved.local.exists():
            raise DbfsPathError(path, call, "no such file or directory", missing=True)
        return resolved

    @staticmethod
    def _info(local: Path, display: str) -> FileInfo:
        stat = local.stat()
        if local.is_dir():
            return FileInfo(display.rstrip("/") + "/", local.name + "/", 0, int(stat.st_mtime * 1000))
        return FileInfo(display, local.name, stat.st_size, int(stat.st_mtime * 1000))

    def ls(self, path: str) -> list[FileInfo]:
        resolved = self._existing(path, "dbutils.fs.ls")
        if resolved.local.is_file():
            return [self._info(resolved.local, resolved.display)]
        children = sorted(resolved.local.iterdir(), key=lambda child: child.name)
        return [self._info(child, f"{resolved.display}/{child.name}") for child in children]

    def head(self, file: str, maxBytes: int = 65536) -> str:
        resolved = self._existing(file, "dbutils.fs.head")
        if resolved.local.is_dir():
            raise DbfsPathError(file, "dbutils.fs.head", "is a directory")
        with resolved.local.open("rb") as handle:
            return handle.read(maxBytes).decode("utf-8", errors="replace")

    def mkdirs(self, dir: str) -> bool:
        self._resolve(dir).local.mkdir(parents=True, exist_ok=True)
        return True

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        resolved = self._resolve(file)
        if resolved.local.exists() and not overwrite:
            raise DbfsPathError(file, "dbutils.fs.put", "the file already exists; pass overwrite=True")
        resolved.local.parent.mkdir(parents=True, exist_ok=True)
        resolved.local.write_text(contents, encoding="utf-8")
        return True

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        source = self._existing(from_, "dbutils.fs.cp")
        target = self._resolve(to)
        if source.local.is_dir():
            if not recurse:
                raise DbfsPathError(from_, "dbutils.fs.cp", "is a directory; pass recurse=True")
            shutil.copytree(source.local, target.local, dirs_exist_ok=True)
        else:
            destination = target.local / source.local.name if target.local.is_dir() else target.local
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source.local, destination)
        return True

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        source = self._existing(from_, "dbutils.fs.mv")
        if source.local.is_dir() and not recurse:
            raise DbfsPathError(from_, "dbutils.fs.mv", "is a directory; pass recurse=True")
        target = self._resolve(to).local
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source.local, target)
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:
        resolved = self._resolve(dir)
        if not resolved.local.exists():
            return False
        if resolved.local.is_dir():
            if any(resolved.local.iterdir()) and not recurse:
                raise DbfsPathError(dir, "dbutils.fs.rm", "the directory is not empty; pass recurse=True")
            shutil.rmtree(resolved.local)
        else:
            resolved.local.unlink()
        return True
