"""What a thread's active path sends to the model: roles kept alternating, tool calls paired (pure).

Chat templates such as Gemma's (llama.cpp) reject two user messages in a row, which is what a
thread holds after an answer failed before its first token and the user asked again. So:
answers with no text (and no tool calls) are left out, and then neighbouring messages of the
same role are merged into one, their texts joined by a blank line.

A user message's attachments go out again as content parts (images as `image_url` data URLs,
files as text parts), loaded through the `load` callable the caller passes.

Tool calls are replayed as OpenAI requires: an assistant message's `tool_calls` is followed by
one `role: tool` message per call, with its `tool_call_id`. A call left without a result (the
user stopped the loop) gets a short result saying so; a result whose call is not there (the
answer that asked for it was stopped mid-stream) is left out, since APIs reject both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llms_desktop.types import ChatMessage, Content, Message

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment

# Loads a stored message's attachments (bytes and text) to send them again.
AttachmentLoader = Callable[[Message], Sequence["Attachment"]]

# Joins the texts of merged neighbours, so the model still sees them as separate paragraphs.
MERGE_SEPARATOR = "\n\n"
# The result sent for a call that never got one.
NO_RESULT = "No result: the tool call was stopped before it ran."


def history_messages(
    path: Sequence[Message], load: AttachmentLoader | None = None
) -> list[ChatMessage]:
    """The chat messages for a path of stored messages (root first), roles alternating; with
    `load`, user messages carry their attachments as content parts."""
    out: list[ChatMessage] = []
    waiting: list[str] = []  # ids of the last answer's calls that have no result yet
    for message in path:
        if message.role == "tool":
            if message.tool_call_id in waiting:
                waiting.remove(message.tool_call_id)
                out.append(ChatMessage("tool", message.content, tool_call_id=message.tool_call_id))
            continue
        _close(out, waiting)
        calls = replayable_calls(message)
        if message.role == "assistant" and not message.content and not calls:
            continue
        own = _content(message, load)
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.role == message.role
            and message.role in ("user", "assistant")
            and isinstance(previous.content, str | list)
            and not previous.tool_calls
        ):
            out[-1] = ChatMessage(
                message.role, join_contents(previous.content, own), tool_calls=calls
            )
        else:
            content = own if own or not calls else None
            out.append(ChatMessage(message.role, content, tool_calls=calls))
        waiting = [str(call["id"]) for call in calls]
    _close(out, waiting)
    return out


def _content(message: Message, load: AttachmentLoader | None) -> Content:
    if message.role != "user" or not message.attachments or load is None:
        return message.content
    from llms_desktop.attachments.parts import content

    return content(message.content, load(message))


def join_contents(first: Content, second: Content) -> Content:
    """Two neighbours' contents as one: texts joined by a blank line, or, when either has
    content parts (attachments), the parts of both in order."""
    if isinstance(first, list) or isinstance(second, list):
        return [*_parts(first), *_parts(second)]
    text = first or ""
    if second:
        text += MERGE_SEPARATOR + second
    return text


def _parts(content: Content) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return list(content)
    return [{"type": "text", "text": content}] if content else []


def replayable_calls(message: Message) -> tuple[Mapping[str, Any], ...]:
    """The tool calls of a finished answer that can be sent again: each with an id and a name.

    A stopped or failed answer's calls may be cut off mid-arguments: they are not replayed.
    """
    if message.role != "assistant" or message.status not in ("complete",):
        return ()
    calls = []
    for call in message.tool_calls:
        function = call.get("function")
        if call.get("id") and isinstance(function, Mapping) and function.get("name"):
            calls.append(call)
    return tuple(calls)


def _close(out: list[ChatMessage], waiting: list[str]) -> None:
    for call_id in waiting:
        out.append(ChatMessage("tool", NO_RESULT, tool_call_id=call_id))
    waiting.clear()


def with_system(prompt: str | None, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """`messages` preceded by the system prompt, when there is one."""
    head = [ChatMessage("system", prompt)] if prompt else []
    return head + list(messages)
