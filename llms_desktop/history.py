"""What a thread's active path sends to the model: roles kept alternating (pure).

Chat templates such as Gemma's (llama.cpp) reject two user messages in a row, which is what a
thread holds after an answer failed before its first token and the user asked again. So:
answers with no text are left out, and then neighbouring messages of the same role are merged
into one, their texts joined by a blank line.
"""

from __future__ import annotations

from collections.abc import Sequence

from llms_desktop.types import ChatMessage, Message

# Joins the texts of merged neighbours, so the model still sees them as separate paragraphs.
MERGE_SEPARATOR = "\n\n"


def history_messages(path: Sequence[Message]) -> list[ChatMessage]:
    """The chat messages for a path of stored messages (root first), roles alternating.

    Tool calls and tool results are not replayed yet: a stored message does not keep a tool
    result's call id.
    """
    out: list[ChatMessage] = []
    for message in path:
        if message.role == "tool":
            continue
        if message.role == "assistant" and not message.content:
            continue
        previous = out[-1] if out else None
        if (
            previous is not None
            and previous.role == message.role
            and message.role in ("user", "assistant")
            and isinstance(previous.content, str)
        ):
            out[-1] = ChatMessage(
                message.role, previous.content + MERGE_SEPARATOR + message.content
            )
            continue
        out.append(ChatMessage(message.role, message.content))
    return out


def with_system(prompt: str | None, messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """`messages` preceded by the system prompt, when there is one."""
    head = [ChatMessage("system", prompt)] if prompt else []
    return head + list(messages)
