"""Which processes have the database open: an answer is only orphaned when its process is gone."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from pathlib import Path
from typing import IO, ClassVar


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


class ProcessMark:
    """This process's mark beside a database: a token, and a lock held while the process lives.

    A streaming answer records the token of the process that streams it (`messages.owner`).
    Another process can then tell an answer whose process died (its lock is free) from one
    still streaming, even while other processes keep the database open, which the shared
    UsersLock cannot tell. One mark per process and database: every connection of the
    process (the window's reader and its writer thread) streams under the same token.
    """

    _marks: ClassVar[dict[Path, ProcessMark]] = {}
    _making: ClassVar[threading.Lock] = threading.Lock()  # threads opening stores at once

    def __init__(self, db_path: Path) -> None:
        self.folder = db_path.with_name(db_path.name + ".live")
        self.token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._file: IO[bytes] | None = None

    @classmethod
    def of(cls, db_path: Path) -> ProcessMark:
        """This process's mark for a database, held from the first call until the process
        ends."""
        key = db_path.resolve()
        with cls._making:
            mark = cls._marks.get(key)
            if mark is None or mark._pid != os.getpid():  # a forked child makes its own
                mark = cls(db_path)
                mark._hold()
                cls._marks[key] = mark
            return mark

    @property
    def _pid(self) -> int:
        return int(self.token.split("-", 1)[0])

    def _hold(self) -> None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no marks, the UsersLock rule stands
            return
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            handle = open(self.folder / self.token, "wb")  # noqa: SIM115 - held for life
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a read-only folder: nothing streams from here anyway
        self._file = handle

    def is_alive(self, token: str) -> bool:
        """Whether the process that holds `token` still runs (unknown marks count as dead).

        A dead process's mark file is removed on the way.
        """
        if token == self.token:
            return True
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        path = self.folder / token
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return False
        except OSError:
            return True  # cannot tell: never mark a live answer interrupted
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
        with contextlib.suppress(OSError):
            path.unlink()
        return False
