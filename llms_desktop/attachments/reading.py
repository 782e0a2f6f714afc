"""Turn a file path, or bytes pasted or dropped, into an Attachment (may be slow: run it off
the event loop)."""

from __future__ import annotations

from pathlib import Path

from llms_desktop.attachments.documents import is_pdf, pdf_file, text_file
from llms_desktop.attachments.images import CONVERTED, SENDABLE, prepare_image, sniff
from llms_desktop.attachments.model import (
    MAX_IMAGE_FILE_BYTES,
    MAX_PDF_FILE_BYTES,
    Attachment,
    human_size,
)
from llms_desktop.errors import AttachmentError

_LARGEST = max(MAX_IMAGE_FILE_BYTES, MAX_PDF_FILE_BYTES)


def read_path(path: Path | str) -> Attachment:
    """Read and prepare one file; raises AttachmentError saying what is wrong with it."""
    path = Path(path)
    name = path.name or str(path)
    try:
        if path.is_dir():
            raise AttachmentError(f"{name} is a folder; attach the files in it one by one.")
        size = path.stat().st_size
        if size > _LARGEST:
            # Refused before reading: no point loading 2 GB to say it is too big.
            raise AttachmentError(
                f"{name} is {human_size(size)}; attachments up to {human_size(_LARGEST)} can "
                "be read."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise AttachmentError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return from_bytes(name, data)


def from_bytes(name: str, data: bytes) -> Attachment:
    """An attachment from bytes (a pasted image, a dropped file), typed by its content, not by
    its name: images, PDF, else text."""
    if not data:
        raise AttachmentError(f"{name} is empty.")
    mime = sniff(data)
    if mime in SENDABLE or mime in CONVERTED:
        return prepare_image(name, data)
    if is_pdf(data):
        return pdf_file(name, data)
    return text_file(name, data)
