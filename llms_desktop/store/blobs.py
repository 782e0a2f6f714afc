"""Attachment bytes in the data folder, named by their SHA-256: attachments/ab/abcdef….png.

The same image attached twice (or in two threads) is one file. Files are private (0600, in
0700 folders), written to a temporary name and renamed into place, so a crash never leaves
half a file under a hash. Which files are still referenced is the database's business (see
Store.delete_thread): this module only reads, writes and removes.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from llms_desktop.paths import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE

FOLDER = "attachments"
_HASH = re.compile(r"^[0-9a-f]{64}$")
_SUFFIXES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}


def suffix_for(mime: str) -> str:
    """The file name suffix for a media type (".bin" for one we do not know)."""
    return _SUFFIXES.get(mime, ".bin")


class Blobs:
    """The `attachments` folder of a data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, sha256: str, mime: str) -> Path:
        """Where the bytes with this hash live (whether or not they are there)."""
        if not _HASH.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.folder / sha256[:2] / (sha256 + suffix_for(mime))

    def find(self, sha256: str, mime: str) -> Path | None:
        """The file holding these bytes, under any suffix (the same bytes may have come in
        with another media type), or None."""
        expected = self.path(sha256, mime)
        if expected.is_file():
            return expected
        with contextlib.suppress(OSError):
            for candidate in expected.parent.glob(sha256 + ".*"):
                return candidate
        return None

    def read(self, sha256: str, mime: str) -> bytes | None:
        """The bytes, or None when the file is gone."""
        found = self.find(sha256, mime)
        if found is None:
            return None
        try:
            return found.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, sha256: str, mime: str, data: bytes) -> Path | None:
        """Store `data` under its hash; returns the path when a new file was created, None when
        it was there already. Raises OSError."""
        if self.find(sha256, mime) is not None:
            return None
        target = self.path(sha256, mime)
        self._make_folder(target.parent)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        return target

    def remove(self, sha256: str) -> int:
        """Delete the files holding these bytes (any suffix); returns how many were removed."""
        if not _HASH.match(sha256):
            return 0
        removed = 0
        with contextlib.suppress(OSError):
            for candidate in (self.folder / sha256[:2]).glob(sha256 + ".*"):
                with contextlib.suppress(FileNotFoundError):
                    candidate.unlink()
                    removed += 1
        with contextlib.suppress(OSError):
            (self.folder / sha256[:2]).rmdir()  # only when empty
        return removed

    def _make_folder(self, folder: Path) -> None:
        for level in (self.folder, folder):
            try:
                level.mkdir(mode=PRIVATE_DIR_MODE)
            except FileExistsError:
                continue
            os.chmod(level, PRIVATE_DIR_MODE)  # the umask could only have narrowed it
