"""Threads into the store from our JSON export or llms.py's: validated first, then all at once."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from llms_desktop.attachments.model import Attachment
from llms_desktop.errors import ConfigError
from llms_desktop.store.export import FORMAT_NAME, FORMAT_VERSION
from llms_desktop.store.store import Store, new_id
from llms_desktop.types import MESSAGE_STATUSES, ROLES, Message, MessageStatus, Role, Thread


class Parsed(list[tuple[Thread, list[Message]]]):
    """Threads and their messages, ready to insert; `attachments` holds the bytes of each
    message's attachments, by (thread id, message id) as in the file."""

    def __init__(self, items: Sequence[tuple[Thread, list[Message]]] = ()) -> None:
        super().__init__(items)
        self.attachments: dict[tuple[str, str], list[Attachment]] = {}


# SQLite's INTEGER is 64-bit; times must be shown by time.localtime on every platform.
INT64 = 2**63
EARLIEST, LATEST = 0.0, 253370764800.0  # 1970 to 9999-01-01


class ImportFormatError(ConfigError):
    """The file to import is not one we can read; the message names the bad field."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: threads and messages added, and the ids skipped as already present."""

    imported: int
    messages: int
    skipped: tuple[str, ...]


def loads(text: str, source: str = "the file") -> Parsed:
    """Parse and validate an export (ours or llms.py's); raises ImportFormatError."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            f"{source} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError:
        raise ImportFormatError(
            f"{source} is JSON nested too deeply to read: it is not an export."
        ) from None
    return parse(document, source)


def parse(document: Any, source: str = "the file") -> Parsed:
    """Validate an export document and turn it into threads and messages, touching nothing."""
    if not isinstance(document, dict):
        raise ImportFormatError(f"{source}: expected a JSON object with a list of threads.")
    if document.get("format") == FORMAT_NAME:
        version = document.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ImportFormatError(
                f"{source}: export version {version!r} is not supported "
                f"(this llms-desktop reads up to {FORMAT_VERSION})."
            )
        # Version 1 threads were linear: each message answers the one before it.
        linear = version < 2

        def reader(fields: _Fields) -> tuple[Thread, list[Message]]:
            thread, messages = _our_thread(fields)
            return thread, _chained(messages) if linear else messages

    elif document.get("source") == "llmspy":

        def reader(fields: _Fields) -> tuple[Thread, list[Message]]:
            return _chained_thread(_llmspy_thread(fields))

    else:
        raise ImportFormatError(
            f'{source}: not an llms-desktop export ("format": "{FORMAT_NAME}") '
            'nor an llms.py export ("source": "llmspy").'
        )
    threads = document.get("threads")
    if not isinstance(threads, list):
        raise ImportFormatError(f"{source}: threads: expected a list, got {_kind(threads)}.")
    parsed = Parsed()
    seen: set[str] = set()
    for index, item in enumerate(threads):
        fields = _Fields(item, f"{source}: threads[{index}]")
        thread, messages = reader(fields)
        if document.get("format") == FORMAT_NAME and document.get("version", 0) >= 3:
            for message_index, message_fields in enumerate(fields.objects("messages")):
                attached = _attachments(message_fields)
                if attached:
                    parsed.attachments[(thread.id, messages[message_index].id)] = attached
        if thread.id in seen:
            raise ImportFormatError(
                f"{source}: threads[{index}].id: {thread.id!r} appears twice in the file."
            )
        seen.add(thread.id)
        parsed.append((thread, messages))
    return parsed


def import_threads(store: Store, parsed: Sequence[tuple[Thread, list[Message]]]) -> ImportResult:
    """Insert the threads whose ids are new, with their attachments (files written to the data
    folder), in one transaction: all of them or none."""
    imported = 0
    message_count = 0
    skipped: list[str] = []
    attachments: Mapping[tuple[str, str], list[Attachment]] = getattr(parsed, "attachments", {})
    with store.transaction("import threads"):
        for thread, messages in parsed:
            if store.thread_exists(thread.id):
                skipped.append(thread.id)
                continue
            store.insert_thread(thread)
            for original, message in zip(
                messages, _fresh_ids_where_taken(store, messages), strict=True
            ):
                store.insert_message(message)
                store.add_attachments(message.id, attachments.get((thread.id, original.id), ()))
            imported += 1
            message_count += len(messages)
    return ImportResult(imported=imported, messages=message_count, skipped=tuple(skipped))


def _fresh_ids_where_taken(store: Store, messages: list[Message]) -> list[Message]:
    # A new thread whose message ids are taken (a copy of a thread under another id) gets
    # fresh message ids; parent links follow. The order is kept.
    renamed = {m.id: new_id() for m in messages if store.get_message(m.id) is not None}
    if not renamed:
        return messages
    return [
        replace(
            m,
            id=renamed.get(m.id, m.id),
            parent_id=renamed.get(m.parent_id, m.parent_id) if m.parent_id else None,
        )
        for m in messages
    ]


class _Fields:
    """A JSON object being validated; every error names the path to the bad value."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise ImportFormatError(f"{path}: expected an object, got {_kind(value)}.")
        self.value: dict[str, Any] = value
        self.path = path

    def fail(self, key: str, expected: str) -> ImportFormatError:
        got = _kind(self.value.get(key)) if key in self.value else "nothing"
        return ImportFormatError(f"{self.path}.{key}: expected {expected}, got {got}.")

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self.value.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, "a string")
        return value

    def ident(self, key: str) -> str:
        value = self.value.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # llms.py ids are numbers in some versions
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string id")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.value.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "a string or null")
        return value

    def number(self, key: str, *, default: float | None = None) -> float:
        value = self.optional_number(key)
        if value is None:
            if default is None:
                raise self.fail(key, "a number")
            return default
        return value

    def optional_number(self, key: str) -> float | None:
        value = self.value.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, "a number or null")
        if not math.isfinite(value):  # json reads NaN and Infinity
            raise self.fail(key, "a finite number or null")
        return value

    def moment(self, key: str, *, default: float | None = None) -> float:
        """A time in Unix seconds, within what dates can show."""
        return self._in_time_range(key, self.number(key, default=default))

    def optional_moment(self, key: str) -> float | None:
        value = self.optional_number(key)
        return None if value is None else self._in_time_range(key, value)

    def _in_time_range(self, key: str, value: float) -> float:
        if not EARLIEST <= value <= LATEST:
            raise self.fail(key, f"a time in Unix seconds from 0 to {LATEST:.0f} (the year 9999)")
        return value

    def optional_int(self, key: str) -> int | None:
        value = self.value.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(key, "a whole number or null")
        if value is not None and not -INT64 <= value < INT64:
            raise self.fail(key, "a whole number from -2**63 to 2**63-1, or null")
        return value

    def flag(self, key: str) -> bool:
        value = self.value.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false")
        return value

    def choice(self, key: str, choices: Sequence[str], *, default: str | None = None) -> str:
        value = self.value.get(key, default)
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(choices))
        return cast(str, value)

    def objects(self, key: str) -> list[_Fields]:
        value = self.value.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, "a list")
        return [_Fields(item, f"{self.path}.{key}[{index}]") for index, item in enumerate(value)]

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.value.get(key) or {}
        if not isinstance(value, dict):
            raise self.fail(key, "an object")
        return value


