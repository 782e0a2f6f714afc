"""Attachments in the store and on the wire: real SQLite, real files, a real loopback server."""

from __future__ import annotations

import base64
import shutil
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from llms_desktop import errors, turns
from llms_desktop.attachments.parts import decode_data_url
from llms_desktop.attachments.reading import from_bytes
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.store.migrations import MIGRATIONS
from llms_desktop.types import Message
from tests.support.loopback import LoopbackServer, Reply, Request, sse_reply, text_chunks
from tests.support.samples import image_bytes, pdf_with_text
from tests.support.store_faults import sqlite_connection

FIXTURES = Path(__file__).parent.parent / "fixtures" / "db"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
async def provider(loopback: LoopbackServer) -> AsyncIterator[OpenAICompatProvider]:
    async with OpenAICompatProvider(loopback.base_url, "k", timeouts=Timeouts(read=10)) as p:
        yield p


def files_in(store: Store) -> list[Path]:
    folder = store.blobs.folder
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_attachments_are_stored_once_by_hash_and_privately(store: Store) -> None:
    photo = from_bytes("photo.png", image_bytes(32, 16))
    thread = store.create_thread("t")
    first = store.add_message(thread.id, "user", "one", attachments=[photo])
    second = store.add_message(thread.id, "user", "two", attachments=[photo])
    (path,) = files_in(store)
    assert path == store.blobs.folder / photo.sha256[:2] / f"{photo.sha256}.png"
    assert path.read_bytes() == photo.data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.blobs.folder.stat().st_mode) == 0o700
    for message in (first, second):
        stored = store.get_message(message.id)
        assert stored is not None
        assert stored.attachments == (photo.info(),)
    assert [m.attachments for m in store.messages(thread.id)] == [(photo.info(),)] * 2


def test_deleting_a_thread_removes_only_files_nothing_else_references(store: Store) -> None:
    shared = from_bytes("shared.png", image_bytes(10, 10))
    own = from_bytes("own.txt", b"only here")
    doomed = store.create_thread("doomed")
    kept = store.create_thread("kept")
    store.add_message(doomed.id, "user", "a", attachments=[shared, own])
    store.add_message(kept.id, "user", "b", attachments=[shared])
    assert len(files_in(store)) == 2
    store.delete_thread(doomed.id)
    assert [p.name for p in files_in(store)] == [f"{shared.sha256}.png"]
    (message,) = store.messages(kept.id)
    assert [a.data for a in store.load_attachments(message.id)] == [shared.data]
    store.delete_message(message.id)
    assert files_in(store) == []


def test_a_rolled_back_message_leaves_no_file_behind(store: Store) -> None:
    image = from_bytes("a.png", image_bytes(5, 5))
    thread = store.create_thread("t")

    def write_then_fail() -> None:
        with store.transaction():
            store.add_message(thread.id, "user", "x", attachments=[image])
            assert len(files_in(store)) == 1
            raise RuntimeError("something failed after the write")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert files_in(store) == []
    assert store.messages(thread.id) == []


def test_a_file_gone_from_the_folder_is_sent_as_a_note(store: Store) -> None:
    image = from_bytes("gone.png", image_bytes(5, 5))
    thread = store.create_thread("t")
    message = store.add_message(thread.id, "user", "x", attachments=[image])
    shutil.rmtree(store.blobs.folder)
    (loaded,) = store.load_attachments(message.id)
    assert loaded.missing
    assert loaded.sha256 == image.sha256
    request = turns.plan_regenerate(
        store, thread_id=thread.id, message_id=None, model="m", provider_id="p"
    ).request
    assert request.messages[-1].content == [
        {
            "type": "text",
            "text": "[The attached image gone.png is missing from this computer's data folder.]",
        },
        {"type": "text", "text": "x"},
    ]


def test_a_database_from_before_attachments_upgrades_and_takes_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "wave1.sqlite3", data / "llms-desktop.db")
    with sqlite_connection(data / "llms-desktop.db") as old:
        tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master")}
        count = old.execute("SELECT count(*) FROM messages").fetchone()[0]
    assert "message_attachments" not in tables
    with Store.open(data) as store:
        threads = store.list_threads()
        assert sum(store.count_messages(t.id) for t in threads) == count
        assert all(m.attachments == () for t in threads for m in store.all_messages(t.id))
        note = from_bytes("n.txt", b"added after the upgrade")
        message = store.add_message(threads[0].id, "user", "with a file", attachments=[note])
    with Store.open(data) as reopened, sqlite_connection(data / "llms-desktop.db") as raw:
        stored = reopened.get_message(message.id)
        assert stored is not None
        assert stored.attachments == (note.info(),)
        (version,) = raw.execute("PRAGMA user_version").fetchone()
    assert version == len(MIGRATIONS)
    assert "m005_message_attachments" in [name for name, _ in MIGRATIONS]


def _echo_ok(request: Request) -> Reply:
    return sse_reply(text_chunks(["I ", "see."]))


