"""Opening the database file: create, configure, migrate, and move a damaged file aside."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any, NamedTuple

from llms_desktop.errors import StoreError
from llms_desktop.paths import create_private_file, db_path, ensure_data_dir, make_private
from llms_desktop.store import migrations
from llms_desktop.store.failures import damage_marker, is_corruption, store_error
from llms_desktop.store.liveness import ProcessMark, UsersLock
from llms_desktop.text_hygiene import clean_text

SQLITE_HEADER = b"SQLite format 3\x00"
# Free space below this when a write fails counts as a full disk (SQLite reports a full tmpfs
# as a disk I/O error while growing its -shm file).
_LOW_SPACE = 1024 * 1024


class CleanTextConnection(sqlite3.Connection):
    """Binds every string as valid Unicode: SQLite cannot store a lone surrogate, and a stream
    that sent half an emoji must not lose the answer over it."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _clean(parameters))

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return super().executemany(sql, (_clean(row) for row in parameters))


def _clean(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return {k: clean_text(v) if isinstance(v, str) else v for k, v in parameters.items()}
    return tuple(clean_text(v) if isinstance(v, str) else v for v in parameters)


class _Corrupt(Exception):
    """The file at the path is not a usable database."""


class _CannotWrite(Exception):
    """Opening needs to write (journal files, a migration) and the disk refuses."""

    def __init__(self, reason: str, cause: BaseException) -> None:
        super().__init__(reason)
        self.reason = reason
        self.cause = cause


class Opened(NamedTuple):
    """A ready connection and what opening found."""

    connection: sqlite3.Connection
    path: Path
    recovered_from: Path | None  # where a damaged file was moved
    interrupted: int  # answers a crash had left streaming, now marked interrupted
    users: UsersLock  # held while the database is open; release it on close
    read_only: str | None = None  # why the database could only be opened for reading


def open_connection(data_dir: Path, busy_timeout: float) -> Opened:
    """A ready connection to the database in `data_dir`, its path, and where a damaged file went.

    A file that is not SQLite, or that SQLite finds damaged while opening, is moved aside with a
    timestamp and a fresh database is created. Damage found later, in use, leaves a marker file
    (`Store.check_integrity` leaves it too) so the next open runs `PRAGMA integrity_check` and
    moves the file aside if it fails; the check is too slow for every start (0.3 s for 130 MB,
    where opening takes 1 ms). A database from a newer version raises StoreError, unchanged.

    When the folder is read-only or the disk full, an existing database is opened for reading
    only (`Opened.read_only` says why), so threads can still be listed, shown and exported.
    The folder is created 0700 and the database file 0600.
    """
    try:
        data_dir = ensure_data_dir(data_dir)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the data folder {data_dir}: {exc.strerror or exc}."
        ) from exc
    path = db_path(data_dir)
    users = UsersLock(path)
    with contextlib.suppress(OSError):  # a read-only folder: the lock does without it
        create_private_file(users.path)
    # Only when no other process has the database open are `streaming` answers orphans.
    alone = users.acquire()
    try:
        try:
            try:
                connection, interrupted = _connect(path, busy_timeout, alone)
                return Opened(connection, path, None, interrupted, users)
            except _Corrupt:
                recovered_from = _move_aside(path)
            try:
                connection, interrupted = _connect(path, busy_timeout, alone)
                return Opened(connection, path, recovered_from, interrupted, users)
            except _Corrupt as exc:
                raise StoreError(f"Cannot create a new thread database at {path}.") from exc
        except _CannotWrite as refused:
            connection, reason = _connect_read_only(path, busy_timeout, refused)
            return Opened(connection, path, None, 0, users, reason)
    except BaseException:
        users.release()
        raise


def _connect(path: Path, busy_timeout: float, mark_orphans: bool) -> tuple[sqlite3.Connection, int]:
    """A configured, migrated connection, and how many answers it marked interrupted.

    Raises _Corrupt for a damaged file.
    """
    try:
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        header = b""
        try:
            # Before SQLite creates it: its -wal and -shm files then get the same mode.
            create_private_file(path)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the thread database {path}: {exc.strerror or exc}."
            ) from exc
    except OSError as exc:
        raise StoreError(f"Cannot read the thread database {path}: {exc.strerror or exc}.") from exc
    if header and header != SQLITE_HEADER:
        raise _Corrupt
    for own in (path, *_side_files(path)):
        make_private(own)  # files an older version left readable by others
    try:
        db = sqlite3.connect(
            path,
            timeout=busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            factory=CleanTextConnection,
        )
    except sqlite3.Error as exc:
        raise store_error(exc, "open the thread database", path, busy_timeout) from exc
    try:
        migrations.check_not_newer(db)  # before any write: a newer database stays untouched
        _use_wal(db, busy_timeout)
        # NORMAL in WAL mode: a commit is a write() without fsync, so it survives the app being
        # killed (the OS has the bytes); only a power cut may lose the last commits.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        marker = damage_marker(path)
        if marker.exists():
            (check,) = db.execute("PRAGMA integrity_check(1)").fetchone()
            if check != "ok":
                raise _Corrupt
            marker.unlink(missing_ok=True)
        migrations.migrate(db)
        interrupted = _mark_interrupted(db, ProcessMark.of(path), alone=mark_orphans)
    except migrations.NewerDatabase as exc:
        db.close()
        raise _newer(path, exc) from exc
    except sqlite3.Error as exc:
        db.close()
        if is_corruption(exc):
            raise _Corrupt from exc
        refusal = _write_refusal(exc, path)
        if refusal is not None:
            raise _CannotWrite(refusal, exc) from exc
        raise store_error(exc, "open the thread database", path, busy_timeout) from exc
    except BaseException:
        db.close()
        raise
    return db, interrupted