def _our_thread(fields: _Fields) -> tuple[Thread, list[Message]]:
    created = fields.moment("created_at")
    thread = Thread(
        id=fields.ident("id"),
        title=fields.text("title", default=""),
        created_at=created,
        updated_at=fields.moment("updated_at", default=created),
        model=fields.optional_text("model"),
        provider=fields.optional_text("provider"),
        system_prompt=fields.optional_text("system_prompt"),
        params=fields.mapping("params"),
        pinned=fields.flag("pinned"),
        archived=fields.flag("archived"),
    )
    messages: list[Message] = []
    for index, item in enumerate(fields.objects("messages")):
        position = item.optional_int("position")
        status = item.choice("status", MESSAGE_STATUSES, default="complete")
        calls = item.objects("tool_calls")
        messages.append(
            Message(
                id=item.ident("id"),
                thread_id=thread.id,
                role=cast(Role, item.choice("role", ROLES)),
                content=item.text("content"),
                # Nothing streams into an imported message any more.
                status=cast(MessageStatus, "interrupted" if status == "streaming" else status),
                position=index if position is None else position,
                parent_id=item.optional_text("parent_id"),
                reasoning=item.optional_text("reasoning"),
                tool_calls=tuple(call.value for call in calls),
                error=item.optional_text("error"),
                model=item.optional_text("model"),
                provider=item.optional_text("provider"),
                prompt_tokens=item.optional_int("prompt_tokens"),
                completion_tokens=item.optional_int("completion_tokens"),
                tokens_estimated=item.flag("tokens_estimated"),
                ttft_ms=item.optional_number("ttft_ms"),
                duration_ms=item.optional_number("duration_ms"),
                created_at=item.moment("created_at", default=created),
                selected_at=item.optional_moment("selected_at"),
                tool_call_id=item.optional_text("tool_call_id"),
                name=item.optional_text("name"),
                finish_reason=item.optional_text("finish_reason"),
            )
        )
    _check_unique(fields, messages)
    return thread, messages


