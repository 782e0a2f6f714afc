"""Conversions between SQLite rows and the Thread and Message dataclasses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any, cast

from llms_desktop.types import AttachmentInfo, Message, MessageStatus, Role, Thread

THREAD_COLUMNS = (
    "id, title, created_at, updated_at, model, provider, system_prompt, params, pinned, archived"
)
MESSAGE_COLUMNS = (
    "id, thread_id, role, content, status, position, parent_id, reasoning, tool_calls, error, "
    "model, provider, prompt_tokens, completion_tokens, tokens_estimated, ttft_ms, duration_ms, "
    "created_at, selected_at, tool_call_id, name, finish_reason"
)
MESSAGE_PLACEHOLDERS = ", ".join("?" * len(MESSAGE_COLUMNS.split(",")))


def dump_json(value: Any) -> str:
    """Compact JSON for a column; non-ASCII kept as is so the file stays readable."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_calls_json(tool_calls: Sequence[Mapping[str, Any]] | None) -> str | None:
    """Tool calls as a JSON array, or NULL when there are none."""
    return dump_json([dict(call) for call in tool_calls]) if tool_calls else None


def thread_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Thread:
    params = json.loads(row[7]) if row[7] else {}
    return Thread(
        id=row[0],
        title=row[1],
        created_at=row[2],
        updated_at=row[3],
        model=row[4],
        provider=row[5],
        system_prompt=row[6],
        params=params if isinstance(params, dict) else {},
        pinned=bool(row[8]),
        archived=bool(row[9]),
    )


def message_from_row(
    row: sqlite3.Row | tuple[Any, ...], attachments: tuple[AttachmentInfo, ...] = ()
) -> Message:
    calls = json.loads(row[8]) if row[8] else []
    return Message(
        id=row[0],
        thread_id=row[1],
        role=cast(Role, row[2]),
        content=row[3],
        status=cast(MessageStatus, row[4]),
        position=row[5],
        parent_id=row[6],
        reasoning=row[7],
        tool_calls=tuple(calls) if isinstance(calls, list) else (),
        error=row[9],
        model=row[10],
        provider=row[11],
        prompt_tokens=row[12],
        completion_tokens=row[13],
        tokens_estimated=bool(row[14]),
        ttft_ms=row[15],
        duration_ms=row[16],
        created_at=row[17],
        selected_at=row[18],
        tool_call_id=row[19],
        name=row[20],
        attachments=attachments,
        finish_reason=row[21],
    )


def message_values(message: Message) -> tuple[Any, ...]:
    """The values for MESSAGE_COLUMNS, in order."""
    return (
        message.id,
        message.thread_id,
        message.role,
        message.content,
        message.status,
        message.position,
        message.parent_id,
        message.reasoning,
        tool_calls_json(message.tool_calls),
        message.error,
        message.model,
        message.provider,
        message.prompt_tokens,
        message.completion_tokens,
        int(message.tokens_estimated),
        message.ttft_ms,
        message.duration_ms,
        message.created_at,
        message.selected_at,
        message.tool_call_id,
        message.name,
        message.finish_reason,
    )


def thread_values(thread: Thread) -> tuple[Any, ...]:
    """The values for THREAD_COLUMNS, in order."""
    return (
        thread.id,
        thread.title,
        thread.created_at,
        thread.updated_at,
        thread.model,
        thread.provider,
        thread.system_prompt,
        dump_json(dict(thread.params)),
        int(thread.pinned),
        int(thread.archived),
    )
