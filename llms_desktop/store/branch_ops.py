"""The store's view of a thread as a tree: the active path, versions, deleting and orphans."""

from __future__ import annotations

import time

from llms_desktop.branches import MessageTree
from llms_desktop.store.attached import AttachedFiles
from llms_desktop.store.failures import RecordNotFound
from llms_desktop.store.rows import MESSAGE_COLUMNS, message_from_row
from llms_desktop.types import Message


class Branches(AttachedFiles):
    """Reading and changing a thread's message tree (see llms_desktop/branches.py)."""

    def messages(self, thread_id: str) -> list[Message]:
        """The thread's active path: the conversation as shown, root first."""
        return self.tree(thread_id).active_path()

    def all_messages(self, thread_id: str) -> list[Message]:
        """Every message of the thread, every branch, in the order they were added."""
        with self._read("read the thread's messages") as db:
            rows = db.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? ORDER BY position",
                (thread_id,),
            ).fetchall()
            attached = self.attachment_infos(db, "m.thread_id = ?", thread_id)
        return [message_from_row(row, attached.get(row[0], ())) for row in rows]

    def tree(self, thread_id: str) -> MessageTree:
        """Every message of the thread as a tree (branches, versions, the active path)."""
        return MessageTree(self.all_messages(thread_id))

    def select_message(self, message_id: str) -> None:
        """Make the path from the root to this message the active one (switch versions)."""
        now = time.time()
        with self.transaction("switch the version") as db:
            found = db.execute(
                "WITH RECURSIVE up(id, parent_id) AS ("
                "  SELECT id, parent_id FROM messages WHERE id = ?"
                "  UNION SELECT m.id, m.parent_id FROM messages AS m JOIN up ON m.id = up.parent_id"
                ") UPDATE messages SET selected_at = ? WHERE id IN (SELECT id FROM up)",
                (message_id, now),
            ).rowcount
            if not found:
                raise RecordNotFound(f"No message has the id {message_id!r}.")

    def interrupt_orphans(self, thread_id: str) -> int:
        """Mark interrupted the thread's answers left streaming by a process that has died
        (while this one ran); how many. Their text is kept."""
        if self.mark is None:
            return 0
        with self.transaction("mark interrupted answers") as db:
            rows = db.execute(
                "SELECT id, owner FROM messages WHERE thread_id = ? AND status = 'streaming' "
                "AND owner IS NOT NULL",
                (thread_id,),
            ).fetchall()
            dead = [(mid,) for mid, owner in rows if not self.mark.is_alive(owner)]
            db.executemany(
                "UPDATE messages SET status = 'interrupted' WHERE id = ? AND status = 'streaming'",
                dead,
            )
        return len(dead)

    def delete_message(self, message_id: str) -> int:
        """Delete a message; returns how many messages went (0 when it was already gone).

        A message that is one of several versions goes with the conversation that follows it
        (that branch). A message without other versions goes alone, its replies moving up to
        its parent so the rest of the conversation stays. Attachment files no other message
        has go too.
        """
        with self.transaction("delete the message") as db:
            row = db.execute(
                "SELECT thread_id, parent_id FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
            if row is None:
                return 0
            thread_id, parent_id = row
            (versions,) = db.execute(
                "SELECT count(*) FROM messages WHERE thread_id = ? AND parent_id IS ?",
                (thread_id, parent_id),
            ).fetchone()
            if versions > 1:
                branch = [
                    row[0]
                    for row in db.execute(
                        "WITH RECURSIVE branch(id) AS (SELECT ? UNION ALL SELECT m.id "
                        "FROM messages AS m JOIN branch ON m.parent_id = branch.id) "
                        "SELECT id FROM branch",
                        (message_id,),
                    )
                ]
                for gone in branch:
                    self.forget_after_commit(self._hashes_of(db, "m.id = ?", gone))
                db.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in branch])
                return len(branch)
            self.forget_after_commit(self._hashes_of(db, "m.id = ?", message_id))
            db.execute(
                "UPDATE messages SET parent_id = ? WHERE parent_id = ?", (parent_id, message_id)
            )
            return db.execute("DELETE FROM messages WHERE id = ?", (message_id,)).rowcount