async def test_images_and_files_reach_the_provider_and_go_again_on_later_turns(
    store: Store, provider: OpenAICompatProvider, loopback: LoopbackServer
) -> None:
    loopback.handler = _echo_ok
    photo = from_bytes("photo.jpg", image_bytes(4000, 2000, "JPEG"))
    report = from_bytes("report.pdf", pdf_with_text("Sales up 20%"))
    session = ChatSession(provider, store)
    first = turns.plan_send(
        store,
        thread_id=None,
        text="What do these show?",
        model="m",
        provider_id="p",
        attachments=[photo, report],
    )
    answer = await session.run(first)
    body = loopback.requests[-1].json()
    (message,) = body["messages"]
    image_part, file_part, text_part = message["content"]
    assert image_part["type"] == "image_url"
    mime, data = decode_data_url(image_part["image_url"]["url"]) or ("", b"")
    assert mime == "image/jpeg"
    assert data == photo.data
    assert (photo.width, photo.height) == (1568, 784)
    assert file_part == {"type": "text", "text": '<file name="report.pdf">\nSales up 20%\n</file>'}
    assert text_part == {"type": "text", "text": "What do these show?"}
    # Our estimate counts an image as an image, not as its base64 text.
    assert answer.prompt_tokens is not None
    assert answer.prompt_tokens < 2000

    thread_id = answer.thread_id
    user = store.messages(thread_id)[0]
    assert [a.name for a in user.attachments] == ["photo.jpg", "report.pdf"]
    second = turns.plan_send(
        store, thread_id=thread_id, text="And now?", model="m", provider_id="p"
    )
    await session.run(second)
    sent = loopback.requests[-1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[0]["content"] == message["content"]  # the stored attachments, sent again
    assert sent[2]["content"] == "And now?"


async def test_an_edit_keeps_the_original_attachments(
    store: Store, provider: OpenAICompatProvider, loopback: LoopbackServer
) -> None:
    loopback.handler = _echo_ok
    image = from_bytes("a.png", image_bytes(20, 20))
    session = ChatSession(provider, store)
    answer = await session.run(
        turns.plan_send(
            store, thread_id=None, text="first", model="m", provider_id="p", attachments=[image]
        )
    )
    original = store.messages(answer.thread_id)[0]
    edit = turns.plan_edit(
        store,
        thread_id=answer.thread_id,
        message_id=original.id,
        text="second try",
        model="m",
        provider_id="p",
    )
    await session.run(edit)
    parts = loopback.requests[-1].json()["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["image_url", "text"]
    versions = [m for m in store.all_messages(answer.thread_id) if m.role == "user"]
    assert [m.attachments for m in versions] == [(image.info(),), (image.info(),)]


async def test_a_message_of_only_an_image_is_sent_and_titled_by_its_name(
    store: Store, provider: OpenAICompatProvider, loopback: LoopbackServer
) -> None:
    loopback.handler = _echo_ok
    image = from_bytes("diagram.png", image_bytes(20, 20))
    turn = turns.plan_send(
        store, thread_id=None, text="", model="m", provider_id="p", attachments=[image]
    )
    answer = await ChatSession(provider, store).run(turn)
    thread = store.get_thread(answer.thread_id)
    assert thread is not None
    assert thread.title == "diagram.png"
    assert [p["type"] for p in loopback.requests[-1].json()["messages"][0]["content"]] == [
        "image_url"
    ]
    with pytest.raises(errors.ConfigError, match="The message is empty"):
        turns.plan_send(store, thread_id=None, text="  ", model="m", provider_id="p")


@pytest.mark.parametrize(
    ("status", "said", "expected"),
    [
        (
            400,
            "Invalid content type. image_url is only supported by certain models.",
            "HTTP 400: Invalid content type. image_url is only supported by certain models. "
            "(this model may not take images: pick a vision model, or send without the images)",
        ),
        (
            413,
            "Request Entity Too Large",
            "HTTP 413: Request Entity Too Large (the attached images may be too large for "
            "this provider)",
        ),
    ],
)
async def test_a_provider_refusing_images_reads_clearly(
    store: Store,
    provider: OpenAICompatProvider,
    loopback: LoopbackServer,
    status: int,
    said: str,
    expected: str,
) -> None:
    def refuse(request: Request) -> Reply:
        return Reply(
            status=status,
            headers=[("Content-Type", "application/json")],
            pieces=[f'{{"error": {{"message": "{said}"}}}}'.encode()],
            framing="length",
        )

    loopback.handler = refuse
    image = from_bytes("a.png", image_bytes(20, 20))
    turn = turns.plan_send(
        store, thread_id=None, text="hi", model="m", provider_id="p", attachments=[image]
    )
    finished: list[Message] = []

    class Listener:
        def on_started(self, *args: Any) -> None:
            pass

        def on_delta(self, delta: Any) -> None:
            pass

        def on_finished(self, message: Message) -> None:
            finished.append(message)

    with pytest.raises(errors.HTTPStatusError) as raised:
        await ChatSession(provider, store).run(turn, Listener())
    assert str(raised.value) == expected
    assert raised.value.status == status
    assert raised.value.provider_message == said  # the server relays the provider's own words
    assert finished[0].error == expected
    # Without images the same refusal is left as the provider said it.
    plain = turns.plan_send(store, thread_id=None, text="hi", model="m", provider_id="p")
    with pytest.raises(errors.HTTPStatusError) as untouched:
        await ChatSession(provider, store).run(plain)
    assert "vision" not in str(untouched.value)
    assert "images" not in str(untouched.value)


def test_base64_in_requests_is_standard(store: Store) -> None:
    image = from_bytes("a.png", image_bytes(3, 3))
    request = turns.plan_send(
        None, thread_id=None, text="x", model="m", provider_id="p", attachments=[image]
    ).request
    url = request.messages[0].content[0]["image_url"]["url"]  # type: ignore[index]
    assert url == "data:image/png;base64," + base64.b64encode(image.data).decode()
