"""`serve --store` with content parts: images and files are stored as attachments, exactly as the
client sent them, and the upstream gets the client's request untouched."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from llms_desktop.store import Store
from tests.support.loopback import LoopbackServer, Reply, Request, sse_reply, text_chunks
from tests.support.samples import image_bytes, pdf_with_text
from tests.support.server_harness import (
    body,
    client,
    provider_config,
    registry_of,
    serving,
    streamed_text,
    upstream_routes,
)


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize("stream", [True, False])
async def test_content_parts_are_stored_as_attachments_and_relayed_untouched(
    loopback: LoopbackServer, tmp_path: Path, stream: bool
) -> None:
    loopback.handler = upstream_routes(lambda request: sse_reply(text_chunks(["Two ", "cats."])))
    earlier = image_bytes(2400, 1200, "JPEG")  # bigger than we would send: kept as it came
    latest = image_bytes(64, 64, "WEBP")
    pdf = pdf_with_text("Cat census 2024")
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Remember this one."},
                {"type": "image_url", "image_url": {"url": data_url("image/jpeg", earlier)}},
            ],
        },
        {"role": "assistant", "content": "Noted."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "How many cats?"},
                {
                    "type": "image_url",
                    "image_url": {"url": data_url("image/webp", latest), "detail": "low"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/remote.png"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "census.pdf",
                        "file_data": data_url("application/pdf", pdf),
                    },
                },
            ],
        },
    ]
    store = Store.open(tmp_path / "data")
    try:
        async with (
            serving(registry_of(provider_config("up", loopback)), store=store) as server,
            client(server) as http,
        ):
            response = await http.post(
                "/v1/chat/completions", json=body(messages=messages, stream=stream)
            )
            assert response.status_code == 200
            if stream:
                assert streamed_text(response.content) == "Two cats."
            else:
                assert response.json()["choices"][0]["message"]["content"] == "Two cats."
        sent = [r for r in loopback.requests if r.path.endswith("/chat/completions")][-1].json()
        assert sent["messages"] == messages  # byte for byte what the client sent

        (thread,) = store.list_threads()
        assert thread.title == "How many cats?"
        first, answer, last, reply = store.messages(thread.id)
        assert (first.content, answer.content, reply.content) == (
            "Remember this one.",
            "Noted.",
            "Two cats.",
        )
        (kept,) = store.load_attachments(first.id)
        assert (kept.kind, kept.mime, kept.data, kept.width) == (
            "image",
            "image/jpeg",
            earlier,
            2400,
        )
        assert last.content == "How many cats?\n\n[image: https://example.com/remote.png]"
        image, document = store.load_attachments(last.id)
        assert (image.name, image.mime, image.data) == ("image-2.webp", "image/webp", latest)
        assert (document.name, document.mime, document.data, document.text) == (
            "census.pdf",
            "application/pdf",
            pdf,
            "Cat census 2024",
        )
    finally:
        store.close()


async def test_an_image_alone_is_saved_too(loopback: LoopbackServer, tmp_path: Path) -> None:
    def reply(request: Request) -> Reply:
        return sse_reply(text_chunks(["A square."]))

    loopback.handler = upstream_routes(reply)
    png = image_bytes(10, 10)
    messages = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": data_url("image/png", png)}}],
        }
    ]
    store = Store.open(tmp_path / "data")
    try:
        async with (
            serving(registry_of(provider_config("up", loopback)), store=store) as server,
            client(server) as http,
        ):
            response = await http.post("/v1/chat/completions", json=body(messages=messages))
            assert response.status_code == 200
        (thread,) = store.list_threads()
        assert thread.title == "image-1.png"
        user, _ = store.messages(thread.id)
        assert user.content == ""
        assert [a.data for a in store.load_attachments(user.id)] == [png]
    finally:
        store.close()
