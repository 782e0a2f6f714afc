"""Chat titles: asked of the model after a new chat's first answer, else its first words.

Asking costs a request, so by default only models on this machine or network are asked
("local"): a paid API is not billed for titles unless the user says "always".
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import urlsplit

from llms_desktop.providers.base import Provider
from llms_desktop.turns import TITLE_LENGTH, title_from
from llms_desktop.types import ChatMessage, ChatRequest, TextDelta

INSTRUCTION = (
    "Write a title of at most six words for the conversation below. Reply with the title "
    "only: no quotes, no punctuation at the end, no preamble."
)
# The title request sees this much of each side: enough for a topic, cheap to send.
EXCERPT = 1500
# Reasoning models spend tokens thinking before they answer: leave them room.
MAX_TOKENS = 256


def should_ask(setting: str, base_url: str | None) -> bool:
    """Whether to ask the model for a title: "always", or "local" and the server is local."""
    if setting == "always":
        return True
    return setting == "local" and is_local(base_url)


def is_local(base_url: str | None) -> bool:
    """A server on this machine or a private network (loopback, RFC 1918, link-local, .local)."""
    if not base_url:
        return False
    host = (urlsplit(base_url).hostname or "").lower()
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".localhost")):
        return True
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        return address.is_loopback or address.is_private or address.is_link_local
    return False


def title_request(model: str, question: str, answer: str) -> ChatRequest:
    """The one-off, non-streamed request that asks for a title."""
    conversation = f"User: {question[:EXCERPT]}\n\nAssistant: {answer[:EXCERPT]}"
    return ChatRequest(
        model=model,
        messages=(ChatMessage("system", INSTRUCTION), ChatMessage("user", conversation)),
        stream=False,
        params={"max_tokens": MAX_TOKENS, "temperature": 0.2},
    )


async def ask_title(provider: Provider, model: str, question: str, answer: str) -> str | None:
    """The model's title for a conversation, cleaned; None when it gave nothing usable.

    Provider errors propagate: the caller keeps the first-words title.
    """
    parts: list[str] = []
    async with contextlib.aclosing(provider.stream(title_request(model, question, answer))) as d:
        async for delta in d:
            if isinstance(delta, TextDelta):
                parts.append(delta.text)
    return clean_title("".join(parts))


_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_PREFIX = re.compile(r"^(title|chat title|conversation title)\s*[:\-–—]\s*", re.IGNORECASE)


def clean_title(text: str) -> str | None:
    """One line, no thinking tags, quotes, markdown or trailing punctuation; None if empty."""
    text = _THINKING.sub("", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    line = lines[0].lstrip("#>*-• ").strip()
    line = _PREFIX.sub("", line)
    line = line.strip().strip("*_`\"'“”‘’«»").strip()
    line = line.rstrip(".。!?:;,").strip()
    if not line:
        return None
    return title_from(line, TITLE_LENGTH)
