"""Plan an exchange: where its messages go in the thread tree and exactly what is sent.

Send, regenerate, edit-and-resend and continue all build a `Turn` here, from the thread's
stored tree; `ChatSession.run` then carries a Turn out without guessing any history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llms_desktop.branches import MessageTree
from llms_desktop.errors import ConfigError
from llms_desktop.history import (
    AttachmentLoader,
    history_messages,
    join_contents,
    replayable_calls,
    with_system,
)
from llms_desktop.types import ChatMessage, ChatRequest, Message, Thread

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment
    from llms_desktop.store import Store

TITLE_LENGTH = 60
# Answers that ended before the model finished: Continue asks for the rest of them.
CONTINUABLE = ("cancelled", "error", "interrupted")
CUT_OFF = "length"  # the finish_reason of an answer that reached the token limit


def can_continue(message: Message) -> bool:
    """Whether an answer has more to come: stopped, failed, interrupted, or cut off at the
    token limit (max_tokens)."""
    return message.role == "assistant" and (
        message.status in CONTINUABLE
        or (message.status == "complete" and message.finish_reason == CUT_OFF)
    )


@dataclass(frozen=True, slots=True)
class ThreadSettings:
    """What a thread continues with: model, provider, system prompt and request parameters."""

    model: str | None = None
    provider: str | None = None
    system_prompt: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, thread: Thread) -> ThreadSettings:
        return cls(thread.model, thread.provider, thread.system_prompt, dict(thread.params))


@dataclass(frozen=True, slots=True)
class Turn:
    """One exchange to run.

    `request` goes to the provider exactly as it is. With `thread_id` None a thread is created
    (titled `title`); `settings` are saved on the thread when `save_settings`. `user_text`, when
    given, is saved as a user message under `parent_id` and the answer goes under it; without
    it the answer goes under `parent_id` itself (regenerate); `attachments` are saved with the
    user message. `continue_id` names a stopped answer whose text the new tokens extend,
    instead of a new answer.
    """

    request: ChatRequest
    provider_id: str
    thread_id: str | None = None
    parent_id: str | None = None
    user_text: str | None = None
    continue_id: str | None = None
    title: str = ""
    settings: ThreadSettings = field(default_factory=ThreadSettings)
    save_settings: bool = True
    attachments: tuple[Attachment, ...] = ()


def plan_send(
    store: Store | None,
    *,
    thread_id: str | None,
    text: str,
    model: str,
    provider_id: str,
    system_prompt: str | None = None,
    params: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    stream: bool = True,
    attachments: Sequence[Attachment] = (),
) -> Turn:
    """A new user message after the thread's active path (or in a new thread), and its answer.

    `system_prompt` and `params` replace the thread's when given (None keeps them); the
    request's parameters are `base_params` (the provider's) overridden by the thread's.
    `attachments` go with the message (see attachments.parts.content for how they are sent).
    """
    attached = _checked(text, attachments)
    user = _user_message(text, attached)
    if thread_id is None:
        settings = ThreadSettings(model, provider_id, system_prompt, dict(params or {}))
        return Turn(
            request=_request(model, [], settings, base_params, stream, user),
            provider_id=provider_id,
            user_text=text,
            title=title_from(text) or title_from(", ".join(a.name for a in attached)),
            settings=settings,
            attachments=attached,
        )
    thread, tree = _load(store, thread_id)
    settings = _settings(thread, model, provider_id, system_prompt, params)
    leaf = tree.leaf_under(None)
    return Turn(
        request=_request(
            model, tree.path_to(leaf), settings, base_params, stream, user, _loader(store)
        ),
        provider_id=provider_id,
        thread_id=thread.id,
        parent_id=leaf,
        user_text=text,
        settings=settings,
        save_settings=settings != ThreadSettings.of(thread),
        attachments=attached,
    )


def plan_regenerate(
    store: Store | None,
    *,
    thread_id: str,
    message_id: str | None,
    model: str,
    provider_id: str,
    params: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    stream: bool = True,
) -> Turn:
    """A new version of an answer (`message_id`; None: the active path's last answer, or an
    answer to its last message when that is the user's). The old version is kept."""
    thread, tree = _load(store, thread_id)
    if message_id is None:
        leaf = tree.leaf_under(None)
        if leaf is None:
            raise ConfigError("There is nothing to answer again: the thread is empty.")
        last = tree.by_id[leaf]
        parent = last.parent_id if last.role == "assistant" else last.id
    else:
        answer = _message(tree, message_id)
        if answer.role != "assistant":
            raise ConfigError("Only an answer can be regenerated; edit a message of yours.")
        parent = answer.parent_id
    path = tree.path_to(parent)
    # An answer after tool results (a tool loop's last round) is answered again from them.
    if not path or path[-1].role not in ("user", "tool"):
        raise ConfigError("There is nothing to answer again: no message of yours precedes it.")
    settings = _settings(thread, model, provider_id, None, params)
    return Turn(
        request=_request(model, path, settings, base_params, stream, None, _loader(store)),
        provider_id=provider_id,
        thread_id=thread.id,
        parent_id=parent,
        settings=settings,
        save_settings=settings != ThreadSettings.of(thread),
    )


def plan_edit(
    store: Store | None,
    *,
    thread_id: str,
    message_id: str,
    text: str,
    model: str,
    provider_id: str,
    params: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    stream: bool = True,
    attachments: Sequence[Attachment] | None = None,
) -> Turn:
    """A new version of a user message (a sibling, the original kept), and its answer.

    The new version keeps the original's attachments unless `attachments` replaces them.
    """
    thread, tree = _load(store, thread_id)
    original = _message(tree, message_id)
    if original.role != "user":
        raise ConfigError("Only your own messages can be edited; regenerate an answer instead.")
    if attachments is None and store is not None and original.attachments:
        attachments = store.load_attachments(original.id)
    attached = _checked(text, attachments or ())
    settings = _settings(thread, model, provider_id, None, params)
    path = tree.path_to(original.parent_id)
    return Turn(
        request=_request(
            model,
            path,
            settings,
            base_params,
            stream,
            _user_message(text, attached),
            _loader(store),
        ),
        provider_id=provider_id,
        thread_id=thread.id,
        parent_id=original.parent_id,
        user_text=text,
        settings=settings,
        save_settings=settings != ThreadSettings.of(thread),
        attachments=attached,
    )


def plan_continue(
    store: Store | None,
    *,
    thread_id: str,
    message_id: str,
    model: str,
    provider_id: str,
    params: Mapping[str, Any] | None = None,
    base_params: Mapping[str, Any] | None = None,
    stream: bool = True,
) -> Turn:
    """More of a stopped, failed, interrupted or cut-off answer: its text goes out as the last
    assistant message (servers that support it continue it); the new tokens are appended."""
    thread, tree = _load(store, thread_id)
    answer = _message(tree, message_id)
    if answer.role != "assistant":
        raise ConfigError("Only an answer can be continued.")
    if not can_continue(answer):
        raise ConfigError(
            "Only an answer that was stopped, failed, interrupted or cut off at the token limit "
            f"can be continued (this one is {answer.status}); regenerate it for a new version."
        )
    settings = _settings(thread, model, provider_id, None, params)
    path = tree.path_to(answer.parent_id)
    tail = ChatMessage("assistant", answer.content) if answer.content else None
    return Turn(
        request=_request(model, path, settings, base_params, stream, tail, _loader(store)),
        provider_id=provider_id,
        thread_id=thread.id,
        parent_id=answer.parent_id,
        continue_id=answer.id,
        settings=settings,
        save_settings=settings != ThreadSettings.of(thread),
    )


def plan_after_tools(previous: Turn, answer: Message, results: Sequence[Message]) -> Turn:
    """The next round of a tool loop: what `previous` sent, then the `answer` that asked for
    tools and their `results` (role tool, in call order); the reply goes under the last result.
    """
    messages = list(previous.request.messages)
    if previous.continue_id is not None and messages and messages[-1].role == "assistant":
        messages.pop()  # the continued text is part of `answer` now
    calls = replayable_calls(answer)
    messages.append(ChatMessage("assistant", answer.content or None, tool_calls=calls))
    messages.extend(
        ChatMessage("tool", result.content, tool_call_id=result.tool_call_id) for result in results
    )
    return Turn(
        request=dataclasses.replace(previous.request, messages=tuple(messages)),
        provider_id=previous.provider_id,
        thread_id=answer.thread_id,
        parent_id=results[-1].id if results else answer.id,
        settings=previous.settings,
        save_settings=False,
    )


def title_from(text: str, limit: int = TITLE_LENGTH) -> str:
    """A thread title from the first message: whitespace collapsed, cut at a word, with …"""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def _checked(text: str, attachments: Sequence[Attachment]) -> tuple[Attachment, ...]:
    attached = tuple(attachments)
    if not text.strip() and not attached:
        raise ConfigError("The message is empty.")
    if attached:
        from llms_desktop.attachments.model import check_message

        check_message(attached)
    return attached


def _user_message(text: str, attachments: Sequence[Attachment]) -> ChatMessage:
    if not attachments:
        return ChatMessage("user", text)
    from llms_desktop.attachments.parts import content

    return ChatMessage("user", content(text, attachments))


def _loader(store: Store | None) -> AttachmentLoader | None:
    if store is None:
        return None
    return lambda message: store.load_attachments(message.id)


def _load(store: Store | None, thread_id: str) -> tuple[Thread, MessageTree]:
    if store is None:
        raise ConfigError("Continuing a thread needs the thread database (drop --no-store).")
    thread = store.get_thread(thread_id)
    if thread is None:
        raise ConfigError(f"No thread has the id {thread_id!r}.")
    return thread, store.tree(thread_id)


def _message(tree: MessageTree, message_id: str) -> Message:
    message = tree.by_id.get(message_id)
    if message is None:
        matches = [m for m in tree.by_id.values() if m.id.startswith(message_id)]
        if len(matches) != 1:
            raise ConfigError(f"No message of this thread has the id {message_id!r}.")
        message = matches[0]
    return message


def _settings(
    thread: Thread,
    model: str,
    provider_id: str,
    system_prompt: str | None,
    params: Mapping[str, Any] | None,
) -> ThreadSettings:
    return ThreadSettings(
        model=model,
        provider=provider_id,
        system_prompt=thread.system_prompt if system_prompt is None else system_prompt,
        params=dict(thread.params) if params is None else dict(params),
    )


def _request(
    model: str,
    path: list[Message],
    settings: ThreadSettings,
    base_params: Mapping[str, Any] | None,
    stream: bool,
    last: ChatMessage | None = None,
    load: AttachmentLoader | None = None,
) -> ChatRequest:
    messages = with_system(settings.system_prompt, history_messages(path, load))
    if last is not None:
        messages = _append(messages, last)
    return ChatRequest(
        model=model,
        messages=tuple(messages),
        stream=stream,
        params={**(base_params or {}), **settings.params},
    )


def _append(messages: list[ChatMessage], last: ChatMessage) -> list[ChatMessage]:
    # The history already alternates; a new user message after a trailing user message (the
    # answer between them failed empty) joins it, as history_messages would on the next turn.
    if messages and messages[-1].role == last.role == "user":
        merged = join_contents(messages[-1].content, last.content)
        return [*messages[:-1], ChatMessage("user", merged)]
    return [*messages, last]
