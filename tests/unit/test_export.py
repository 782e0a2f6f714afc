"""Export and import in process: every field survives, bad files are named, imports are atomic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llms_desktop.errors import StoreError
from llms_desktop.store import Store
from llms_desktop.store.export import export_json, export_markdown
from llms_desktop.store.importer import ImportFormatError, import_threads, loads, parse
from llms_desktop.types import Message, Thread

CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "other") as opened:
        yield opened


def fill(store: Store) -> Thread:
    """A thread using every field, with unusual values where a lossy path would show."""
    thread = Thread(
        id="t-rich",
        title="Ünïcode ✓ title",
        created_at=1700000000.123456,
        updated_at=1700000999.5,
        model="model-x",
        provider="openai",
        system_prompt="line one\nline two",
        params={"temperature": 0.7, "stop": ["\n\n"], "nested": {"a": [1, None, True]}},
        pinned=True,
        archived=True,
    )
    store.insert_thread(thread)
    messages = [
        Message(
            id="m0", thread_id=thread.id, role="system", content="sys", position=0, created_at=1.5
        ),
        Message(
            id="m1",
            thread_id=thread.id,
            role="user",
            content="q ⚡\r\nwith CRLF",
            position=2,
            parent_id="m0",
            created_at=2.25,
        ),
        Message(
            id="m2",
            thread_id=thread.id,
            role="assistant",
            content="",
            status="error",
            position=5,
            parent_id="m1",
            reasoning="hmm…",
            tool_calls=(CALL,),
            error="HTTP 500: upstream",
            model="model-x",
            provider="openai",
            prompt_tokens=10,
            completion_tokens=0,
            tokens_estimated=True,
            ttft_ms=None,
            duration_ms=1234.5,
            created_at=3.0,
        ),
        Message(
            id="m3",
            thread_id=thread.id,
            role="assistant",
            content="partial",
            status="cancelled",
            position=6,
            parent_id="m2",
            selected_at=4.5,
            ttft_ms=50.25,
            duration_ms=75.0,
            prompt_tokens=3,
            completion_tokens=1,
            created_at=4.0,
        ),
    ]
    for message in messages:
        store.insert_message(message)
    return thread


def round_trip(document: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(document, ensure_ascii=False))  # type: ignore[no-any-return]


def test_json_export_import_loses_nothing(store: Store, other: Store) -> None:
    thread = fill(store)
    store.create_thread("plain")
    document = export_json(store)
    result = import_threads(other, loads(json.dumps(document), "export.json"))
    assert (result.imported, result.messages, result.skipped) == (2, 4, ())
    assert other.get_thread(thread.id) == store.get_thread(thread.id)
    assert other.all_messages(thread.id) == store.all_messages(thread.id)
    again = export_json(other)
    assert round_trip(again)["threads"] == round_trip(document)["threads"]


def test_importing_twice_skips_existing_ids(store: Store, other: Store) -> None:
    fill(store)
    parsed = parse(round_trip(export_json(store)))
    import_threads(other, parsed)
    result = import_threads(other, parsed)
    assert (result.imported, result.skipped) == (0, ("t-rich",))


def test_a_copy_under_a_new_thread_id_gets_fresh_message_ids(store: Store) -> None:
    fill(store)
    document = round_trip(export_json(store))
    document["threads"][0]["id"] = "t-copy"
    import_threads(store, parse(document))
    copy = store.all_messages("t-copy")
    assert [m.content for m in copy] == [m.content for m in store.all_messages("t-rich")]
    assert not {m.id for m in copy} & {"m0", "m1", "m2", "m3"}
    assert copy[2].parent_id == copy[1].id  # the link follows the renamed message


def test_streaming_rows_import_as_interrupted(store: Store, other: Store) -> None:
    thread = store.create_thread("t")
    answer = store.add_message(thread.id, "assistant", "", status="streaming")
    store.update_message_content(answer.id, "half")
    import_threads(other, parse(round_trip(export_json(store))))
    imported = other.get_message(answer.id)
    assert imported is not None
    assert (imported.status, imported.content) == ("interrupted", "half")


def test_an_import_is_all_or_nothing_even_when_the_database_refuses(store: Store) -> None:
    good = Thread(id="good", title="", created_at=1, updated_at=1)
    bad = Thread(id="bad", title="", created_at=1, updated_at=1)
    broken = Message(id="x", thread_id="bad", role="bot", content="", created_at=1)  # type: ignore[arg-type]
    ok = Message(id="y", thread_id="good", role="user", content="", created_at=1)
    with pytest.raises(StoreError):
        import_threads(store, [(good, [ok]), (bad, [broken])])
    assert store.list_threads() == []
    assert store.get_message("y") is None


def test_markdown_shows_the_conversation(store: Store) -> None:
    fill(store)
    text = export_markdown(store, ["t-rich"])
    assert text.startswith("# Ünïcode ✓ title\n")
    for piece in (
        "model-x (openai)",
        "> line one\n> line two",
        "q ⚡",
        "hmm…",
        "HTTP 500: upstream",
    ):
        assert piece in text
    assert "Tool call `lookup`" in text
    assert "## Assistant · cancelled · 1 tokens" in text
    assert export_markdown(store, []) == ""


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda d: d["threads"][0].pop("id"),
            "threads[0].id: expected a non-empty string id, got nothing",
        ),
        (
            lambda d: d["threads"][0].update(created_at="yesterday"),
            "threads[0].created_at: expected a number",
        ),
        (
            lambda d: d["threads"][0].update(pinned="yes"),
            "threads[0].pinned: expected true or false",
        ),
        (lambda d: d["threads"][0].update(params=[1]), "threads[0].params: expected an object"),
        (
            lambda d: d["threads"][0]["messages"][1].update(role="bot"),
            "messages[1].role: expected one of",
        ),
        (lambda d: d["threads"][0]["messages"][2].update(status="done"), "messages[2].status"),
        (lambda d: d["threads"][0]["messages"][2].update(tool_calls="x"), "messages[2].tool_calls"),
        (
            lambda d: d["threads"][0]["messages"][3].update(prompt_tokens=1.5),
            "messages[3].prompt_tokens",
        ),
        (
            lambda d: d["threads"][0]["messages"][3].update(id="m1"),
            "messages[3].id: 'm1' appears twice",
        ),
        (
            lambda d: d["threads"][0]["messages"][3].update(position=2),
            "messages[3].position: 2 appears twice",
        ),
        (lambda d: d["threads"][0]["messages"][2].update(parent_id="zz"), "messages[2].parent_id"),
        (
            lambda d: d["threads"].append(dict(d["threads"][0])),
            "threads[1].id: 't-rich' appears twice",
        ),
    ],
)
def test_malformed_documents_name_the_bad_field(store: Store, mutate: Any, needle: str) -> None:
    fill(store)
    document = round_trip(export_json(store))
    mutate(document)
    with pytest.raises(ImportFormatError) as caught:
        parse(document, "f.json")
    assert needle in str(caught.value)
    assert str(caught.value).startswith("f.json: ")


def test_llmspy_content_parts_times_and_usage(store: Store) -> None:
    document = {
        "source": "llmspy",
        "version": "2.0",
        "threads": [
            {
                "id": 1759312800000,
                "title": "Parts",
                "createdAt": 1759312800000,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "look"}, {"type": "image_url"}],
                    },
                    {"role": "assistant", "content": None, "reasoning": "because"},
                ],
            }
        ],
    }
    (result,) = parse(document)
    thread, messages = result
    assert (thread.id, thread.created_at, thread.updated_at) == (
        "1759312800000",
        1759312800.0,
        1759312800.0,
    )
    assert messages[0].content == "look\n[image_url]"
    assert (messages[1].content, messages[1].reasoning) == ("", "because")
    assert all(m.created_at == thread.created_at for m in messages)
    document["threads"][0]["createdAt"] = "last tuesday"  # type: ignore[index]
    with pytest.raises(
        ImportFormatError, match=r"threads\[0\]\.createdAt: expected an ISO 8601 date"
    ):
        parse(document)


def test_export_all_is_one_snapshot_even_when_threads_change_meanwhile(tmp_path: Path) -> None:
    from llms_desktop.store.export import iter_threads

    with Store.open(tmp_path / "data") as store:
        ids = [store.create_thread(f"t{i}").id for i in range(1200)]
        exported = []
        for number, thread in enumerate(iter_threads(store)):
            exported.append(thread.id)
            if number == 10:
                # An answer finishes in the oldest thread while the export runs.
                store.add_message(ids[0], "user", "bump")
        assert sorted(exported) == sorted(ids)
