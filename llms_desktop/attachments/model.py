"""An attachment ready to send and store, and the limits every attachment keeps to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from llms_desktop.types import AttachmentInfo, AttachmentKind

# Images whose longest side is above this are downscaled to it: 1568 px is what Anthropic's
# API resizes to anyway and above OpenAI's 768 px short side at "high" detail, so nothing a
# vision model would see is lost, and requests stay small.
MAX_IMAGE_SIDE = 1568
# An image as sent (after downscaling) may not be bigger than this (Anthropic's per-image limit).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# What we agree to open at all: bigger files are refused before they are read.
MAX_IMAGE_FILE_BYTES = 50 * 1024 * 1024
# Decoding more pixels than this would take hundreds of MB (a "decompression bomb").
MAX_IMAGE_PIXELS = 50_000_000
MAX_PDF_FILE_BYTES = 50 * 1024 * 1024
# A text file, or a PDF's extracted text, longer than this is refused (~250k tokens: more than
# any context window holds).
MAX_TEXT_CHARS = 1_000_000
MAX_TEXT_FILE_BYTES = 4 * 1024 * 1024
# Per message.
MAX_ATTACHMENTS = 20
MAX_TOTAL_BYTES = 32 * 1024 * 1024

TEXT_MIME = "text/plain"
PDF_MIME = "application/pdf"


@dataclass(frozen=True, slots=True)
class Attachment:
    """An image or file with its bytes: `data` is what is stored (for an image, also what is
    sent); `text` is what a file sends (its text, or a PDF's extracted text)."""

    kind: AttachmentKind
    name: str
    mime: str
    data: bytes
    text: str | None = None
    width: int | None = None
    height: int | None = None
    # What was done to it on the way in ("downscaled from 4032×3024"), for the user.
    note: str | None = None
    # Stored once, its bytes gone from the data folder: sent as a note saying so.
    missing: bool = False
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    def info(self) -> AttachmentInfo:
        """What a stored message keeps of it (the bytes go to the data folder)."""
        return AttachmentInfo(
            sha256=self.sha256,
            kind=self.kind,
            name=self.name,
            mime=self.mime,
            size=self.size,
            width=self.width,
            height=self.height,
        )


def human_size(size: int) -> str:
    """ "512 B", "34 KB", "2.5 MB"."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def check_message(attachments: list[Attachment] | tuple[Attachment, ...]) -> None:
    """Refuse a message with too many attachments or too many bytes (AttachmentError)."""
    from llms_desktop.errors import AttachmentError

    if len(attachments) > MAX_ATTACHMENTS:
        raise AttachmentError(
            f"A message can carry at most {MAX_ATTACHMENTS} attachments; this one has "
            f"{len(attachments)}."
        )
    total = sum(a.size if a.kind == "image" else len((a.text or "").encode()) for a in attachments)
    if total > MAX_TOTAL_BYTES:
        raise AttachmentError(
            f"The attachments add up to {human_size(total)}, more than the "
            f"{human_size(MAX_TOTAL_BYTES)} one message can send; send some in another message."
        )
