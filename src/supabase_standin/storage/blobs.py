"""Object bytes on disk, under the stack's ``storage_dir``.

Layout: ``<root>/objects/<v[0:2]>/<v>`` where ``v`` is the object's ``version`` — a UUID
this service generates for every upload and records in ``storage.objects.version``. The
object's name never becomes part of a filesystem path, so no name (``..``, absolute paths,
NUL, odd bytes) can point outside the folder, and a version that is not a canonical UUID
(say, one written into the table by hand) is refused rather than turned into a path.
Each version's file is written once and never changed: replacing an object writes a new
version and deletes the old file only after the database has committed the new row.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from pathlib import Path


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"

    def ensure(self) -> None:
        for folder in (self.root, self.objects, self.tmp):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    @staticmethod
    def new_version() -> str:
        return str(uuid.uuid4())

    def path_for(self, version: str | None) -> Path | None:
        """The file of ``version``, or ``None`` if it is not a canonical UUID."""
        if not version:
            return None
        try:
            canonical = str(uuid.UUID(version))
        except (ValueError, TypeError, AttributeError):
            return None
        if canonical != version:
            return None
        return self.objects / canonical[:2] / canonical

    def write(self, version: str, data: bytes) -> Path:
        """Write a new version atomically (temporary file, fsync, rename)."""
        target = self.path_for(version)
        if target is None:
            raise ValueError(f"not a version id: {version!r}")
        self.ensure()
        target.parent.mkdir(mode=0o700, exist_ok=True)
        temp = self.tmp / f"{version}.{os.getpid()}.part"
        try:
            with temp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return target

    def copy(self, source_version: str | None, version: str) -> bool:
        """Give ``version`` the bytes of ``source_version``; False if the source is missing."""
        source = self.path_for(source_version)
        target = self.path_for(version)
        if source is None or target is None or not source.is_file():
            return False
        self.ensure()
        target.parent.mkdir(mode=0o700, exist_ok=True)
        temp = self.tmp / f"{version}.{os.getpid()}.part"
        try:
            shutil.copyfile(source, temp)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return True

    def read(self, version: str | None) -> bytes | None:
        path = self.path_for(version)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def delete(self, version: str | None) -> None:
        path = self.path_for(version)
        if path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
