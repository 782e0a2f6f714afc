"""Chat titles from the model: asked only when allowed, cleaned, and never needed to succeed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from llms_desktop import errors
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.titles import ask_title, clean_title, should_ask
from tests.support.loopback import LoopbackServer, Reply, json_reply


@pytest.fixture
async def provider(loopback: LoopbackServer) -> AsyncIterator[OpenAICompatProvider]:
    async with OpenAICompatProvider(loopback.base_url, "k", timeouts=Timeouts(read=10)) as p:
        yield p


def completion(text: str) -> Reply:
    return json_reply(
        {
            "id": "x",
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }
    )


async def test_the_model_is_asked_once_without_streaming_and_its_title_is_cleaned(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: completion(
        '<think>sky, light</think>\nTitle: "Why the Sky Is Blue."'
    )
    title = await ask_title(provider, "m", "Why is the sky blue?" * 200, "Rayleigh scattering.")
    assert title == "Why the Sky Is Blue"
    (request,) = loopback.requests
    body: dict[str, Any] = request.json()
    assert body["stream"] is False
    assert body["model"] == "m"
    assert len(body["messages"][1]["content"]) < 3200  # an excerpt, not the whole chat


async def test_a_failing_title_request_raises_for_the_caller_to_ignore(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: json_reply({"error": {"message": "no"}}, status=500)
    with pytest.raises(errors.LlmsDesktopError):
        await ask_title(provider, "m", "q", "a")


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("## Sky colours explained", "Sky colours explained"),
        ("**Rust lifetimes**\n\nExtra words", "Rust lifetimes"),
        ("  \n  ", None),
        ("<think>only thinking, never finished", None),
        ("“Quoted title!”", "Quoted title"),
        ("x" * 100, "x" * 59 + "…"),
    ],
)
def test_titles_are_cleaned_to_one_plain_line(raw: str, title: str | None) -> None:
    assert clean_title(raw) == title


@pytest.mark.parametrize(
    ("setting", "base_url", "asked"),
    [
        ("local", "http://127.0.0.1:11434/v1", True),
        ("local", "http://localhost:1234/v1", True),
        ("local", "http://192.168.1.20:8080/v1", True),
        ("local", "http://gpu-box.local:8000/v1", True),
        ("local", "https://api.openai.com/v1", False),
        ("local", None, False),
        ("always", "https://api.openai.com/v1", True),
        ("off", "http://127.0.0.1:11434/v1", False),
    ],
)
def test_only_local_models_are_asked_by_default(
    setting: str, base_url: str | None, asked: bool
) -> None:
    assert should_ask(setting, base_url) is asked
