"""Threads out of the store: our lossless JSON format and readable markdown."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from llms_desktop.branches import MessageTree
from llms_desktop.store.store import Store
from llms_desktop.types import Message, Thread

FORMAT_NAME = "llms-desktop"
# 2: messages form a tree (parent_id, selected_at); version 1 files were one linear path.
FORMAT_VERSION = 2


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


def thread_dict(thread: Thread, messages: Iterable[Message]) -> dict[str, Any]:
    """A thread and its messages as plain JSON values, every field kept."""
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
        "messages": [message_dict(message) for message in messages],
    }


def message_dict(message: Message) -> dict[str, Any]:
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
    }


def export_json(store: Store, thread_ids: Iterable[str] | None = None) -> dict[str, Any]:
    """The export document: `{"format": "llms-desktop", "version": 2, "threads": [...]}`, every
    branch of every thread kept."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": _iso(dt.datetime.now(dt.UTC).timestamp()),
        "threads": [
            thread_dict(thread, store.all_messages(thread.id))
            for thread in iter_threads(store, thread_ids)
        ],
    }


def export_markdown(store: Store, thread_ids: Iterable[str] | None = None) -> str:
    """Every chosen thread as markdown (its active path), separated by horizontal rules."""
    parts = [
        thread_markdown(thread, store.messages(thread.id))
        for thread in iter_threads(store, thread_ids)
    ]
    return "\n\n---\n\n".join(parts) + ("\n" if parts else "")


def thread_markdown(
    thread: Thread,
    messages: Iterable[Message],
    tree: MessageTree | None = None,
    *,
    ids: bool = False,
) -> str:
    """One thread as a markdown document: a title, its settings, then each message.

    With `tree`, every message of every branch is shown depth first, each heading saying its
    id, which message it answers, its version among its siblings and whether it is on the
    active path; `messages` is then ignored. `ids` adds each message's short id to its heading
    (for `chat --edit`).
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
        for call in message.tool_calls:
            function = call.get("function") or {}
            lines += ["", f"Tool call `{function.get('name')}`: `{function.get('arguments', '')}`"]
        if message.error:
            lines += ["", _quote(f"Error: {message.error}")]
    return "\n".join(lines).rstrip("\n")


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
