"""sqlite3 exceptions turned into one-line StoreErrors that say what went wrong and where."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from llms_desktop.errors import StoreError


class RecordNotFound(StoreError):
    """The thread or message asked for is not in the database (deleted meanwhile, or a bad id)."""


def _reason(exc: sqlite3.Error, busy_timeout: float) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text:
        return (
            f"it is locked by another program (waited {busy_timeout:g} s); "
            "close other llms-desktop windows or commands using it and try again"
        )
    if name == "SQLITE_FULL" or "disk is full" in text:
        return "the disk is full"
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return "it or its folder is read-only"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return "the file cannot be opened or created (is the folder writable?)"
    if is_corruption(exc):
        return (
            "the file is damaged; it will be checked, and set aside if need be, at the next start"
        )
    if name.startswith("SQLITE_IOERR"):
        return f"a disk read or write failed ({text})"
    return text


def store_error(exc: sqlite3.Error, doing: str, path: Path, busy_timeout: float) -> StoreError:
    """A StoreError for `exc`, raised while `doing` (e.g. "save the answer")."""
    reason = _reason(exc, busy_timeout)
    if is_corruption(exc):
        with contextlib.suppress(OSError):
            damage_marker(path).touch()
    elif not os.access(path.parent, os.W_OK):
        reason = "its folder is read-only (SQLite writes its journal next to the file)"
    return StoreError(
        f"Could not {doing}: {reason}. Thread database: {path}",
        details=f"{type(exc).__name__}: {exc} ({getattr(exc, 'sqlite_errorname', '')})",
    )


def is_corruption(exc: sqlite3.Error) -> bool:
    """True when the file is not a database or is damaged (as opposed to locked, full...)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    return (
        name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
        or "file is not a database" in text
        or "malformed" in text
    )


def damage_marker(path: Path) -> Path:
    """The file whose presence asks the next open to check the database's integrity."""
    return path.with_name(path.name + ".damaged")
