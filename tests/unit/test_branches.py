"""Branches: regenerate, edit and continue on a real store file against a loopback server."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from llms_desktop import turns
from llms_desktop.branches import MessageTree
from llms_desktop.errors import ConfigError
from llms_desktop.history import history_messages
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.store.migrations import MIGRATIONS
from llms_desktop.types import ChatMessage, Message
from tests.support.cli import COMMAND, chat_args
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, sse_reply, text_chunks
from tests.support.store_faults import sqlite_connection
from tests.support.waiting import wait_until

FIXTURES = Path(__file__).parent.parent / "fixtures" / "db"


@pytest.fixture
async def provider(loopback: LoopbackServer) -> AsyncIterator[OpenAICompatProvider]:
    async with OpenAICompatProvider(loopback.base_url, "k", timeouts=Timeouts(read=10)) as p:
        yield p


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def answers(loopback: LoopbackServer, *texts: str) -> None:
    """The loopback answers each request with the next text."""
    queue = list(texts)
    loopback.handler = lambda r: sse_reply(text_chunks([queue.pop(0)]))


def sent(loopback: LoopbackServer, index: int = -1) -> list[tuple[str, str]]:
    body = loopback.requests[index].json()
    return [(m["role"], m["content"]) for m in body["messages"]]


def path_of(store: Store, thread_id: str) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in store.messages(thread_id)]


COMMON: dict[str, Any] = {"model": "m", "provider_id": "local"}


def store_of(session: ChatSession) -> Store | None:
    """The store a session writes to (plans read from the same database)."""
    return getattr(session.writer, "store", None)


async def send(session: ChatSession, thread_id: str | None, text: str, **kwargs: Any) -> Message:
    turn = turns.plan_send(store_of(session), thread_id=thread_id, text=text, **COMMON, **kwargs)
    return await session.run(turn)


async def test_regenerate_adds_a_version_and_sends_only_the_path_above_it(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    answers(loopback, "a1", "a2", "a2 again")
    session = ChatSession(provider, store)
    first = await send(session, None, "q1")
    second = await send(session, first.thread_id, "q2")
    again = await session.run(
        turns.plan_regenerate(store, thread_id=first.thread_id, message_id=second.id, **COMMON)
    )
    assert sent(loopback) == [("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    assert path_of(store, first.thread_id) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2 again"),
    ]
    tree = store.tree(first.thread_id)
    assert again.parent_id == second.parent_id
    versions = tree.versions(again.id)
    assert (versions.index, versions.count) == (2, 2)
    assert versions.step(-1) == second.id
    assert versions.step(+1) is None
    # Switching back shows the first version again; nothing was overwritten.
    store.select_message(second.id)
    assert path_of(store, first.thread_id)[-1] == ("assistant", "a2")
    assert len(store.all_messages(first.thread_id)) == 5


async def test_edit_keeps_the_original_and_switching_back_restores_the_versions_below(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    answers(loopback, "a1", "a2", "a2 bis", "edited answer")
    session = ChatSession(provider, store)
    first = await send(session, None, "q1")
    thread_id = first.thread_id
    second = await send(session, thread_id, "q2")
    # Choose a second version of the last answer, then edit the first question.
    await session.run(turns.plan_regenerate(store, thread_id=thread_id, message_id=None, **COMMON))
    (q1,) = [m for m in store.messages(thread_id) if m.content == "q1"]
    edited = await session.run(
        turns.plan_edit(
            store, thread_id=thread_id, message_id=q1.id[:6], text="q1 edited", **COMMON
        )
    )
    assert sent(loopback) == [("user", "q1 edited")]
    assert path_of(store, thread_id) == [("user", "q1 edited"), ("assistant", "edited answer")]
    tree = store.tree(thread_id)
    (new_q1,) = [m for m in tree.by_id.values() if m.content == "q1 edited"]
    assert new_q1.parent_id is None
    assert (tree.versions(new_q1.id).index, tree.versions(new_q1.id).count) == (2, 2)
    assert edited.parent_id == new_q1.id
    # Back to the original question: the whole old conversation returns, with "a2 bis" (the
    # version chosen down there), not the first version of that answer.
    store.select_message(q1.id)
    assert path_of(store, thread_id) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2 bis"),
    ]
    assert second.content == "a2"


async def test_continue_appends_to_a_stopped_answer_and_sends_it_as_the_last_message(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    session = ChatSession(provider, store)
    loopback.handler = lambda r: sse_reply(text_chunks(["The ", "first ", "half"]), pause=0.3)
    task = asyncio.create_task(send(session, None, "tell me"))
    await wait_until(lambda: len(loopback.requests) == 1)
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (thread,) = store.list_threads()
    stopped = store.messages(thread.id)[-1]
    assert stopped.status == "cancelled"
    assert stopped.content
    answers(loopback, " and the rest.")
    continued = await session.run(
        turns.plan_continue(store, thread_id=thread.id, message_id=stopped.id, **COMMON)
    )
    assert sent(loopback) == [("user", "tell me"), ("assistant", stopped.content)]
    assert continued.id == stopped.id
    assert (continued.status, continued.content) == (
        "complete",
        stopped.content + " and the rest.",
    )
    assert len(store.all_messages(thread.id)) == 2


async def test_a_branch_streams_with_checkpoints_like_any_answer(
    loopback: LoopbackServer, provider: OpenAICompatProvider, tmp_path: Path
) -> None:
    with Store.open(tmp_path / "data") as store:
        session = ChatSession(provider, store, checkpoint_interval=0.05)
        answers(loopback, "a1")
        first = await send(session, None, "q1")
        words = [f"w{i} " for i in range(12)]
        loopback.handler = lambda r: sse_reply(text_chunks(words), pause=0.05)
        task = asyncio.create_task(
            session.run(
                turns.plan_regenerate(
                    store, thread_id=first.thread_id, message_id=first.id, **COMMON
                )
            )
        )

        def branch_text() -> str:
            # Read by another connection, as another process would.
            with sqlite_connection(store.path) as db:
                rows = db.execute(
                    "SELECT content FROM messages WHERE role = 'assistant' AND status = "
                    "'streaming' AND parent_id = ?",
                    (first.parent_id,),
                ).fetchall()
            return rows[0][0] if rows else ""

        await wait_until(lambda: len(branch_text().split()) >= 3)
        message = await task
        assert message.content == "".join(words)
        assert message.parent_id == first.parent_id


def test_a_branch_killed_mid_stream_is_interrupted_with_its_text_and_its_place(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    with Store.open(data) as store:
        thread = store.create_thread("t")
        question = store.add_message(thread.id, "user", "q")
        old = store.add_message(thread.id, "assistant", "old answer")
    pieces: list[bytes | Pause] = []
    for i in range(200):
        pieces += [sse_piece(f"t{i} "), Pause(0.05)]
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=pieces
    )
    process = subprocess.Popen(
        [
            *COMMAND,
            "--data-dir",
            str(data),
            *chat_args(loopback.base_url, "--thread", thread.id, "--regenerate"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.read(20)  # it streams
        deadline = 100
        while deadline and "t5" not in stored_branch_text(data, old.id):
            deadline -= 1
            subprocess.run(["sleep", "0.05"], check=True)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    with Store.open(data) as store:
        assert store.interrupted_on_open == 1
        tree = store.tree(thread.id)
        (branch,) = [m for m in tree.by_id.values() if m.id not in (question.id, old.id)]
        assert branch.status == "interrupted"
        assert branch.content.startswith("t0 t1 t2 t3 t4 t5")
        assert branch.parent_id == question.id
        assert [m.id for m in store.messages(thread.id)] == [question.id, branch.id]
        assert tree.versions(branch.id).count == 2


def sse_piece(text: str) -> bytes:
    import json

    return f"data: {json.dumps(chunk(text))}\n\n".encode()


def stored_branch_text(data: Path, old_id: str) -> str:
    with sqlite_connection(data / "llms-desktop.db") as db:
        rows = db.execute(
            "SELECT content FROM messages WHERE role = 'assistant' AND id != ?", (old_id,)
        ).fetchall()
    return rows[0][0] if rows else ""


def test_deleting_a_message_keeps_its_replies_in_place(store: Store) -> None:
    thread = store.create_thread("t")
    q1 = store.add_message(thread.id, "user", "q1")
    store.add_message(thread.id, "assistant", "a1")
    store.add_message(thread.id, "user", "q2")
    (_, a1, _) = store.messages(thread.id)
    store.delete_message(a1.id)
    assert path_of(store, thread.id) == [("user", "q1"), ("user", "q2")]
    assert store.messages(thread.id)[1].parent_id == q1.id


def test_the_newest_version_is_chosen_and_a_new_message_goes_after_the_active_path(
    store: Store,
) -> None:
    thread = store.create_thread("t")
    q = store.add_message(thread.id, "user", "q")
    a = store.add_message(thread.id, "assistant", "a")
    b = store.add_message(thread.id, "assistant", "b", parent_id=q.id)
    assert path_of(store, thread.id) == [("user", "q"), ("assistant", "b")]
    store.select_message(a.id)
    follow = store.add_message(thread.id, "user", "after a")
    assert follow.parent_id == a.id
    store.select_message(b.id)
    assert path_of(store, thread.id) == [("user", "q"), ("assistant", "b")]
    store.select_message(follow.id)
    assert path_of(store, thread.id) == [("user", "q"), ("assistant", "a"), ("user", "after a")]


def test_history_keeps_roles_alternating_after_failed_or_empty_answers() -> None:
    def message(role: Any, content: str, status: Any = "complete") -> Message:
        return Message(id=content or role, thread_id="t", role=role, content=content, status=status)

    path = [
        message("user", "first"),
        message("assistant", "", "error"),
        message("user", "again"),
        message("assistant", "", "cancelled"),
        message("user", "and again"),
        message("assistant", "partial", "error"),
        message("user", "next"),
    ]
    assert history_messages(path) == [
        ChatMessage("user", "first\n\nagain\n\nand again"),
        ChatMessage("assistant", "partial"),
        ChatMessage("user", "next"),
    ]


def test_a_wave_1_database_upgrades_in_place_and_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(FIXTURES / "wave1.sqlite3", data / "llms-desktop.db")
    with sqlite_connection(data / "llms-desktop.db") as old:
        before = old.execute(
            "SELECT id, thread_id, role, content, status, position FROM messages ORDER BY seq"
        ).fetchall()
    assert len(before) == 8
    with Store.open(data) as store:
        assert store.interrupted_on_open == 1  # the wave-1 crash left one answer streaming
        threads = {t.title: t for t in store.list_threads()}
        sky = threads["Sky colour"]
        assert (sky.model, sky.provider, sky.system_prompt, sky.params) == (
            "qa-model",
            "local",
            "be brief",
            {"temperature": 0.2},
        )
        path = store.messages(sky.id)
        assert [(m.role, m.content, m.status) for m in path] == [
            ("user", "Why is the sky blue?", "complete"),
            ("assistant", "Rayleigh scattering.", "complete"),
            ("user", "And sunsets?", "complete"),
            ("assistant", "Longer pa", "error"),
            ("user", "Try again: sunsets?", "complete"),
            ("assistant", "Longer path through air.", "complete"),
        ]
        # Each message now answers the one before it.
        assert [m.parent_id for m in path] == [None, *[m.id for m in path[:-1]]]
        assert path[3].error == "HTTP 500: boom"
        assert path[3].tokens_estimated is True
        assert path[-1].tool_calls[0]["function"]["name"] == "lookup"
        pinned = threads["Pinned one"]
        assert pinned.pinned
        assert [(m.content, m.status) for m in store.messages(pinned.id)] == [
            ("héllo 👋", "complete"),
            ("partial answ", "interrupted"),
        ]
        assert [hit.thread_id for hit in store.search("Rayleigh")] == [sky.id]
        # And the upgraded thread takes branches.
        store.add_message(sky.id, "assistant", "Another take.", parent_id=path[4].id)
        assert store.messages(sky.id)[-1].content == "Another take."
    with sqlite_connection(data / "llms-desktop.db") as upgraded:
        after = upgraded.execute(
            "SELECT id, thread_id, role, content, "
            "CASE status WHEN 'interrupted' THEN 'streaming' ELSE status END, position "
            "FROM messages ORDER BY seq"
        ).fetchall()
        (version,) = upgraded.execute("PRAGMA user_version").fetchone()
    assert after[: len(before)] == before
    assert version == len(MIGRATIONS)  # every migration since, applied


def test_message_tree_survives_parent_loops_and_missing_parents() -> None:
    def message(mid: str, parent: str | None, position: int) -> Message:
        return Message(
            id=mid, thread_id="t", role="user", content=mid, parent_id=parent, position=position
        )

    tree = MessageTree(
        [message("a", None, 0), message("b", "a", 1), message("x", "y", 2), message("y", "x", 3)]
    )
    assert [m.id for m in tree.active_path()] == ["a", "b"]
    assert tree.path_to("x") == [tree.by_id["y"], tree.by_id["x"]]  # stops at the loop
    orphan = MessageTree([message("a", "gone", 0), message("b", "a", 1)])
    assert [m.id for m in orphan.active_path()] == ["a", "b"]


def test_deleting_one_of_several_versions_takes_its_branch_and_leaves_the_others(
    store: Store,
) -> None:
    thread = store.create_thread("t")
    u1 = store.add_message(thread.id, "user", "U1")
    a1 = store.add_message(thread.id, "assistant", "A1")
    u2 = store.add_message(thread.id, "user", "U2")
    store.add_message(thread.id, "assistant", "A2")
    a1b = store.add_message(thread.id, "assistant", "A1-v2", parent_id=u1.id)
    store.select_message(a1.id)
    assert store.delete_message(a1.id) == 3  # A1, U2 and A2: that version's conversation
    assert path_of(store, thread.id) == [("user", "U1"), ("assistant", "A1-v2")]
    assert store.get_message(u2.id) is None
    assert store.tree(thread.id).versions(a1b.id).count == 1
    assert store.delete_message(a1.id) == 0


async def test_only_an_answer_that_stopped_early_can_be_continued_and_its_tool_calls_stay(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    thread = store.create_thread("t")
    store.add_message(thread.id, "user", "q")
    done = store.add_message(thread.id, "assistant", "Complete.")
    with pytest.raises(ConfigError, match="interrupted or cut off at the token limit can be"):
        turns.plan_continue(store, thread_id=thread.id, message_id=done.id, **COMMON)
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    stopped = store.add_message(thread.id, "assistant", "Let me check. ", tool_calls=[call])
    store.finish_message(stopped.id, "cancelled", content="Let me check. ", tool_calls=[call])
    answers(loopback, "And more.")
    continued = await ChatSession(provider, store).run(
        turns.plan_continue(store, thread_id=thread.id, message_id=stopped.id, **COMMON)
    )
    assert continued.content == "Let me check. And more."
    assert [dict(c) for c in continued.tool_calls] == [call]
