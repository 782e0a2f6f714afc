"""The store's side of attachments: rows in message_attachments, bytes in the data folder."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from llms_desktop.errors import StoreError
from llms_desktop.store.blobs import FOLDER, Blobs
from llms_desktop.store.database import Database
from llms_desktop.types import AttachmentInfo, AttachmentKind

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment

log = logging.getLogger(__name__)

ATTACHMENT_COLUMNS = "message_id, ordinal, kind, name, mime, sha256, size, width, height"
Infos = dict[str, tuple[AttachmentInfo, ...]]


class AttachedFiles(Database):
    """Attachment methods of Store (a mixin over the shared connection)."""

    @property
    def blobs(self) -> Blobs:
        """The data folder's attachments/ (next to the database file)."""
        return Blobs(self.path.parent / FOLDER)

    def add_attachments(self, message_id: str, attachments: Sequence[Attachment]) -> None:
        """Attach files to a stored message, after any it has: the bytes written under their
        hash (once), a row each. A rollback removes the files this transaction created."""
        if not attachments:
            return
        blobs = self.blobs
        with self.transaction("save the attachments") as db:
            (start,) = db.execute(
                "SELECT coalesce(max(ordinal), -1) + 1 FROM message_attachments "
                "WHERE message_id = ?",
                (message_id,),
            ).fetchone()
            for offset, attachment in enumerate(attachments):
                try:
                    created = (
                        None  # its bytes are gone: the row keeps its place and name
                        if attachment.missing
                        else blobs.write(attachment.sha256, attachment.mime, attachment.data)
                    )
                except OSError as exc:
                    raise StoreError(
                        f"Could not save the attachment {attachment.name} in {blobs.folder}: "
                        f"{exc.strerror or exc}."
                    ) from exc
                if created is not None:
                    self.on_rollback(created.unlink)
                db.execute(
                    f"INSERT INTO message_attachments ({ATTACHMENT_COLUMNS}, text) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        message_id,
                        start + offset,
                        attachment.kind,
                        attachment.name,
                        attachment.mime,
                        attachment.sha256,
                        attachment.size,
                        attachment.width,
                        attachment.height,
                        attachment.text,
                    ),
                )

    def attachment_infos(self, db: sqlite3.Connection, where: str, value: str) -> Infos:
        """Each message's attachments (no bytes), for messages matching `where` (an SQL
        condition on `m`, the messages table, with one parameter)."""
        rows = db.execute(
            f"SELECT {', '.join('a.' + c.strip() for c in ATTACHMENT_COLUMNS.split(','))} "
            "FROM message_attachments AS a JOIN messages AS m ON m.id = a.message_id "
            f"WHERE {where} ORDER BY a.message_id, a.ordinal",
            (value,),
        ).fetchall()
        out: dict[str, list[AttachmentInfo]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(_info(row))
        return {message_id: tuple(infos) for message_id, infos in out.items()}

    def load_attachments(self, message_id: str) -> list[Attachment]:
        """A message's attachments with their bytes and text, as they are sent again (a file
        gone from the data folder comes back `missing`)."""
        from llms_desktop.attachments.model import Attachment

        with self._read("read the attachments") as db:
            rows = db.execute(
                f"SELECT {ATTACHMENT_COLUMNS}, text FROM message_attachments "
                "WHERE message_id = ? ORDER BY ordinal",
                (message_id,),
            ).fetchall()
        out = []
        for row in rows:
            info = _info(row)
            data = self.attachment_data(info)
            out.append(
                Attachment(
                    kind=info.kind,
                    name=info.name,
                    mime=info.mime,
                    data=data or b"",
                    text=row[9],
                    width=info.width,
                    height=info.height,
                    missing=data is None,
                    sha256=info.sha256,
                )
            )
        return out

    def attachment_data(self, info: AttachmentInfo) -> bytes | None:
        """The stored bytes of an attachment, or None when its file is gone."""
        try:
            return self.blobs.read(info.sha256, info.mime)
        except (OSError, ValueError):
            return None

    def attachment_path(self, info: AttachmentInfo) -> Path | None:
        """Where an attachment's bytes are, or None when its file is gone."""
        try:
            return self.blobs.find(info.sha256, info.mime)
        except ValueError:
            return None

    def _hashes_of(self, db: sqlite3.Connection, where: str, value: str) -> set[str]:
        rows = db.execute(
            "SELECT DISTINCT a.sha256 FROM message_attachments AS a "
            f"JOIN messages AS m ON m.id = a.message_id WHERE {where}",
            (value,),
        ).fetchall()
        return {row[0] for row in rows}

    def forget_after_commit(self, hashes: Iterable[str]) -> None:
        """Once this transaction commits, remove the files of `hashes` nothing references."""
        wanted = set(hashes)
        if wanted:

            def collect() -> None:
                self.remove_unreferenced(wanted)

            self.after_commit(collect)

    def remove_unreferenced(self, hashes: Iterable[str]) -> int:
        """Delete the files of those `hashes` no message references any more; how many.

        Done holding the write lock, so no writer can be adding a reference meanwhile. A
        failure leaves the files (unused, harmless) and is logged, never raised: what the
        user asked for (a deletion) has happened.
        """
        removed = 0
        try:
            with self.transaction("remove unused attachments") as db:
                for sha256 in sorted(set(hashes)):
                    used = db.execute(
                        "SELECT 1 FROM message_attachments WHERE sha256 = ? LIMIT 1", (sha256,)
                    ).fetchone()
                    if used is None:
                        removed += self.blobs.remove(sha256)
        except StoreError as exc:
            log.warning("unused attachments were left in place: %s", exc)
        return removed


def _info(row: Sequence[Any]) -> AttachmentInfo:
    return AttachmentInfo(
        sha256=row[5],
        kind=cast(AttachmentKind, row[2]),
        name=row[3],
        mime=row[4],
        size=row[6],
        width=row[7],
        height=row[8],
    )
