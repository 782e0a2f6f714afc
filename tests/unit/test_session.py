"""ChatSession with a real store file and the real provider against a loopback server."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llms_desktop import errors, turns
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.turns import title_from
from llms_desktop.types import Delta, Message, TextDelta, Thread
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, sse_reply, text_chunks
from tests.support.store_faults import sqlite_connection, write_lock
from tests.support.waiting import wait_until

USAGE = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}


@dataclass
class Recorder:
    """A SessionListener that records every call, and what the database held at each delta."""

    store: Store | None = None
    events: list[str] = field(default_factory=list)
    deltas: list[Delta] = field(default_factory=list)
    started: tuple[Thread, Message | None, Message] | None = None
    finished: Message | None = None
    stored_at_delta: list[str] = field(default_factory=list)

    def on_started(self, thread: Thread, user: Message | None, answer: Message) -> None:
        self.events.append("started")
        self.started = (thread, user, answer)

    def on_delta(self, delta: Delta) -> None:
        self.events.append("delta")
        self.deltas.append(delta)
        if self.store is not None and self.started is not None:
            stored = self.store.get_message(self.started[2].id)
            self.stored_at_delta.append(stored.content if stored else "")

    def on_finished(self, message: Message) -> None:
        self.events.append("finished")
        self.finished = message

    @property
    def answer_id(self) -> str:
        assert self.started is not None
        return self.started[2].id


@pytest.fixture
async def provider(loopback: LoopbackServer) -> AsyncIterator[OpenAICompatProvider]:
    async with OpenAICompatProvider(loopback.base_url, "k", timeouts=Timeouts(read=10)) as p:
        yield p


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data", busy_timeout=0.2) as opened:
        yield opened


def slow_words(words: list[str], pause: float, *, usage: dict[str, Any] | None = None) -> Reply:
    return sse_reply(text_chunks(words, usage=usage), pause=pause)


def store_of(session: ChatSession) -> Store | None:
    """The store a session writes to (plans read from the same database)."""
    return getattr(session.writer, "store", None)


async def ask(
    session: ChatSession,
    text: str | None,
    *,
    thread_id: str | None = None,
    listener: Recorder | None = None,
    **kwargs: Any,
) -> Message:
    """Plan a send (or, with no text, a regenerate) the way the window does, then run it."""
    common = {"thread_id": thread_id, "model": "m", "provider_id": "openai", **kwargs}
    if text is None:
        assert thread_id is not None
        turn = turns.plan_regenerate(store_of(session), message_id=None, **common)
    else:
        turn = turns.plan_send(store_of(session), text=text, **common)
    return await session.run(turn, listener)


async def test_exchange_is_saved_before_during_and_after_the_stream(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    seen_at_request: list[list[tuple[str, str, str]]] = []

    def handler(request: Any) -> Reply:
        # What the database holds when the provider receives the request, read by another
        # connection as another process would.
        with sqlite_connection(store.path) as db:
            rows = db.execute("SELECT role, content, status FROM messages ORDER BY position")
            seen_at_request.append(list(rows))
        return sse_reply(text_chunks(["Hel", "lo", "!"], usage=USAGE))

    loopback.handler = handler
    recorder = Recorder()
    message = await ask(
        ChatSession(provider, store),
        "  What is\nthe answer?  ",
        system_prompt="be brief",
        params={"temperature": 0.3},
        listener=recorder,
    )
    assert seen_at_request == [
        [("user", "  What is\nthe answer?  ", "complete"), ("assistant", "", "streaming")]
    ]
    sent = loopback.requests[0].json()
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "  What is\nthe answer?  "},
    ]
    assert sent["temperature"] == 0.3
    assert recorder.events[0] == "started"
    assert recorder.events[-1] == "finished"
    assert "".join(d.text for d in recorder.deltas if isinstance(d, TextDelta)) == "Hello!"

    assert message == recorder.finished
    assert message == store.get_message(message.id)
    assert (message.status, message.content, message.role) == ("complete", "Hello!", "assistant")
    assert (message.prompt_tokens, message.completion_tokens) == (11, 3)
    assert message.tokens_estimated is False
    assert message.ttft_ms is not None
    assert message.duration_ms is not None
    assert 0 <= message.ttft_ms <= message.duration_ms
    assert (message.model, message.provider) == ("m", "openai")
    thread = store.get_thread(message.thread_id)
    assert thread is not None
    assert thread.title == "What is the answer?"
    assert (thread.system_prompt, thread.params, thread.model) == (
        "be brief",
        {"temperature": 0.3},
        "m",
    )


async def test_usage_is_estimated_when_the_provider_sends_none(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["four score and seven years ago"]))
    message = await ask(ChatSession(provider, store), "a prompt of some length")
    assert message.tokens_estimated is True
    assert message.completion_tokens is not None
    assert message.completion_tokens > 3
    assert message.prompt_tokens is not None
    assert message.prompt_tokens > 3


async def test_time_to_first_token_covers_the_wait_for_it(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    reply = sse_reply(text_chunks(["a", "b"], usage=USAGE))
    reply.pieces.insert(0, Pause(0.3))
    reply.pieces.insert(2, Pause(0.15))  # tokens over time: a rate is measured
    loopback.handler = lambda r: reply
    message = await ask(ChatSession(provider, store), "x")
    assert message.ttft_ms is not None
    assert message.ttft_ms >= 290
    assert message.tokens_per_second is not None


async def test_checkpoints_are_spaced_by_the_interval_not_per_token(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    with sqlite_connection(store.path) as db:  # count content writes with a trigger of our own
        db.execute("CREATE TABLE writes (at REAL)")
        db.execute(
            "CREATE TRIGGER count_writes AFTER UPDATE OF content ON messages "
            "BEGIN INSERT INTO writes VALUES (julianday('now') * 86400.0); END"
        )
    words = [f"w{i} " for i in range(30)]
    loopback.handler = lambda r: slow_words(words, 0.02)
    recorder = Recorder(store)
    await ask(ChatSession(provider, store, checkpoint_interval=0.15), "x", listener=recorder)
    with sqlite_connection(store.path) as db:
        times = [row[0] for row in db.execute("SELECT at FROM writes ORDER BY rowid")]
    checkpoints = times[:-1]  # the last write is the final save
    assert 2 <= len(checkpoints) < len(words) / 3
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(checkpoints))
    # While streaming, the database held a growing prefix of the answer.
    full = "".join(words)
    partial = [text for text in recorder.stored_at_delta if text]
    assert partial
    assert all(full.startswith(text) for text in partial)
    assert len(set(partial)) >= 2


async def test_a_burst_of_deltas_is_not_written_per_token(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    with sqlite_connection(store.path) as db:
        db.execute("CREATE TABLE writes (n INTEGER)")
        db.execute(
            "CREATE TRIGGER count_writes AFTER UPDATE OF content ON messages "
            "BEGIN INSERT INTO writes VALUES (1); END"
        )
    loopback.handler = lambda r: sse_reply(text_chunks([f"t{i}" for i in range(500)]))
    message = await ask(ChatSession(provider, store), "x")
    assert message.content == "".join(f"t{i}" for i in range(500))
    with sqlite_connection(store.path) as db:
        (writes,) = db.execute("SELECT count(*) FROM writes").fetchone()
    assert writes < 25  # one a token would be 500


async def test_a_stream_that_goes_quiet_has_its_tail_saved_by_the_timer(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    pieces: list[bytes | Pause] = [
        f"data: {json.dumps(chunk(word))}\n\n".encode() for word in ("a", "b", "c")
    ]
    pieces += [
        Pause(1.3),
        f"data: {json.dumps(chunk('d', finish='stop'))}\n\ndata: [DONE]\n\n".encode(),
    ]
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=pieces
    )
    recorder = Recorder()
    session = ChatSession(provider, store, checkpoint_interval=0.1)
    task = asyncio.create_task(ask(session, "x", listener=recorder))
    saved = None
    for _ in range(100):  # up to 1 s, inside the silence
        await asyncio.sleep(0.01)
        if recorder.started is not None:
            saved = store.get_message(recorder.answer_id)
            if saved is not None and saved.content == "abc":
                break
    assert saved is not None
    assert (saved.content, saved.status) == ("abc", "streaming")
    assert not task.done()
    assert (await task).content == "abcd"


async def test_cancel_keeps_the_partial_text_as_cancelled(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    loopback.handler = lambda r: slow_words([f"w{i} " for i in range(100)], 0.05)
    recorder = Recorder()
    task = asyncio.create_task(ask(ChatSession(provider, store), "x", listener=recorder))
    await wait_until(lambda: sum(isinstance(d, TextDelta) for d in recorder.deltas) >= 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    shown = "".join(d.text for d in recorder.deltas if isinstance(d, TextDelta))
    saved = store.get_message(recorder.answer_id)
    assert saved is not None
    assert saved.status == "cancelled"
    assert saved.content == shown
    assert shown.startswith("w0 w1 w2 ")
    assert recorder.finished == saved
    assert saved.tokens_estimated is True
    assert loopback.wait_for_disconnect(5)


async def test_a_provider_error_keeps_the_partial_text_and_the_error(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    loopback.handler = lambda r: sse_reply(
        [chunk("partial "), {"error": {"message": "upstream died"}}], done=False
    )
    recorder = Recorder()
    with pytest.raises(errors.StreamError, match="upstream died"):
        await ask(ChatSession(provider, store), "x", listener=recorder)
    saved = store.get_message(recorder.answer_id)
    assert saved is not None
    assert (saved.status, saved.content) == ("error", "partial ")
    assert saved.error is not None
    assert "upstream died" in saved.error
    assert recorder.finished == saved


async def test_continuing_a_thread_sends_its_history(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    session = ChatSession(provider, store)
    loopback.handler = lambda r: sse_reply(text_chunks(["one"]))
    first = await ask(session, "first", system_prompt="sys")
    loopback.handler = lambda r: Reply(status=500, pieces=[b"{}"], framing="length")
    with pytest.raises(errors.ServerError):  # an empty failed answer is not replayed
        await ask(session, "second", thread_id=first.thread_id)
    loopback.handler = lambda r: sse_reply(text_chunks(["three"]))
    third = await ask(session, "third", thread_id=first.thread_id, params={"top_p": 0.5})
    # The failed answer had no text: the two user messages around it go as one, so templates
    # that require alternating roles (llama.cpp's Gemma) accept the history.
    assert loopback.requests[-1].json()["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "one"},
        {"role": "user", "content": "second\n\nthird"},
    ]
    assert loopback.requests[-1].json()["top_p"] == 0.5
    roles = [(m.role, m.status) for m in store.messages(first.thread_id)]
    assert roles == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("user", "complete"),
        ("assistant", "error"),
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert third.position == 5


async def test_regenerate_answers_the_last_user_message_again(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    session = ChatSession(provider, store)
    loopback.handler = lambda r: sse_reply(text_chunks(["bad"]))
    first = await ask(session, "question")
    store.delete_message(first.id)  # what the UI's Retry does with an empty failed answer
    loopback.handler = lambda r: sse_reply(text_chunks(["good"]))
    recorder = Recorder()
    again = await ask(session, None, thread_id=first.thread_id, listener=recorder)
    assert loopback.requests[-1].json()["messages"] == [{"role": "user", "content": "question"}]
    assert recorder.started is not None
    assert recorder.started[1] is None
    assert [(m.role, m.content) for m in store.messages(first.thread_id)] == [
        ("user", "question"),
        ("assistant", "good"),
    ]
    assert again.content == "good"


async def test_without_a_store_the_exchange_lives_in_memory(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["in ", "memory"], usage=USAGE))
    recorder = Recorder()
    message = await ask(ChatSession(provider, None), "hi", listener=recorder)
    assert (message.content, message.status, message.completion_tokens) == (
        "in memory",
        "complete",
        3,
    )
    assert recorder.finished == message
    assert recorder.started is not None
    assert recorder.started[0].title == "hi"
    with pytest.raises(errors.ConfigError):
        await ask(ChatSession(provider, None), "hi", thread_id="abc")


async def test_a_locked_database_mid_stream_loses_nothing_and_retries(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    words = [f"w{i} " for i in range(40)]
    loopback.handler = lambda r: slow_words(words, 0.03)
    recorder = Recorder()
    session = ChatSession(provider, store, checkpoint_interval=0.05)
    task = asyncio.create_task(ask(session, "x", listener=recorder))
    await wait_until(lambda: len(recorder.deltas) >= 5)
    with write_lock(store.path):
        during = len(recorder.deltas)
        frozen = store.get_message(recorder.answer_id)  # reading still works under the lock
        await asyncio.sleep(0.4)  # several checkpoints fail meanwhile
        assert len(recorder.deltas) > during + 3  # the stream kept flowing
        assert store.get_message(recorder.answer_id) == frozen  # nothing could be saved
    # Released: a later checkpoint catches up before the end.
    caught_up = False
    while not task.done():
        await asyncio.sleep(0.01)
        saved = store.get_message(recorder.answer_id)
        shown = "".join(d.text for d in recorder.deltas if isinstance(d, TextDelta))
        caught_up = caught_up or (saved is not None and len(saved.content) > len(shown) - 20)
    message = await task
    assert message.content == "".join(words)
    assert store.get_message(message.id) == message
    assert caught_up


async def test_a_final_save_that_fails_raises_after_reporting_the_answer(
    loopback: LoopbackServer, provider: OpenAICompatProvider, tmp_path: Path
) -> None:
    words = [f"w{i} " for i in range(20)]
    loopback.handler = lambda r: slow_words(words, 0.02)
    recorder = Recorder()
    with Store.open(tmp_path / "data", busy_timeout=0.05) as store:
        session = ChatSession(provider, store, checkpoint_interval=0.05)
        task = asyncio.create_task(ask(session, "x", listener=recorder))
        await wait_until(lambda: len(recorder.deltas) >= 8)
        with write_lock(store.path):
            with pytest.raises(errors.StoreError, match="locked"):
                await task
            assert recorder.finished is not None
            assert recorder.finished.content == "".join(words)  # shown, though not saved
            assert recorder.finished.status == "complete"
    with Store.open(tmp_path / "data") as store:  # the next start: interrupted, text kept
        saved = store.get_message(recorder.answer_id)
        assert saved is not None
        assert saved.status == "interrupted"
        assert saved.content
        assert "".join(words).startswith(saved.content)


def test_titles_are_trimmed_and_shortened_at_a_word() -> None:
    assert title_from("  hello \n  world ") == "hello world"
    long = "word " * 30
    title = title_from(long)
    assert len(title) <= 60
    assert title.endswith("…")
    assert title.startswith("word word")
    assert not title[:-1].endswith(" ")
    assert len(title_from("x" * 200)) == 60
