"""HTML for a message's attachments in the chat: image thumbnails and file links, served from the
data folder through our own URL scheme (nothing remote is ever loaded)."""

from __future__ import annotations

import html
from collections.abc import Iterable

from PySide6.QtCore import QUrl

from llms_desktop.attachments.model import human_size
from llms_desktop.types import AttachmentInfo
from llms_desktop.ui.theme import ChatColors

# <img src="llms-attachment:SHA256?type=MIME">: ChatView.loadResource reads it from the store.
ATTACHMENT_SCHEME = "llms-attachment"
# <a href="open-attachment:SHA256?type=MIME">: opens the stored file in the system's viewer.
OPEN_LINK = "open-attachment:"
# A thumbnail's box in the chat, px (the image is scaled into it, never up).
THUMB_WIDTH, THUMB_HEIGHT = 240, 180


def image_url(info: AttachmentInfo) -> str:
    return f"{ATTACHMENT_SCHEME}:{info.sha256}?type={info.mime}"


def parse(url: QUrl) -> tuple[str, str]:
    """The hash and media type in one of our attachment URLs."""
    query = url.query()
    mime = query.removeprefix("type=") if query.startswith("type=") else ""
    return url.path(), mime


def thumbnail_size(info: AttachmentInfo) -> tuple[int, int]:
    """The size an image is shown at: its own, scaled down into the thumbnail box."""
    if not info.width or not info.height:
        return THUMB_WIDTH, THUMB_HEIGHT
    scale = min(1.0, THUMB_WIDTH / info.width, THUMB_HEIGHT / info.height)
    return max(1, round(info.width * scale)), max(1, round(info.height * scale))


def attachments(colors: ChatColors, infos: Iterable[AttachmentInfo]) -> str:
    """Thumbnails (clicking one opens the image), then one line per file, in a paragraph."""
    pictures: list[str] = []
    files: list[str] = []
    for info in infos:
        name = html.escape(info.name)
        link = f"{OPEN_LINK}{info.sha256}?type={info.mime}"
        if info.kind == "image":
            width, height = thumbnail_size(info)
            pictures.append(
                f'<a href="{link}" title="{name}"><img src="{image_url(info)}" '
                f'width="{width}" height="{height}" alt="{name}"></a>'
            )
        else:
            details = html.escape(f"{info.mime}, {human_size(info.size)}")
            files.append(
                f'<a href="{link}" style="color:{colors.code.link};text-decoration:none">'
                f"{name}</a> "
                f'<span style="color:{colors.muted};font-size:small">({details})</span>'
            )
    parts = []
    if pictures:
        parts.append(
            '<p style="margin-top:4px;margin-bottom:4px">' + "&nbsp;&nbsp;".join(pictures) + "</p>"
        )
    if files:
        parts.append('<p style="margin-top:2px;margin-bottom:2px">' + "<br>".join(files) + "</p>")
    return "".join(parts)
