"""The thread database: one SQLite file (WAL), threads and their messages, full-text search."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llms_desktop.errors import StoreError
from llms_desktop.store.branch_ops import Branches
from llms_desktop.store.database import DEFAULT_BUSY_TIMEOUT
from llms_desktop.store.failures import RecordNotFound, damage_marker
from llms_desktop.store.liveness import ProcessMark
from llms_desktop.store.opening import open_connection
from llms_desktop.store.rows import (
    MESSAGE_COLUMNS,
    MESSAGE_PLACEHOLDERS,
    THREAD_COLUMNS,
    dump_json,
    message_from_row,
    message_values,
    thread_from_row,
    thread_values,
    tool_calls_json,
)
from llms_desktop.store.search import ELLIPSIS, SNIPPET_TOKENS, SearchHit, fts_query
from llms_desktop.types import Message, MessageStatus, Role, Thread

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment


def new_id() -> str:
    """A fresh random id for a thread or message."""
    return uuid.uuid4().hex


class _ActiveLeaf:
    """The default parent of a new message: the last message of the thread's active path."""

    def __repr__(self) -> str:
        return "ACTIVE_LEAF"


ACTIVE_LEAF: Any = _ActiveLeaf()


class Store(Branches):
    """Threads and messages in SQLite, attachments' bytes in the data folder. Every method
    raises StoreError (never sqlite3 errors).

    Calls are serialised by a lock, so the store may be shared between threads. Use
    `Store.open()`; `recovered_from` says where a damaged file was moved, and
    `interrupted_on_open` how many answers a crash had left streaming.
    """

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Store:
        """Open (creating if needed) the database in `data_dir` and bring its schema up to date.

        A damaged file is moved aside with a timestamp and a fresh database is created
        (`recovered_from` names the old file; see opening.open_connection for when damage is
        detected). A database from a newer version raises StoreError and is left untouched.
        Messages a crash left `streaming` become `interrupted`, their text kept.
        """
        opened = open_connection(Path(data_dir), busy_timeout)
        store = cls(
            opened.connection,
            opened.path,
            busy_timeout=busy_timeout,
            recovered_from=opened.recovered_from,
            users=opened.users,
            read_only=opened.read_only,
        )
        store.interrupted_on_open = opened.interrupted
        if opened.read_only is None:
            store.mark = ProcessMark.of(opened.path)
        return store

    def check_integrity(self) -> None:
        """Run `PRAGMA integrity_check` (slow on a big file); raises StoreError if damaged.

        A damaged file is then set aside by the next `Store.open()`.
        """
        with self._read("check the thread database") as db:
            (result,) = db.execute("PRAGMA integrity_check(1)").fetchone()
        if result != "ok":
            damage_marker(self.path).touch()
            raise StoreError(
                f"The thread database {self.path} is damaged ({result}); it will be set aside "
                "at the next start."
            )

    # -- threads -------------------------------------------------------------------------------

    def create_thread(
        self,
        title: str = "",
        *,
        model: str | None = None,
        provider: str | None = None,
        system_prompt: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Thread:
        """A new, empty thread."""
        now = time.time()
        thread = Thread(
            id=new_id(),
            title=title,
            created_at=now,
            updated_at=now,
            model=model,
            provider=provider,
            system_prompt=system_prompt,
            params=dict(params or {}),
        )
        self.insert_thread(thread)
        return thread

    def insert_thread(self, thread: Thread) -> None:
        """Insert a thread exactly as given (ids and times kept), e.g. when importing."""
        with self.transaction("save the thread") as db:
            db.execute(
                f"INSERT INTO threads ({THREAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                thread_values(thread),
            )

    def get_thread(self, thread_id: str) -> Thread | None:
        """The thread with this id, or None."""
        with self._read("read the thread") as db:
            row = db.execute(
                f"SELECT {THREAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
        return thread_from_row(row) if row else None

    def thread_exists(self, thread_id: str) -> bool:
        with self._read("read the thread") as db:
            return (
                db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone()
                is not None
            )

    def resolve_thread_id(self, text: str) -> str:
        """The full id of the one thread whose id is `text` or starts with it (like git)."""
        text = text.strip()
        if not text:
            raise RecordNotFound("No thread id given.")
        with self._read("look up the thread") as db:
            rows = db.execute(
                "SELECT id FROM threads WHERE id >= ? AND id < ? ORDER BY id LIMIT 3",
                (text, text + "\U0010ffff"),
            ).fetchall()
        ids = [row[0] for row in rows]
        if text in ids:
            return text
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise RecordNotFound(f"No thread has the id {text!r}.")
        raise RecordNotFound(f"The id {text!r} is ambiguous: give more characters.")

    def _update_thread(self, thread_id: str, doing: str, sql: str, values: Sequence[Any]) -> None:
        with self.transaction(doing) as db:
            if db.execute(sql, (*values, thread_id)).rowcount == 0:
                raise RecordNotFound(f"No thread has the id {thread_id!r}.")

    def rename_thread(self, thread_id: str, title: str) -> None:
        self._update_thread(
            thread_id, "rename the thread", "UPDATE threads SET title = ? WHERE id = ?", (title,)
        )

    def set_pinned(self, thread_id: str, pinned: bool) -> None:
        self._update_thread(
            thread_id,
            "pin the thread",
            "UPDATE threads SET pinned = ? WHERE id = ?",
            (int(pinned),),
        )

    def set_archived(self, thread_id: str, archived: bool) -> None:
        self._update_thread(
            thread_id,
            "archive the thread",
            "UPDATE threads SET archived = ? WHERE id = ?",
            (int(archived),),
        )

    def update_thread_settings(
        self,
        thread_id: str,
        *,
        model: str | None,
        provider: str | None,
        system_prompt: str | None,
        params: Mapping[str, Any],
    ) -> None:
        """Set the model, provider, system prompt and parameters a thread continues with."""
        self._update_thread(
            thread_id,
            "save the thread's settings",
            "UPDATE threads SET model = ?, provider = ?, system_prompt = ?, params = ? "
            "WHERE id = ?",
            (model, provider, system_prompt, dump_json(dict(params))),
        )

    def delete_thread(self, thread_id: str) -> None:
        """Delete a thread and its messages (and the attachment files no other message has);
        deleting a missing thread does nothing."""
        with self.transaction("delete the thread") as db:
            self.forget_after_commit(self._hashes_of(db, "m.thread_id = ?", thread_id))
            db.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    def list_threads(
        self, limit: int = 100, offset: int = 0, *, pinned: bool | None = None
    ) -> list[Thread]:
        """Threads, most recently updated first, one page at a time; only pinned (or only
        unpinned) ones when `pinned` is given."""
        where = "" if pinned is None else f"WHERE pinned = {int(pinned)} "
        with self._read("list threads") as db:
            rows = db.execute(
                f"SELECT {THREAD_COLUMNS} FROM threads {where}ORDER BY updated_at DESC, id "
                "LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [thread_from_row(row) for row in rows]

    def count_messages(self, thread_id: str) -> int:
        with self._read("count messages") as db:
            (count,) = db.execute(
                "SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,)
            ).fetchone()
        return int(count)

    # -- messages ------------------------------------------------------------------------------

    def get_message(self, message_id: str) -> Message | None:
        with self._read("read the message") as db:
            row = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            attached = self.attachment_infos(db, "m.id = ?", message_id) if row else {}
        return message_from_row(row, attached.get(message_id, ())) if row else None

    def add_message(
        self,
        thread_id: str,
        role: Role,
        content: str,
        *,
        status: MessageStatus = "complete",
        model: str | None = None,
        provider: str | None = None,
        reasoning: str | None = None,
        tool_calls: Sequence[Mapping[str, Any]] = (),
        error: str | None = None,
        parent_id: str | None = ACTIVE_LEAF,
        tool_call_id: str | None = None,
        name: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> Message:
        """Add a message under `parent_id` (default: after the active path's last message; None:
        a new root), with its attachments, and mark the thread updated. The new message becomes
        the chosen version."""
        now = time.time()
        with self.transaction("save the message") as db:
            if parent_id is ACTIVE_LEAF:
                parent_id = self.tree(thread_id).leaf_under(None)
            (position,) = db.execute(
                "SELECT coalesce(max(position), -1) + 1 FROM messages WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
            message = Message(
                id=new_id(),
                thread_id=thread_id,
                role=role,
                content=content,
                status=status,
                position=position,
                parent_id=parent_id,
                reasoning=reasoning,
                tool_calls=tuple(tool_calls),
                error=error,
                model=model,
                provider=provider,
                created_at=now,
                selected_at=now,
                tool_call_id=tool_call_id,
                name=name,
                attachments=tuple(attachment.info() for attachment in attachments),
            )
            self.insert_message(message)
            self.add_attachments(message.id, attachments)
            if status == "streaming" and self.mark is not None:
                # Whose it is: another process can tell when this one has died.
                db.execute(
                    "UPDATE messages SET owner = ? WHERE id = ?", (self.mark.token, message.id)
                )
            db.execute("UPDATE threads SET updated_at = ? WHERE id = ?", (now, thread_id))
        return message

    def insert_message(self, message: Message) -> None:
        """Insert a message exactly as given (id, position, times kept), e.g. when importing."""
        with self.transaction("save the message") as db:
            try:
                db.execute(
                    f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({MESSAGE_PLACEHOLDERS})",
                    message_values(message),
                )
            except sqlite3.IntegrityError as exc:
                if "FOREIGN KEY" in str(exc) and not self.thread_exists(message.thread_id):
                    raise RecordNotFound(f"No thread has the id {message.thread_id!r}.") from exc
                raise

    def update_message_content(
        self,
        message_id: str,
        content: str,
        *,
        reasoning: str | None = None,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Save a streaming answer's text so far (None leaves reasoning or tool calls as they are).

        `timeout` caps the wait for a lock held elsewhere: a checkpoint would rather fail fast
        and be retried than stall the stream.
        """
        with self._lock, self._busy_timeout(timeout), self.transaction("save the answer") as db:
            cursor = db.execute(
                "UPDATE messages SET content = ?, reasoning = coalesce(?, reasoning), "
                "tool_calls = CASE WHEN ? THEN ? ELSE tool_calls END WHERE id = ?",
                (
                    content,
                    reasoning,
                    tool_calls is not None,
                    tool_calls_json(tool_calls),
                    message_id,
                ),
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No message has the id {message_id!r}.")

    def set_message_usage(
        self,
        message_id: str,
        *,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        estimated: bool,
        ttft_ms: float | None,
        duration_ms: float | None,
    ) -> None:
        """Record token counts (`estimated` when we counted them) and timings in milliseconds."""
        with self.transaction("save the usage") as db:
            cursor = db.execute(
                "UPDATE messages SET prompt_tokens = ?, completion_tokens = ?, "
                "tokens_estimated = ?, ttft_ms = ?, duration_ms = ? WHERE id = ?",
                (
                    prompt_tokens,
                    completion_tokens,
                    int(estimated),
                    ttft_ms,
                    duration_ms,
                    message_id,
                ),
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No message has the id {message_id!r}.")

    def finish_message(
        self,
        message_id: str,
        status: MessageStatus,
        *,
        content: str,
        reasoning: str | None = None,
        tool_calls: Sequence[Mapping[str, Any]] | None = None,
        error: str | None = None,
        usage: Mapping[str, Any] | None = None,
        finish_reason: str | None = None,
    ) -> Message:
        """Write an answer's final text and status in one transaction; returns the stored row.

        `usage` may carry the keyword arguments of set_message_usage, saved in the same
        transaction. The thread is marked updated.
        """
        with self.transaction("save the answer") as db:
            self.update_message_content(
                message_id, content, reasoning=reasoning, tool_calls=tool_calls
            )
            db.execute(
                "UPDATE messages SET status = ?, error = ?, finish_reason = ? WHERE id = ?",
                (status, error, finish_reason, message_id),
            )
            if usage is not None:
                self.set_message_usage(message_id, **usage)
            db.execute(
                "UPDATE threads SET updated_at = ? "
                "WHERE id = (SELECT thread_id FROM messages WHERE id = ?)",
                (time.time(), message_id),
            )
        message = self.get_message(message_id)
        if message is None:  # deleted by another connection in between
            raise RecordNotFound(f"No message has the id {message_id!r}.")
        return message

    def reopen_message(self, message_id: str) -> Message:
        """Mark a stopped answer `streaming` again so it can be continued (text kept)."""
        with self.transaction("continue the answer") as db:
            cursor = db.execute(
                "UPDATE messages SET status = 'streaming', error = NULL, finish_reason = NULL, "
                "owner = ? WHERE id = ?",
                (self.mark.token if self.mark is not None else None, message_id),
            )
            if cursor.rowcount == 0:
                raise RecordNotFound(f"No message has the id {message_id!r}.")
        message = self.get_message(message_id)
        if message is None:  # deleted by another connection in between
            raise RecordNotFound(f"No message has the id {message_id!r}.")
        return message

    # -- search --------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Messages matching every word of `query` (see search.fts_query), newest first.

        Answers still streaming are not indexed yet; they are found once they end.
        """
        expression = fts_query(query)
        if expression is None:
            return []
        with self._read("search") as db:
            rows = db.execute(
                "SELECT m.thread_id, t.title, m.id, m.role, "
                "snippet(messages_fts, 0, char(2), char(3), ?, ?) "
                "FROM messages_fts "
                "JOIN messages AS m ON m.seq = messages_fts.rowid "
                "JOIN threads AS t ON t.id = m.thread_id "
                # Newest first: FTS5 walks the index in rowid order and stops at the limit,
                # where ranking by relevance must score every match (~200 ms for a common
                # word in 100,000 messages).
                "WHERE messages_fts MATCH ? ORDER BY messages_fts.rowid DESC LIMIT ?",
                (ELLIPSIS, SNIPPET_TOKENS, expression, limit),
            ).fetchall()
        return [SearchHit(*row) for row in rows]
