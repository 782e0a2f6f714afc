"""Threads out of the store: our lossless JSON format (attachments embedded) and markdown."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llms_desktop.branches import MessageTree
from llms_desktop.store.store import Store
from llms_desktop.types import AttachmentInfo, Message, Thread

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment

FORMAT_NAME = "llms-desktop"
# 2: messages form a tree (parent_id, selected_at); version 1 files were one linear path.
# 3: messages carry their attachments, bytes in base64.
FORMAT_VERSION = 3

# How markdown shows an attachment: a link (a path or URL), or None to name it only.
Linker = Callable[[AttachmentInfo], str | None]


def iter_threads(store: Store, thread_ids: Iterable[str] | None = None) -> Iterator[Thread]:
    """The given threads (skipping missing ids), or every thread newest first when None."""
    if thread_ids is not None:
        for thread_id in thread_ids:
            thread = store.get_thread(thread_id)
            if thread is not None:
                yield thread
        return
    # One query, one consistent snapshot: paging with LIMIT/OFFSET over "newest first" skipped
    # a thread and repeated another when an answer finished between two pages.
    yield from store.list_threads(limit=-1)


def thread_dict(
    thread: Thread,
    messages: Iterable[Message],
    attachments: Callable[[Message], Sequence[Attachment]] | None = None,
) -> dict[str, Any]:
    """A thread and its messages as plain JSON values, every field kept (with `attachments`,
    each message's attachments with their bytes)."""
    return {
        "id": thread.id,
        "title": thread.title,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "model": thread.model,
        "provider": thread.provider,
        "system_prompt": thread.system_prompt,
        "params": dict(thread.params),
        "pinned": thread.pinned,
        "archived": thread.archived,
        "messages": [
            message_dict(
                message,
                attachments(message) if attachments is not None and message.attachments else (),
            )
            for message in messages
        ],
    }


def message_dict(message: Message, attachments: Sequence[Attachment] = ()) -> dict[str, Any]:
    """A message as plain JSON values (its thread is the enclosing one)."""
    return {
        "id": message.id,
        "position": message.position,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "reasoning": message.reasoning,
        "tool_calls": [dict(call) for call in message.tool_calls],
        "status": message.status,
        "error": message.error,
        "model": message.model,
        "provider": message.provider,
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "tokens_estimated": message.tokens_estimated,
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "created_at": message.created_at,
        "selected_at": message.selected_at,
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "finish_reason": message.finish_reason,
        "attachments": [attachment_dict(attachment) for attachment in attachments],
    }


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    """An attachment with its bytes in base64 (`data` null when its file was gone)."""
    return {
        "kind": attachment.kind,
        "name": attachment.name,
        "mime": attachment.mime,
        "size": attachment.size if not attachment.missing else None,
        "width": attachment.width,
        "height": attachment.height,
        "sha256": attachment.sha256,
        "text": attachment.text,
        "data": None if attachment.missing else base64.b64encode(attachment.data).decode("ascii"),
    }


def export_json(store: Store, thread_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """The export document: `{"format": "llms-desktop", "version": 2, "threads": [...]}`, every
    branch of every thread kept."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": _iso(dt.datetime.now(dt.UTC).timestamp()),
        "threads": [
            thread_dict(
                thread,
                store.all_messages(thread.id),
                lambda message: store.load_attachments(message.id),
            )
            for thread in iter_threads(store, thread_ids)
        ],
    }


def export_markdown(
    store: Store, thread_ids: Iterable[str] | None = None, link: Linker | None = None
) -> str:
    """Every chosen thread as markdown (its active path), separated by horizontal rules;
    attachments linked through `link`, else named."""
    parts = [
        thread_markdown(thread, store.messages(thread.id), link=link)
        for thread in iter_threads(store, thread_ids)
    ]
    return "\n\n---\n\n".join(parts) + ("\n" if parts else "")


def thread_markdown(
    thread: Thread,
    messages: Iterable[Message],
    tree: MessageTree | None = None,
    *,
    ids: bool = False,
    link: Linker | None = None,
) -> str:
    """One thread as a markdown document: a title, its settings, then each message.

    With `tree`, every message of every branch is shown depth first, each heading saying its
    id, which message it answers, its version among its siblings and whether it is on the
    active path; `messages` is then ignored. `ids` adds each message's short id to its heading
    (for `chat --edit`). Attachments are linked through `link` (images as images), or named
    with their type and size when it gives no link.
    """
    lines = [f"# {thread.title or 'Untitled'}", ""]
    lines.append(f"- Thread: `{thread.id}`")
    lines.append(f"- Created: {_iso(thread.created_at)} · Updated: {_iso(thread.updated_at)}")
    if thread.model:
        provider = f" ({thread.provider})" if thread.provider else ""
        lines.append(f"- Model: {thread.model}{provider}")
    if thread.params:
        settings = ", ".join(f"{key}={value}" for key, value in sorted(thread.params.items()))
        lines.append(f"- Parameters: {settings}")
    if thread.system_prompt:
        lines += ["", "**System prompt**", "", _quote(thread.system_prompt)]
    if tree is not None:
        active = {m.id for m in tree.active_path()}
        entries = [(_branch_heading(tree, depth, m, active), m) for depth, m in tree.walk()]
    else:
        entries = [(_heading(m) + (f" · `{m.id[:8]}`" if ids else ""), m) for m in messages]
    for heading, message in entries:
        lines += ["", f"## {heading}", ""]
        if message.reasoning:
            lines += [
                "<details><summary>Reasoning</summary>",
                "",
                message.reasoning,
                "",
                "</details>",
                "",
            ]
        lines.append(message.content)
        if message.attachments:
            lines += ["", *(_attachment_line(a, link) for a in message.attachments)]
        for call in message.tool_calls:
            function = call.get("function") or {}
            lines += ["", f"Tool call `{function.get('name')}`: `{function.get('arguments', '')}`"]
        if message.error:
            lines += ["", _quote(f"Error: {message.error}")]
    return "\n".join(lines).rstrip("\n")


def _attachment_line(info: AttachmentInfo, link: Linker | None) -> str:
    from llms_desktop.attachments.model import human_size

    target = link(info) if link is not None else None
    name = info.name.replace("[", "(").replace("]", ")")
    if target is not None:
        target = target.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
        return f"- {'!' if info.kind == 'image' else ''}[{name}]({target})"
    size = f", {info.width}×{info.height}" if info.width and info.height else ""
    return f"- Attached: `{name}` ({info.mime}{size}, {human_size(info.size)})"


def _heading(message: Message) -> str:
    parts = [message.role.capitalize()]
    if message.model and message.role == "assistant":
        parts.append(message.model)
    if message.role == "tool" and message.name:
        parts.append(f"`{message.name}`")
    if message.status != "complete":
        parts.append(message.status)
    if message.completion_tokens is not None:
        estimated = "~" if message.tokens_estimated else ""
        parts.append(f"{estimated}{message.completion_tokens} tokens")
    speed = message.tokens_per_second
    if speed is not None:
        parts.append(f"{speed:.1f} tokens/s")
    parts.append(_iso(message.created_at))
    return " · ".join(parts)


def _branch_heading(tree: MessageTree, depth: int, message: Message, active: set[str]) -> str:
    parts = ["│ " * depth + _heading(message), f"id `{message.id}`"]
    if message.parent_id:
        parts.append(f"after `{message.parent_id[:8]}`")
    versions = tree.versions(message.id)
    if versions.count > 1:
        parts.append(f"version {versions.index}/{versions.count}")
    if message.id in active:
        parts.append("active")
    return " · ".join(parts)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _iso(timestamp: float) -> str:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