def _newer(path: Path, exc: migrations.NewerDatabase) -> StoreError:
    return StoreError(
        f"The thread database {path} was written by a newer llms-desktop ({exc}); "
        "it was not changed. Update llms-desktop, or choose another folder with --data-dir."
    )


def _side_files(path: Path) -> tuple[Path, Path]:
    return (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))


def _write_refusal(exc: sqlite3.Error, path: Path) -> str | None:
    """Why the disk refused a write opening needed, or None when that is not the problem."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if name == "SQLITE_FULL" or "disk is full" in text:
        return "the disk is full"
    if not name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR")):
        return None
    if not os.access(path.parent, os.W_OK) or name.startswith("SQLITE_READONLY"):
        return "its folder is read-only"
    free = _free_bytes(path.parent)
    if free is not None and free < _LOW_SPACE:
        return "the disk is full"
    return f"a disk write failed ({exc})"


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _connect_read_only(
    path: Path, busy_timeout: float, refused: _CannotWrite
) -> tuple[sqlite3.Connection, str]:
    """The database opened for reading only, and why, or the original failure as StoreError.

    `mode=ro` reads a WAL database whose -shm file exists; when it cannot be created (a
    read-only folder, a full disk), `immutable=1` reads the main file without any lock or
    journal, and misses what a leftover -wal file holds (the reason then says so).
    """
    uri = path.resolve().as_uri()
    reason = refused.reason
    if not _size(path):  # nothing to read: the database could not even be created
        raise StoreError(
            f"Could not create the thread database: {reason}. Thread database: {path}",
            details=f"{type(refused.cause).__name__}: {refused.cause}",
        ) from refused.cause
    failure: sqlite3.Error | None = None
    for options in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(
                f"{uri}?{options}",
                uri=True,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                factory=CleanTextConnection,
            )
        except sqlite3.Error as exc:
            failure = exc
            continue
        try:
            migrations.check_not_newer(db)
            if migrations.schema_version(db) < len(migrations.MIGRATIONS):
                db.close()
                raise StoreError(
                    f"Could not open the thread database: {reason}, and it needs an upgrade "
                    f"that writes to it. Thread database: {path}"
                ) from refused.cause
            db.execute("PRAGMA foreign_keys = ON")
        except migrations.NewerDatabase as exc:
            db.close()
            raise _newer(path, exc) from exc
        except sqlite3.Error as exc:
            db.close()
            failure = exc
            continue
        wal = _side_files(path)[0]
        if "immutable" in options and _size(wal):
            reason += f"; the latest changes, in {wal.name}, cannot be read until it is writable"
        return db, reason
    cause = failure if failure is not None else refused.cause
    raise StoreError(
        f"Could not open the thread database: {reason}. Thread database: {path}",
        details=f"{type(cause).__name__}: {cause}",
    ) from refused.cause


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _use_wal(db: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL (it sticks to the file), retrying while another opener holds a lock.

    SQLite answers a journal-mode switch that would deadlock with SQLITE_BUSY at once, without
    its busy handler: two processes creating the database together would otherwise fail.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorname", "") == "SQLITE_BUSY"
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _mark_interrupted(db: sqlite3.Connection, mark: ProcessMark, *, alone: bool) -> int:
    """Answers a crash left `streaming` become `interrupted`, their text kept.

    Alone, every streaming answer is an orphan. With other processes about, only those whose
    owner process has died (its ProcessMark free); one saved without an owner is left be.
    """
    # Read first: when nothing was left streaming, opening writes nothing, so reading works
    # even from a read-only file.
    rows = db.execute("SELECT id, owner FROM messages WHERE status = 'streaming'").fetchall()
    orphans = [
        (message_id,)
        for message_id, owner in rows
        if alone or (owner is not None and not mark.is_alive(owner))
    ]
    if not orphans:
        return 0
    db.executemany(
        "UPDATE messages SET status = 'interrupted' WHERE id = ? AND status = 'streaming'",
        orphans,
    )
    return len(orphans)


def _move_aside(path: Path) -> Path:
    """Rename a damaged database (and its -wal/-shm files) to `<name>.corrupt-<timestamp>`."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    try:
        path.rename(target)
        damage_marker(path).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise StoreError(
            f"The thread database {path} is damaged and could not be moved aside: "
            f"{exc.strerror or exc}."
        ) from exc
    return target
