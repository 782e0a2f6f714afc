"""Files sent as text: text and code files as they are, PDFs as the text pypdf extracts."""

from __future__ import annotations

import io
import logging
import warnings

from llms_desktop.attachments.model import (
    MAX_PDF_FILE_BYTES,
    MAX_TEXT_CHARS,
    MAX_TEXT_FILE_BYTES,
    PDF_MIME,
    TEXT_MIME,
    Attachment,
    human_size,
)
from llms_desktop.errors import AttachmentError

WHAT_WE_TAKE = "images (PNG, JPEG, WebP, GIF), PDF and text files"
# Control bytes that text files do contain (tab, newlines, form feed, escape for ANSI colours).
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")


def is_pdf(data: bytes) -> bool:
    # The header may follow some junk (the PDF spec lets readers look in the first 1024 bytes).
    return b"%PDF-" in data[:1024]


def text_file(name: str, data: bytes) -> Attachment:
    """A text or code file, sent as its text; raises AttachmentError for anything else."""
    if len(data) > MAX_TEXT_FILE_BYTES:
        raise AttachmentError(
            f"{name} is {human_size(len(data))}; text files up to "
            f"{human_size(MAX_TEXT_FILE_BYTES)} can be attached."
        )
    text = decode_text(data)
    if text is None:
        raise AttachmentError(f"{name} cannot be attached: only {WHAT_WE_TAKE} can.")
    _check_length(name, text)
    return Attachment("file", name, TEXT_MIME, data, text=text)


def decode_text(data: bytes) -> str | None:
    """The text of `data` (UTF-8, UTF-16 with a byte order mark, else Windows-1252), or None
    when it looks binary."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    head = data[:65536]
    if b"\x00" in head:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if any(byte < 0x20 and byte not in _TEXT_CONTROLS for byte in head):
        return None
    return data.decode("cp1252", errors="replace")


def pdf_file(name: str, data: bytes) -> Attachment:
    """A PDF, sent as the text of its pages; raises AttachmentError when it has none to give
    (scanned pages), is encrypted, or is not a readable PDF."""
    if len(data) > MAX_PDF_FILE_BYTES:
        raise AttachmentError(
            f"{name} is {human_size(len(data))}; PDFs up to {human_size(MAX_PDF_FILE_BYTES)} "
            "can be attached."
        )
    text = pdf_text(name, data)
    _check_length(name, text)
    return Attachment("file", name, PDF_MIME, data, text=text)


def pdf_text(name: str, data: bytes) -> str:
    """The text of every page, pages separated by a blank line."""
    import pypdf  # ~0.2 s the first time: only when a PDF is attached
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    # pypdf reports recoverable damage through `logging` and `warnings`; the text is what
    # matters here, so neither may reach the user's terminal (or fail a test).
    logger = logging.getLogger("pypdf")
    quiet, logger.disabled = logger.disabled, True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise _encrypted(name)
            pages = [page.extract_text() or "" for page in reader.pages]
    except AttachmentError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        raise _encrypted(name) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise AttachmentError(f"{name} could not be read as a PDF ({exc}).") from exc
    finally:
        logger.disabled = quiet
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise AttachmentError(
            f"{name} has no text to extract (its pages may be scanned images): take "
            "screenshots of the pages and attach those instead."
        )
    return text


def _encrypted(name: str) -> AttachmentError:
    return AttachmentError(
        f"{name} is encrypted (password-protected), so its text cannot be read: save a copy "
        "without the password and attach that."
    )


def _check_length(name: str, text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise AttachmentError(
            f"{name} holds {len(text):,} characters of text; at most {MAX_TEXT_CHARS:,} can be "
            "attached (no model reads that much at once)."
        )
