"""The connection under the store: one lock, nestable write transactions, errors as StoreError."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self

from llms_desktop.errors import StoreError
from llms_desktop.store.failures import store_error
from llms_desktop.store.liveness import ProcessMark, UsersLock

DEFAULT_BUSY_TIMEOUT = 5.0


class Database:
    """Serialises calls on one sqlite3 connection (autocommit mode) so threads may share it."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        recovered_from: Path | None = None,
        users: UsersLock | None = None,
        read_only: str | None = None,
    ) -> None:
        self._db = connection
        self._users = users
        self.path = path
        self.busy_timeout = busy_timeout
        self.recovered_from = recovered_from
        # Why the database is open for reading only (a read-only folder, a full disk), or None.
        self.read_only = read_only
        self.interrupted_on_open = 0
        # This process's mark beside the database (None: opened read-only, or not by open()).
        self.mark: ProcessMark | None = None
        self._lock = threading.RLock()
        self._depth = 0  # nesting of transaction() blocks
        # Work outside the database tied to the outermost transaction: undone on rollback
        # (files written for it), or done once it committed (files it no longer needs).
        self._on_rollback: list[Callable[[], None]] = []
        self._after_commit: list[Callable[[], None]] = []

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()
        if self._users is not None:
            self._users.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- transactions --------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, doing: str = "write") -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); nested blocks join the outer one.

        On any exception everything since BEGIN is rolled back; sqlite3 errors become StoreError.
        A database opened read-only refuses at once, saying why.
        """
        if self.read_only is not None:
            raise StoreError(
                f"Could not {doing}: the thread database is open read-only "
                f"({self.read_only}); threads can be read and exported, not changed. "
                f"Thread database: {self.path}"
            )
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc, doing) from exc
            self._depth = 1
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                undo, self._on_rollback, self._after_commit = self._on_rollback, [], []
                # Still holding the write lock: no other writer can have come to rely on them.
                for callback in reversed(undo):
                    with contextlib.suppress(OSError):
                        callback()
                if self._db.in_transaction:
                    # SQLite may have rolled back by itself already (disk full, I/O error).
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc, doing) from exc
                raise
            finally:
                self._depth = 0
                self._on_rollback = []
            then, self._after_commit = self._after_commit, []
            for callback in then:
                callback()

    def on_rollback(self, callback: Callable[[], None]) -> None:
        """Run `callback` if the current transaction rolls back (before the lock is released)."""
        self._on_rollback.append(callback)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the current transaction has committed."""
        self._after_commit.append(callback)

    @contextlib.contextmanager
    def _read(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise self._error(exc, doing) from exc

    @contextlib.contextmanager
    def _busy_timeout(self, seconds: float | None) -> Iterator[None]:
        """Wait at most `seconds` for a lock in this block (default: the store's timeout)."""
        if seconds is None or self._depth:
            yield
            return
        self._db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")

    def _error(self, exc: sqlite3.Error, doing: str) -> StoreError:
        return store_error(exc, doing, self.path, self.busy_timeout)
