"""Attachments as OpenAI content parts, and back: what the model is sent, what the server saves."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llms_desktop.attachments.documents import decode_text, is_pdf, pdf_text
from llms_desktop.attachments.images import SUFFIXES, dimensions, sniff
from llms_desktop.attachments.model import PDF_MIME, TEXT_MIME, Attachment
from llms_desktop.errors import AttachmentError
from llms_desktop.types import ChatMessage, Content

_DATA_URL = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*?),(.*)$", re.DOTALL)
# A rough prompt-token cost of one image (OpenAI bills a 1024×1024 "high" image 765 tokens;
# Anthropic about width×height/750, ~1,600 at 1092×1092).
IMAGE_TOKENS = 1000


def data_url(mime: str, data: bytes) -> str:
    """`data:image/png;base64,...`."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def file_text(attachment: Attachment) -> str:
    """How a file reaches the model: its name, then its text, in tags models know to read."""
    if attachment.missing:
        return f"[The attached file {attachment.name} is missing from this computer's data folder.]"
    if attachment.text is None:
        return f"[Attached file {attachment.name} ({attachment.mime}): its text could not be read.]"
    return f'<file name="{attachment.name}">\n{attachment.text}\n</file>'


def image_part(attachment: Attachment) -> dict[str, Any]:
    if attachment.missing:
        text = (
            f"[The attached image {attachment.name} is missing from this computer's data folder.]"
        )
        return {"type": "text", "text": text}
    return {"type": "image_url", "image_url": {"url": data_url(attachment.mime, attachment.data)}}


def content(text: str, attachments: Sequence[Attachment]) -> Content:
    """A user message's content: the text alone when nothing is attached, else a list of parts:
    each file as a text part and each image as an `image_url` part (in the order attached),
    then the typed text."""
    if not attachments:
        return text
    parts: list[dict[str, Any]] = []
    for attachment in attachments:
        if attachment.kind == "image":
            parts.append(image_part(attachment))
        else:
            parts.append({"type": "text", "text": file_text(attachment)})
    if text:
        parts.append({"type": "text", "text": text})
    return parts


def has_images(messages: Sequence[ChatMessage]) -> bool:
    """Whether any message carries an image part."""
    return any(
        isinstance(m.content, list)
        and any(isinstance(p, Mapping) and p.get("type") == "image_url" for p in m.content)
        for m in messages
    )


def text_for_estimate(messages: Sequence[ChatMessage]) -> tuple[str, int]:
    """The text of `messages` for a token estimate, and how many images they carry (a base64
    image is not thousands of tokens of text)."""
    texts: list[str] = []
    images = 0
    for message in messages:
        if isinstance(message.content, str):
            texts.append(message.content)
        elif isinstance(message.content, list):
            for part in message.content:
                if part.get("type") == "text":
                    texts.append(str(part.get("text", "")))
                elif part.get("type") == "image_url":
                    images += 1
    return "".join(texts), images


@dataclass
class Unpacked:
    """A message's content parts taken apart: the text to keep, what can be stored as
    attachments, and notes for parts that cannot (a remote image URL, audio)."""

    text: str
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def stored_text(self) -> str:
        """The text with the notes after it, so nothing the client sent goes unmentioned."""
        return "\n\n".join(part for part in (self.text, *self.notes) if part)


def unpack(content: Any) -> Unpacked:
    """Split a client's message content into text and attachments (for `serve --store`).

    Nothing is converted or downscaled: what is stored is what the client sent. A part we
    cannot read becomes a note in the text.
    """
    if isinstance(content, str):
        return Unpacked(content)
    if not isinstance(content, list):
        return Unpacked("")
    out = Unpacked("")
    texts: list[str] = []
    for index, part in enumerate(content):
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "image_url":
            _unpack_image(part.get("image_url"), index, out)
        elif kind == "file":
            _unpack_file(part.get("file"), index, out)
        else:
            out.notes.append(f"[{kind or 'unknown'} part not saved]")
    out.text = "".join(texts)
    return out


def _unpack_image(value: Any, index: int, out: Unpacked) -> None:
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str):
        out.notes.append("[image: no URL]")
        return
    decoded = decode_data_url(url)
    if decoded is None:
        shown = url if len(url) <= 200 else url[:200] + "…"
        out.notes.append(f"[image: {shown}]")
        return
    declared, data = decoded
    mime = sniff(data) or declared or "application/octet-stream"
    if not mime.startswith("image/"):
        out.notes.append(f"[image part {index + 1}: not an image ({mime})]")
        return
    size = dimensions(data, mime)
    name = f"image-{index + 1}{SUFFIXES.get(mime, '')}"
    out.attachments.append(
        Attachment(
            "image",
            name,
            mime,
            data,
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
    )


def _unpack_file(value: Any, index: int, out: Unpacked) -> None:
    if not isinstance(value, Mapping):
        out.notes.append("[file: unreadable part]")
        return
    name = str(value.get("filename") or f"file-{index + 1}")
    url = value.get("file_data")
    decoded = decode_data_url(url) if isinstance(url, str) else None
    if decoded is None:
        file_id = value.get("file_id")
        out.notes.append(f"[file: {name}{f' ({file_id})' if file_id else ''}]")
        return
    declared, data = decoded
    text: str | None
    if is_pdf(data):
        mime = PDF_MIME
        try:
            text = pdf_text(name, data)
        except AttachmentError:
            text = None
    else:
        text = decode_text(data)
        mime = TEXT_MIME if text is not None else (declared or "application/octet-stream")
    out.attachments.append(Attachment("file", name, mime, data, text=text))


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """The media type and bytes of a base64 `data:` URL, or None for any other URL."""
    match = _DATA_URL.match(url[:512]) if url.startswith("data:") else None
    if match is None or ";base64" not in match.group(2):
        return None
    payload = url[url.index(",") + 1 :]
    try:
        data = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        return None
    return match.group(1).strip().lower(), data
