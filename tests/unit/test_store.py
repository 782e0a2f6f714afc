"""The SQLite store on a real file: threads, messages, search, start-up recovery and faults."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llms_desktop.errors import StoreError
from llms_desktop.paths import DB_FILENAME, data_dir
from llms_desktop.store import HIGHLIGHT_END, HIGHLIGHT_START, RecordNotFound, Store, highlight
from llms_desktop.store.migrations import MIGRATIONS
from tests.support.store_faults import sqlite_connection, write_lock


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


def raw(store: Store) -> contextlib.AbstractContextManager[sqlite3.Connection]:
    """A second, independent connection to the same file, as another process would have."""
    return sqlite_connection(store.path)


def test_open_creates_the_folder_and_a_wal_database(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    with Store.open(folder) as store:
        assert store.path == folder / DB_FILENAME
        assert store.recovered_from is None
        assert store.interrupted_on_open == 0
    with sqlite_connection(folder / DB_FILENAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
        names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY name")]
    assert names == sorted(name for name, _ in MIGRATIONS)


def test_data_dir_prefers_flag_then_env_then_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMS_DESKTOP_HOME", str(tmp_path / "env"))
    assert data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert data_dir() == tmp_path / "env"
    monkeypatch.delenv("LLMS_DESKTOP_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "llms-desktop"


def test_threads_create_rename_pin_archive_and_list_newest_first(store: Store) -> None:
    first = store.create_thread("first", model="m", params={"temperature": 0.2})
    second = store.create_thread("second")
    third = store.create_thread("third")
    store.add_message(first.id, "user", "bump")  # activity moves a thread to the top
    assert [t.title for t in store.list_threads()] == ["first", "third", "second"]
    assert [t.title for t in store.list_threads(limit=2, offset=1)] == ["third", "second"]

    store.rename_thread(second.id, "renamed")
    store.set_pinned(second.id, True)
    store.set_archived(third.id, True)
    got = store.get_thread(second.id)
    assert got is not None
    assert (got.title, got.pinned, got.archived) == ("renamed", True, False)
    again = store.get_thread(first.id)
    assert again is not None
    assert again.params == {"temperature": 0.2}
    assert again.model == "m"
    assert store.get_thread(third.id) is not None
    assert store.get_thread("nope") is None

    with pytest.raises(RecordNotFound):
        store.rename_thread("nope", "x")
    store.delete_thread(third.id)
    store.delete_thread(third.id)  # deleting twice is harmless
    assert [t.id for t in store.list_threads()] == [first.id, second.id]


def test_messages_keep_order_fields_and_progressive_updates(store: Store) -> None:
    thread = store.create_thread("t")
    user = store.add_message(thread.id, "user", "question")
    answer = store.add_message(thread.id, "assistant", "", status="streaming", model="m")
    assert (user.position, answer.position) == (0, 1)

    store.update_message_content(answer.id, "part", reasoning="thinking")
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    store.update_message_content(answer.id, "partial", tool_calls=calls)
    mid = store.get_message(answer.id)
    assert mid is not None
    assert (mid.content, mid.reasoning, mid.status) == ("partial", "thinking", "streaming")
    assert list(mid.tool_calls) == calls

    store.set_message_usage(
        answer.id,
        prompt_tokens=7,
        completion_tokens=3,
        estimated=True,
        ttft_ms=12.5,
        duration_ms=99,
    )
    final = store.finish_message(answer.id, "error", content="partial text", error="HTTP 500: x")
    assert final.status == "error"
    assert final.content == "partial text"
    assert final.error == "HTTP 500: x"
    assert final.reasoning == "thinking"  # None leaves it as it was
    assert (final.prompt_tokens, final.completion_tokens, final.tokens_estimated) == (7, 3, True)
    assert (final.ttft_ms, final.duration_ms) == (12.5, 99)

    third = store.add_message(thread.id, "user", "again")
    store.delete_message(user.id)
    assert [m.id for m in store.messages(thread.id)] == [answer.id, third.id]
    assert store.add_message(thread.id, "user", "x").position == 3
    assert store.count_messages(thread.id) == 3

    with pytest.raises(RecordNotFound):
        store.add_message("nope", "user", "x")
    with pytest.raises(RecordNotFound):
        store.update_message_content("nope", "x")


def test_deleting_a_thread_deletes_its_messages_and_their_index(store: Store) -> None:
    thread = store.create_thread("t")
    store.add_message(thread.id, "user", "zebra crossing")
    store.delete_thread(thread.id)
    assert store.messages(thread.id) == []
    assert store.search("zebra") == []
    with raw(store) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (0,)


def test_search_highlights_matches_and_finds_every_word(store: Store) -> None:
    thread = store.create_thread("Coffee talk")
    store.add_message(thread.id, "user", "Where can I get a good café au lait?")
    store.add_message(thread.id, "assistant", "Any café with an espresso machine can make one.")
    store.add_message(thread.id, "user", "Unrelated words here.")

    hits = store.search("cafe espresso")  # diacritics folded; every word must appear
    assert len(hits) == 1
    hit = hits[0]
    assert (hit.thread_id, hit.thread_title, hit.role) == (thread.id, "Coffee talk", "assistant")
    assert f"{HIGHLIGHT_START}café{HIGHLIGHT_END}" in hit.snippet
    assert highlight(hit.snippet) == "Any [café] with an [espresso] machine can make one."
    assert [h.role for h in store.search("café")] == ["assistant", "user"]  # newest first
    assert store.search("espre") == []  # whole words...
    assert [h.role for h in store.search("espre*")] == ["assistant"]  # ...unless asked
    assert store.search("missing") == []


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ('"', 0),
        ('"unclosed', 1),
        ("-minus", 1),
        ("an*", 1),
        ("an", 0),
        ("*", 0),
        ("**", 0),
        ("col:on", 1),
        ("NOT", 1),
        ("AND OR", 1),
        ("(", 0),
        ("^", 0),
        ("NEAR(", 0),
        ("'", 0),
        ("  ", 0),
    ],
)
def test_search_takes_fts_syntax_typed_by_a_user_literally(
    store: Store, query: str, found: int
) -> None:
    thread = store.create_thread("t")
    store.add_message(thread.id, "user", 'Notes: "unclosed quote, -minus and col:on, NOT AND OR')
    assert len(store.search(query)) == found


def test_streaming_text_is_indexed_once_the_answer_ends(store: Store) -> None:
    thread = store.create_thread("t")
    answer = store.add_message(thread.id, "assistant", "", status="streaming")
    store.update_message_content(answer.id, "first draft")
    assert store.search("draft") == []
    store.finish_message(answer.id, "complete", content="final words")
    assert store.search("draft") == []
    assert [h.message_id for h in store.search("final")] == [answer.id]
    store.update_message_content(answer.id, "edited text")
    assert store.search("final") == []
    assert [h.message_id for h in store.search("edited")] == [answer.id]
    store.delete_message(answer.id)
    assert store.search("edited") == []
    with raw(store) as db:  # the external-content index agrees with the table
        db.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")


def test_thread_id_prefixes_resolve_like_git(store: Store) -> None:
    thread = store.create_thread("t")
    assert store.resolve_thread_id(thread.id) == thread.id
    assert store.resolve_thread_id(thread.id[:6]) == thread.id
    with pytest.raises(RecordNotFound, match="No thread"):
        store.resolve_thread_id("zzz")
    for _ in range(40):
        store.create_thread("more")
    ids = [t.id for t in store.list_threads(limit=100)]
    shared = next(i[0] for i in ids if sum(j[0] == i[0] for j in ids) > 1)
    with pytest.raises(RecordNotFound, match="ambiguous"):
        store.resolve_thread_id(shared)


def test_streaming_messages_become_interrupted_on_the_next_open(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        thread = store.create_thread("t")
        answer = store.add_message(thread.id, "assistant", "", status="streaming")
        store.update_message_content(answer.id, "half an ans")
        done = store.add_message(thread.id, "assistant", "done")
    with Store.open(tmp_path) as store:
        assert store.interrupted_on_open == 1
        message = store.get_message(answer.id)
        assert message is not None
        assert (message.status, message.content) == ("interrupted", "half an ans")
        assert [h.message_id for h in store.search("half")] == [answer.id]
        assert store.get_message(done.id).status == "complete"  # type: ignore[union-attr]
    with Store.open(tmp_path) as store:
        assert store.interrupted_on_open == 0


def test_a_file_that_is_not_sqlite_is_moved_aside(tmp_path: Path) -> None:
    junk = os.urandom(8192)
    tmp_path.joinpath(DB_FILENAME).write_bytes(junk)
    with Store.open(tmp_path) as store:
        assert store.recovered_from is not None
        assert store.recovered_from.parent == tmp_path
        assert store.recovered_from.name.startswith(f"{DB_FILENAME}.corrupt-")
        assert store.recovered_from.read_bytes() == junk
        thread = store.create_thread("fresh")
        assert [t.id for t in store.list_threads()] == [thread.id]


def damaged_copy(folder: Path, table: str) -> bytes:
    """Fill a database, then overwrite the leaf pages of `table` with garbage."""
    with Store.open(folder) as store:
        thread = store.create_thread("t")
        for i in range(300):
            store.add_message(thread.id, "user", f"message {i} " + "x" * 500)
    path = folder / DB_FILENAME
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            pages = [
                row[0]
                for row in db.execute(
                    "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'", (table,)
                )
            ]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find the pages")
        (page_size,) = db.execute("PRAGMA page_size").fetchone()
    data = bytearray(path.read_bytes())
    for page in pages[2:6]:
        data[(page - 1) * page_size : page * page_size] = os.urandom(page_size)
    path.write_bytes(bytes(data))
    return bytes(data)


def test_damage_found_in_use_sets_the_file_aside_at_the_next_open(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    damaged = damaged_copy(folder, "messages")
    with Store.open(folder) as store:  # opening reads the schema only: fast on a big file
        assert store.recovered_from is None
        (thread,) = store.list_threads()
        with pytest.raises(StoreError, match="the file is damaged"):
            store.messages(thread.id)
    with Store.open(folder) as store:
        assert store.recovered_from is not None
        assert store.recovered_from.read_bytes() == damaged
        assert store.list_threads() == []
    assert sorted(p.name for p in folder.iterdir() if "damaged" in p.name) == []


def test_an_integrity_check_finds_damage_reads_miss(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    damaged_copy(folder, "messages_fts_data")  # only search reads these pages
    with Store.open(folder) as store:
        (thread,) = store.list_threads()
        assert len(store.messages(thread.id)) == 300
        with pytest.raises(StoreError, match="damaged"):
            store.check_integrity()
    with Store.open(folder) as store:
        assert store.recovered_from is not None
    with Store.open(folder) as store:  # the fresh file is healthy: no check, nothing moved
        store.check_integrity()
        assert store.recovered_from is None


def test_a_database_from_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    Store.open(folder).close()
    path = folder / DB_FILENAME
    with sqlite_connection(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    db.close()
    before = path.read_bytes()
    modified = path.stat().st_mtime_ns
    with pytest.raises(StoreError, match="newer llms-desktop") as caught:
        Store.open(folder)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == modified
    # Nothing but the database, the users lock and the folder of process marks (no data).
    assert sorted(p.name for p in folder.iterdir()) == [
        DB_FILENAME,
        f"{DB_FILENAME}.live",
        f"{DB_FILENAME}.users",
    ]


def test_a_locked_database_is_a_clear_error_and_works_once_released(tmp_path: Path) -> None:
    with Store.open(tmp_path, busy_timeout=0.05) as store:
        thread = store.create_thread("t")
        with write_lock(store.path):
            started = time.monotonic()
            with pytest.raises(StoreError, match="locked by another program"):
                store.add_message(thread.id, "user", "blocked")
            assert time.monotonic() - started < 5  # the injected timeout, not the default
            assert store.messages(thread.id) == []  # reading still works (WAL)
        store.add_message(thread.id, "user", "works")
        assert [m.content for m in store.messages(thread.id)] == ["works"]


def test_a_data_folder_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="Cannot create the data folder"):
        Store.open(blocker / "data")


def _add_two(store: Store, thread_id: str, second_role: str) -> None:
    with store.transaction("test"):
        store.add_message(thread_id, "user", "kept?")
        store.add_message(thread_id, second_role, "second")  # type: ignore[arg-type]
        if second_role == "user":
            raise KeyError("a bug after the writes")


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    thread = store.create_thread("t")
    with pytest.raises(StoreError):
        _add_two(store, thread.id, "nonsense")  # violates the role check
    assert store.messages(thread.id) == []
    with pytest.raises(KeyError):
        _add_two(store, thread.id, "user")
    assert store.messages(thread.id) == []
    _add_two(store, thread.id, "assistant")
    assert len(store.messages(thread.id)) == 2


def test_processes_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    start = threading.Barrier(8)
    failures: list[BaseException] = []

    def open_it() -> None:
        start.wait()
        try:
            Store.open(folder).close()
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=open_it) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert failures == []
    with sqlite_connection(folder / DB_FILENAME) as db:
        assert db.execute("SELECT count(*) FROM _migrations").fetchone() == (len(MIGRATIONS),)


def test_an_answer_streaming_in_another_live_process_is_not_marked_interrupted(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    folder = tmp_path / "data"
    probe = (
        "import sys; from pathlib import Path; from llms_desktop.store import Store; "
        "s = Store.open(Path(sys.argv[1])); print(s.interrupted_on_open, "
        "s.get_message(sys.argv[2]).status); s.close()"
    )

    def open_elsewhere(message_id: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", probe, str(folder), message_id],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()

    # This process is the window: it has the database open and an answer streaming.
    window = Store.open(folder)
    thread = window.create_thread("t")
    live = window.add_message(thread.id, "assistant", "partial", status="streaming")
    # Another process (the CLI, say) opening the database must leave that answer alone.
    assert open_elsewhere(live.id) == "0 streaming"
    window.close()  # the window is gone without finishing the answer (as after a crash)
    assert open_elsewhere(live.id) == "1 interrupted"


def test_lone_surrogates_are_stored_as_replacement_characters(tmp_path: Path) -> None:
    with Store.open(tmp_path / "data") as store:
        thread = store.create_thread("half \ud83d")
        message = store.add_message(thread.id, "assistant", "a \udc00 b", status="streaming")
        store.update_message_content(message.id, "a \udc00 b c")
        store.finish_message(message.id, "complete", content="a \udc00 b c d")
        assert store.get_thread(thread.id).title == "half \ufffd"  # type: ignore[union-attr]
        assert store.get_message(message.id).content == "a \ufffd b c d"  # type: ignore[union-attr]
