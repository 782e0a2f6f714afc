"""Which processes have the database open: an answer is only orphaned when its process is gone."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import IO


class UsersLock:
    """A shared lock on `<db>.users` held by every process while it has the database open.

    At open, a process that can take the lock exclusively knows no other llms-desktop process is
    running, so any answer still `streaming` was left by a crash and may be marked
    `interrupted`. Without this, starting the CLI while the window streams would mark the
    window's live answer interrupted. The OS drops the lock when a process dies, however it dies.
    Where `fcntl` is missing (Windows) every opener counts as alone, as before.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".users")
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        """Hold the shared lock; returns whether no other process held it (we are alone)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        try:
            handle = open(self.path, "ab")  # noqa: SIM115 - held until release()
        except OSError:
            return True  # a read-only folder: nothing to coordinate with, nothing to mark
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except OSError:
            alone = False
        # Keep a shared lock for as long as the database is open (EX converts to SH in place).
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        self._file = handle
        return alone

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
