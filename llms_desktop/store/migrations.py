"""Append-only, named schema migrations, recorded in a table and in `PRAGMA user_version`.

Never edit a migration once released: add a new one at the end. `user_version` is the number of
migrations applied, so a database written by a newer llms-desktop is recognised and left alone.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[tuple[str, Migration]] = []


def migration(function: Migration) -> Migration:
    """Register a migration under its function name, in definition order."""
    MIGRATIONS.append((function.__name__, function))
    return function


def _run(db: sqlite3.Connection, *statements: str) -> None:
    # One statement at a time: executescript() would COMMIT the surrounding transaction.
    for statement in statements:
        db.execute(statement)


@migration
def m001_threads_and_messages(db: sqlite3.Connection) -> None:
    statuses = "'streaming', 'complete', 'cancelled', 'error', 'interrupted'"
    _run(
        db,
        """CREATE TABLE threads (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            model TEXT,
            provider TEXT,
            system_prompt TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            pinned INTEGER NOT NULL DEFAULT 0,
            archived INTEGER NOT NULL DEFAULT 0
        )""",
        # The thread list asks for the newest threads first.
        "CREATE INDEX threads_by_updated ON threads (updated_at DESC)",
        # `seq` aliases the rowid so the FTS index's rowids survive VACUUM.
        f"""CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            parent_id TEXT REFERENCES messages (id) ON DELETE SET NULL
                DEFERRABLE INITIALLY DEFERRED,
            position INTEGER NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT,
            tool_calls TEXT,
            status TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ({statuses})),
            error TEXT,
            model TEXT,
            provider TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            tokens_estimated INTEGER NOT NULL DEFAULT 0,
            ttft_ms REAL,
            duration_ms REAL,
            created_at REAL NOT NULL,
            UNIQUE (thread_id, position)
        )""",
        "CREATE INDEX messages_by_parent ON messages (parent_id) WHERE parent_id IS NOT NULL",
        # Start-up looks for rows a crash left streaming; this keeps that lookup tiny.
        "CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming'",
    )


@migration
def m002_message_search(db: sqlite3.Connection) -> None:
    # External-content FTS5 over messages.content. Rows still streaming are left out of the
    # index so a checkpoint costs one row write, not a re-index of the whole answer; a message
    # enters the index once, when it ends (complete, cancelled, error or interrupted).
    _run(
        db,
        """CREATE VIRTUAL TABLE messages_fts USING fts5 (
            content, content = 'messages', content_rowid = 'seq',
            tokenize = 'unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
            WHEN new.status != 'streaming' BEGIN
            INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content);
        END""",
        """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
            WHEN old.status != 'streaming' BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content)
                VALUES ('delete', old.seq, old.content);
        END""",
        # One trigger, two ordered statements: the old text must leave before the new enters.
        """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content, status ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content)
                SELECT 'delete', old.seq, old.content WHERE old.status != 'streaming';
            INSERT INTO messages_fts (rowid, content)
                SELECT new.seq, new.content WHERE new.status != 'streaming';
        END""",
    )


@migration
def m003_message_tree(db: sqlite3.Connection) -> None:
    # Messages become a tree: regenerate and edit add siblings under the same parent. Wave-1
    # threads were linear (parent_id unused), so each message's parent is the one before it.
    # `selected_at` says when a version was last chosen; NULL means when it was created.
    _run(
        db,
        "ALTER TABLE messages ADD COLUMN selected_at REAL",
        """UPDATE messages SET parent_id = (
            SELECT before.id FROM messages AS before
            WHERE before.thread_id = messages.thread_id AND before.position < messages.position
            ORDER BY before.position DESC LIMIT 1
        ) WHERE parent_id IS NULL""",
    )


@migration
def m004_tool_results(db: sqlite3.Connection) -> None:
    # A tool result (role 'tool') answers one call of the assistant message above it: it keeps
    # that call's id, and the tool's name, so a continued thread can send them again.
    _run(
        db,
        "ALTER TABLE messages ADD COLUMN tool_call_id TEXT",
        "ALTER TABLE messages ADD COLUMN name TEXT",
    )


@migration
def m005_message_attachments(db: sqlite3.Connection) -> None:
    # Images and files attached to a message, in the order attached. The bytes live in the
    # data folder's attachments/ under their SHA-256 (shared by every message that has them);
    # `text` is what a file sends (its text, a PDF's extracted text), NULL for images.
    _run(
        db,
        """CREATE TABLE message_attachments (
            message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('image', 'file')),
            name TEXT NOT NULL,
            mime TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            width INTEGER,
            height INTEGER,
            text TEXT,
            PRIMARY KEY (message_id, ordinal)
        )""",
        # Deleting asks whether anything still references a file.
        "CREATE INDEX message_attachments_by_hash ON message_attachments (sha256)",
    )


@migration
def m006_stream_owner(db: sqlite3.Connection) -> None:
    # The process streaming an answer (its ProcessMark token): an answer whose process died
    # is marked interrupted even while other processes keep the database open.
    _run(db, "ALTER TABLE messages ADD COLUMN owner TEXT")


@migration
def m007_finish_reason(db: sqlite3.Connection) -> None:
    # Why the provider ended a complete answer ("stop", "length", "tool_calls"...): an answer
    # cut off at the token limit ("length") can be continued.
    _run(db, "ALTER TABLE messages ADD COLUMN finish_reason TEXT")


class NewerDatabase(Exception):
    """The database was written by a newer version (more migrations than we know)."""

    def __init__(self, version: int, known: int) -> None:
        super().__init__(f"schema version {version}, this version knows up to {known}")
        self.version = version
        self.known = known


def schema_version(db: sqlite3.Connection) -> int:
    """`PRAGMA user_version`: how many migrations the database has."""
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def check_not_newer(db: sqlite3.Connection) -> None:
    """Raise NewerDatabase, before anything is written, if the schema is ahead of us."""
    version = schema_version(db)
    if version > len(MIGRATIONS):
        raise NewerDatabase(version, len(MIGRATIONS))


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations the database lacks, each in its own transaction; returns their names.

    `db` must be in autocommit mode (isolation_level=None).
    """
    check_not_newer(db)
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    unknown = done - {name for name, _ in MIGRATIONS}
    if unknown:
        raise NewerDatabase(len(done), len(MIGRATIONS))
    applied = []
    for number, (name, function) in enumerate(MIGRATIONS, start=1):
        if name in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have applied it while we waited for the write lock.
            if not db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                function(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
                )
                db.execute(f"PRAGMA user_version = {number}")
                applied.append(name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return applied