def _attachments(item: _Fields) -> list[Attachment]:
    """A message's attachments, their bytes decoded and checked against their hash."""
    out: list[Attachment] = []
    for entry in item.objects("attachments"):
        kind = entry.choice("kind", ("image", "file"))
        raw = entry.value.get("data")
        sha256 = entry.optional_text("sha256")
        if raw is None:
            # Its file was gone when exported: the row comes back, pointing at nothing.
            if not sha256 or len(sha256) != 64:
                raise entry.fail("sha256", "the SHA-256 of an attachment exported without data")
            data, missing = b"", True
        else:
            if not isinstance(raw, str):
                raise entry.fail("data", "base64 text or null")
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise entry.fail("data", "base64 text") from exc
            missing = False
            actual = hashlib.sha256(data).hexdigest()
            if sha256 is not None and sha256 != actual:
                raise ImportFormatError(
                    f"{entry.path}.data: the bytes do not match their sha256 (damaged file?)."
                )
            sha256 = actual
        out.append(
            Attachment(
                kind="image" if kind == "image" else "file",
                name=entry.text("name"),
                mime=entry.text("mime"),
                data=data,
                text=entry.optional_text("text"),
                width=entry.optional_int("width"),
                height=entry.optional_int("height"),
                missing=missing,
                sha256=sha256,
            )
        )
    return out


def _check_unique(fields: _Fields, messages: list[Message]) -> None:
    ids: set[str] = set()
    positions: set[int] = set()
    for index, message in enumerate(messages):
        where = f"{fields.path}.messages[{index}]"
        if message.id in ids:
            raise ImportFormatError(f"{where}.id: {message.id!r} appears twice.")
        if message.position in positions:
            raise ImportFormatError(f"{where}.position: {message.position} appears twice.")
        ids.add(message.id)
        positions.add(message.position)
    parents = {message.id: message.parent_id for message in messages}
    for index, message in enumerate(messages):
        if message.parent_id is not None and message.parent_id not in ids:
            raise ImportFormatError(
                f"{fields.path}.messages[{index}].parent_id: {message.parent_id!r} is not a "
                "message of this thread."
            )
        seen = {message.id}
        parent = message.parent_id
        while parent is not None:
            if parent in seen:
                raise ImportFormatError(
                    f"{fields.path}.messages[{index}].parent_id: the messages' parents form a loop."
                )
            seen.add(parent)
            parent = parents.get(parent)


def _chained(messages: list[Message]) -> list[Message]:
    """A linear conversation as a tree: each message's parent is the one before it."""
    ordered = sorted(messages, key=lambda m: m.position)
    out: list[Message] = []
    for before, message in zip([None, *ordered], ordered, strict=False):
        out.append(replace(message, parent_id=before.id if before is not None else None))
    return out


def _chained_thread(parsed: tuple[Thread, list[Message]]) -> tuple[Thread, list[Message]]:
    thread, messages = parsed
    return thread, _chained(messages)


def _llmspy_thread(fields: _Fields) -> tuple[Thread, list[Message]]:
    created = _llmspy_time(fields, "createdAt") or time.time()
    thread = Thread(
        id=fields.ident("id"),
        title=fields.text("title", default=""),
        created_at=created,
        updated_at=_llmspy_time(fields, "updatedAt") or created,
        model=fields.optional_text("model") or None,
        system_prompt=fields.optional_text("systemPrompt") or None,
    )
    messages: list[Message] = []
    prompt_tokens: int | None = None
    for index, item in enumerate(fields.objects("messages")):
        role = cast(Role, item.choice("role", ROLES))
        usage = item.mapping("usage")
        tokens = usage.get("tokens")
        tokens = _whole_or_none(tokens)
        duration = usage.get("duration")
        completion_tokens = None
        if role == "user":
            # llms.py files the prompt's token count on the user message; ours is on the answer.
            prompt_tokens = tokens
        elif role == "assistant":
            completion_tokens = tokens
        messages.append(
            Message(
                id=new_id(),
                thread_id=thread.id,
                role=role,
                content=_llmspy_content(item),
                position=index,
                reasoning=item.optional_text("reasoning"),
                model=(item.optional_text("model") or thread.model)
                if role == "assistant"
                else None,
                prompt_tokens=prompt_tokens if role == "assistant" else None,
                completion_tokens=completion_tokens,
                duration_ms=duration if _finite(duration) and duration else None,
                created_at=_llmspy_time(item, "timestamp") or thread.created_at,
            )
        )
    return thread, messages


def _llmspy_content(item: _Fields) -> str:
    content = item.value.get("content")
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict):
                parts.append(f"[{part.get('type', 'attachment')}]")  # images are not imported
        return "\n".join(parts)
    raise item.fail("content", "a string or a list of content parts")


def _llmspy_time(fields: _Fields, key: str) -> float | None:
    """llms.py writes ISO 8601 strings; numbers are taken as Unix seconds or milliseconds."""
    value = fields.value.get(key)
    if value is None:
        return None
    seconds: float | None = None
    if _finite(value):
        seconds = value / 1000.0 if value > 1e11 else float(value)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            seconds = moment.timestamp()
    if seconds is None or not EARLIEST <= seconds <= LATEST:
        raise fields.fail(key, "an ISO 8601 date from 1970 to 9998")
    return seconds


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole_or_none(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and -INT64 <= value < INT64
    return value if ok else None


def _kind(value: Any) -> str:
    """How a wrong value is shown in an error: short values as they are, containers by kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    if isinstance(value, int | float):
        return repr(value)
    return "a list" if isinstance(value, list) else "an object"
