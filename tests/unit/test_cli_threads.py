"""`chat` saving exchanges and the `threads` commands, as real subprocesses on real files."""

from __future__ import annotations

import functools
import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from llms_desktop.store import Store
from tests.support.cli import COMMAND, chat_args, one_error_line, run_cli
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, sse_reply, text_chunks
from tests.support.store_faults import run_on_tmpfs, sqlite_connection

USAGE = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}


def export_all(data: Path) -> dict[str, Any]:
    result = run_cli("--data-dir", data, "threads", "export", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_a_streamed_exchange_is_exported_with_content_status_usage_and_timings(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["Hi", " there"], usage=USAGE), pause=0.01)
    data = tmp_path / "data"
    result = run_cli(
        "--data-dir", data, *chat_args(loopback.base_url, "--system", "terse", "Hello?")
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "Hi there\n", "")

    document = export_all(data)
    assert document["format"] == "llms-desktop"
    (thread,) = document["threads"]
    assert (thread["title"], thread["model"], thread["system_prompt"]) == ("Hello?", "m", "terse")
    user, answer = thread["messages"]
    assert (user["role"], user["content"], user["status"]) == ("user", "Hello?", "complete")
    assert (answer["role"], answer["content"], answer["status"]) == (
        "assistant",
        "Hi there",
        "complete",
    )
    assert (answer["prompt_tokens"], answer["completion_tokens"]) == (9, 4)
    assert answer["tokens_estimated"] is False
    assert 0 < answer["ttft_ms"] <= answer["duration_ms"]


def test_chat_continues_a_thread_and_no_store_saves_nothing(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    loopback.handler = lambda r: sse_reply(text_chunks(["first answer"]))
    assert (
        run_cli(
            "--data-dir", data, *chat_args(loopback.base_url, "--temperature", "0.5", "one")
        ).returncode
        == 0
    )
    (thread,) = export_all(data)["threads"]

    loopback.handler = lambda r: sse_reply(text_chunks(["second answer"]))
    # A unique start of the id is enough; --model falls back to the thread's.
    result = run_cli(
        "chat",
        "--data-dir",
        data,
        "--base-url",
        loopback.base_url,
        "--thread",
        thread["id"][:8],
        "two",
    )
    assert result.returncode == 0, result.stderr
    sent = loopback.requests[-1].json()
    assert sent["model"] == "m"
    assert sent["temperature"] == 0.5  # the thread's parameters carry on
    assert sent["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "two"},
    ]
    result = run_cli("--data-dir", data, *chat_args(loopback.base_url, "--no-store", "three"))
    assert (result.returncode, result.stdout) == (0, "second answer\n")
    (thread,) = export_all(data)["threads"]
    assert [m["content"] for m in thread["messages"]] == [
        "one",
        "first answer",
        "two",
        "second answer",
    ]

    assert "No thread" in one_error_line(
        run_cli("--data-dir", data, *chat_args(loopback.base_url, "--thread", "zzz", "x"))
    )
    assert "--no-store" in one_error_line(
        run_cli(
            "--data-dir", data, *chat_args(loopback.base_url, "--thread", "a", "--no-store", "x")
        )
    )


def test_threads_list_show_search_and_delete(loopback: LoopbackServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    for prompt, answer in [("About cats", "Cats purr."), ("About dogs", "Dogs bark loudly.")]:
        loopback.handler = functools.partial(lambda text, r: sse_reply(text_chunks([text])), answer)
        assert run_cli("--data-dir", data, *chat_args(loopback.base_url, prompt)).returncode == 0

    listing = run_cli("--data-dir", data, "threads", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert [line.split()[-2:] for line in lines] == [["About", "dogs"], ["About", "cats"]]
    assert all(line.split()[3] == "2" for line in lines)  # message counts
    dogs_id = lines[0].split()[0]

    shown = run_cli("threads", "show", dogs_id[:6], "--data-dir", data)  # option after the command
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("# About dogs\n")
    assert "Dogs bark loudly." in shown.stdout

    found = run_cli("--data-dir", data, "threads", "search", "bark")
    assert found.returncode == 0, found.stderr
    assert found.stdout == f"{dogs_id}  About dogs\n    assistant: Dogs [bark] loudly.\n"
    nothing = run_cli("--data-dir", data, "threads", "search", '"-*')
    assert (nothing.returncode, nothing.stdout) == (0, "")

    deleted = run_cli("--data-dir", data, "threads", "delete", dogs_id)
    assert deleted.returncode == 0, deleted.stderr
    assert dogs_id in deleted.stdout
    assert len(run_cli("--data-dir", data, "threads", "list").stdout.splitlines()) == 1
    assert "No thread" in one_error_line(run_cli("--data-dir", data, "threads", "show", dogs_id))


def test_the_environment_variable_picks_the_data_folder(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["ok"]))
    env = {"LLMS_DESKTOP_HOME": str(tmp_path / "from-env")}
    assert run_cli(*chat_args(loopback.base_url, "x"), env=env).returncode == 0
    assert (tmp_path / "from-env" / "llms-desktop.db").exists()
    assert len(run_cli("threads", "list", env=env).stdout.splitlines()) == 1
    assert run_cli("--data-dir", tmp_path / "other", "threads", "list", env=env).stdout == ""


def test_export_then_import_into_another_folder_round_trips(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    data, copy = tmp_path / "data", tmp_path / "copy"
    loopback.handler = lambda r: sse_reply(
        [chunk(reasoning="thinking"), *text_chunks(["answer"], usage=USAGE)]
    )
    for prompt in ("one", "two"):
        assert (
            run_cli(
                "--data-dir", data, *chat_args(loopback.base_url, "--max-tokens", "9", prompt)
            ).returncode
            == 0
        )
    out = tmp_path / "export.json"
    result = run_cli("--data-dir", data, "threads", "export", "--all", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "2 threads" in result.stderr

    imported = run_cli("--data-dir", copy, "threads", "import", out)
    assert (imported.returncode, imported.stdout) == (0, "Imported 2 threads (4 messages).\n")
    original, again = json.loads(out.read_text()), export_all(copy)
    original.pop("exported_at")
    again.pop("exported_at")
    assert again == original
    assert original["threads"][0]["messages"][1]["reasoning"] == "thinking"

    twice = run_cli("--data-dir", copy, "threads", "import", out)
    assert twice.stdout == "Imported 0 threads (0 messages); skipped 2 whose ids already exist.\n"

    one_id = original["threads"][0]["id"]
    markdown = tmp_path / "one.md"
    assert (
        run_cli(
            "--data-dir", data, "threads", "export", one_id, "--format", "md", "-o", markdown
        ).returncode
        == 0
    )
    text = markdown.read_text()
    assert text.startswith("# two\n")
    assert "thinking" in text
    assert "answer" in text
    assert "--all" in one_error_line(run_cli("--data-dir", data, "threads", "export"))


def test_importing_an_llmspy_export(tmp_path: Path) -> None:
    llmspy = {
        "exportedAt": "2025-10-01T10:00:00.000Z",
        "version": "2.0",
        "source": "llmspy",
        "threads": [
            {
                "id": "1759312800000",
                "title": "Capital of France",
                "model": "gpt-4o",
                "systemPrompt": "Be concise",
                "createdAt": "2025-10-01T09:00:00.000Z",
                "updatedAt": "2025-10-01T09:05:00.000Z",
                "messages": [
                    {"role": "user", "content": "Capital of France?", "usage": {"tokens": 12}},
                    {
                        "role": "assistant",
                        "content": "Paris.",
                        "usage": {"tokens": 2, "price": "0.00001", "duration": 850},
                        "timestamp": "2025-10-01T09:00:02.000Z",
                    },
                ],
            }
        ],
    }
    path = tmp_path / "llmspy.json"
    path.write_text(json.dumps(llmspy))
    result = run_cli("--data-dir", tmp_path / "data", "threads", "import", path)
    assert (result.returncode, result.stdout) == (0, "Imported 1 thread (2 messages).\n")
    (thread,) = export_all(tmp_path / "data")["threads"]
    assert (thread["id"], thread["title"], thread["model"]) == (
        "1759312800000",
        "Capital of France",
        "gpt-4o",
    )
    assert thread["system_prompt"] == "Be concise"
    assert thread["created_at"] == 1759309200.0
    user, answer = thread["messages"]
    assert (user["role"], user["content"]) == ("user", "Capital of France?")
    assert (answer["content"], answer["prompt_tokens"], answer["completion_tokens"]) == (
        "Paris.",
        12,
        2,
    )
    assert (answer["duration_ms"], answer["created_at"], answer["status"]) == (
        850,
        1759309202.0,
        "complete",
    )


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
        ("[]", "expected a JSON object"),
        ('{"threads": []}', "not an llms-desktop export"),
        ('{"source": "llmspy", "threads": {}}', "threads: expected a list"),
        (
            '{"source": "llmspy", "threads": [{"id": "a", "messages": [{"role": "bot"}]}]}',
            "threads[0].messages[0].role",
        ),
        ('{"format": "llms-desktop", "version": 99, "threads": []}', "version 99"),
    ],
)
def test_a_malformed_import_file_is_one_clear_line(
    tmp_path: Path, content: str, needle: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert needle in one_error_line(
        run_cli("--data-dir", tmp_path / "data", "threads", "import", path)
    )


@pytest.mark.parametrize(
    ("where", "key", "value", "needle"),
    [
        ("message", "position", 2**70, "expected a whole number from -2**63 to 2**63-1"),
        ("message", "prompt_tokens", -(2**63) - 1, "expected a whole number from -2**63"),
        ("message", "created_at", float("nan"), "expected a finite number or null, got nan"),
        ("thread", "created_at", float("inf"), "expected a finite number or null, got inf"),
        ("thread", "updated_at", 1e300, "expected a time in Unix seconds from 0 to 253370764800"),
        ("message", "selected_at", -1.0, "expected a time in Unix seconds"),
        ("message", "duration_ms", float("-inf"), "expected a finite number or null"),
    ],
)
def test_hostile_numbers_in_an_import_are_named_by_their_path(
    tmp_path: Path, where: str, key: str, value: float, needle: str
) -> None:
    thread: dict[str, Any] = {
        "id": "t",
        "created_at": 1.0,
        "messages": [{"id": "m1", "role": "user", "content": "hi"}],
    }
    target = thread if where == "thread" else thread["messages"][0]
    target[key] = value
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps({"format": "llms-desktop", "version": 2, "threads": [thread]}))
    data = tmp_path / "data"
    line = one_error_line(run_cli("--data-dir", data, "threads", "import", path))
    prefix = "threads[0]" if where == "thread" else "threads[0].messages[0]"
    assert f"{prefix}.{key}: {needle}" in line
    assert run_cli("--data-dir", data, "threads", "list").stdout == ""


def test_hostile_llmspy_times_and_usage(tmp_path: Path) -> None:
    def document(created: object, tokens: object, duration: object) -> str:
        message = {"role": "assistant", "content": "x", "usage": {"tokens": tokens}}
        message["usage"]["duration"] = duration
        thread = {"id": "1", "createdAt": created, "messages": [message]}
        return json.dumps({"source": "llmspy", "threads": [thread]})

    data = tmp_path / "data"
    path = tmp_path / "llmspy.json"
    for created in (float("inf"), float("nan"), "0001-01-01T00:00:00Z"):
        path.write_text(document(created, 1, 1))
        line = one_error_line(run_cli("--data-dir", data, "threads", "import", path))
        assert "threads[0].createdAt: expected an ISO 8601 date from 1970 to 9998" in line
    # Usage is optional there: numbers that cannot be stored are left out.
    path.write_text(document("2025-10-01T09:00:00Z", 2**70, float("nan")))
    assert run_cli("--data-dir", data, "threads", "import", path).returncode == 0
    shown = run_cli("--data-dir", data, "threads", "show", "1")
    assert shown.returncode == 0, shown.stderr
    (thread,) = export_all(data)["threads"]
    answer = thread["messages"][0]
    assert (answer["completion_tokens"], answer["duration_ms"]) == (None, None)


def test_a_malformed_thread_anywhere_imports_nothing(tmp_path: Path) -> None:
    good = {
        "id": "good",
        "title": "fine",
        "created_at": 1.0,
        "messages": [{"id": "m1", "role": "user", "content": "hi"}],
    }
    bad = {
        "id": "bad",
        "created_at": 2.0,
        "messages": [{"id": "m2", "role": "user", "content": 42}],
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"format": "llms-desktop", "version": 1, "threads": [good, bad]}))
    line = one_error_line(run_cli("--data-dir", tmp_path / "data", "threads", "import", path))
    assert "threads[1].messages[0].content: expected a string, got 42" in line
    assert run_cli("--data-dir", tmp_path / "data", "threads", "list").stdout == ""
    missing = one_error_line(
        run_cli("--data-dir", tmp_path / "data", "threads", "import", tmp_path / "nope.json")
    )
    assert "No such file" in missing


def test_ctrl_c_saves_the_partial_answer_as_cancelled(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    pieces: list[bytes | Pause] = []
    for i in range(200):
        pieces += [f"data: {json.dumps(chunk(f'w{i} '))}\n\n".encode(), Pause(0.05)]
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=pieces
    )
    data = tmp_path / "data"
    process = subprocess.Popen(
        [*COMMAND, "--data-dir", str(data), *chat_args(loopback.base_url, "x")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    printed = process.stdout.read(9)  # "w0 w1 w2 "
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    shown = (printed + out).decode().rstrip("\n")
    with Store.open(data) as store:
        assert store.interrupted_on_open == 0
        (thread,) = store.list_threads()
        answer = store.messages(thread.id)[-1]
    assert (answer.status, answer.content) == ("cancelled", shown)
    assert shown.startswith("w0 w1 w2 ")


def test_a_mid_stream_error_is_saved_with_the_partial_text(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(
        [chunk("partial "), {"error": {"message": "boom"}}], done=False
    )
    data = tmp_path / "data"
    assert "boom" in one_error_line(run_cli("--data-dir", data, *chat_args(loopback.base_url, "x")))
    answer = export_all(data)["threads"][0]["messages"][-1]
    assert (answer["status"], answer["content"]) == ("error", "partial ")
    assert "boom" in answer["error"]


def test_a_damaged_database_is_replaced_and_the_user_told_where_it_went(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "llms-desktop.db").write_bytes(b"definitely not sqlite" * 100)
    result = run_cli("--data-dir", data, "threads", "list")
    assert result.returncode == 0
    (line,) = result.stderr.strip().splitlines()[:1]
    assert "damaged" in line
    moved = next(data.glob("llms-desktop.db.corrupt-*"))
    assert str(moved) in line
    assert moved.read_bytes() == b"definitely not sqlite" * 100


def test_a_database_from_a_newer_version_is_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store.open(data).close()
    with sqlite_connection(data / "llms-desktop.db") as db:
        db.execute("PRAGMA user_version = 999")
    db.close()
    assert "newer llms-desktop" in one_error_line(run_cli("--data-dir", data, "threads", "list"))


def test_a_read_only_data_folder_is_one_clear_line(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    empty = run_on_tmpfs(
        mount, [*COMMAND, "--data-dir", str(mount / "data"), "threads", "list"], read_only=True
    )
    assert "Cannot create the data folder" in one_error_line(empty)
    assert "Read-only file system" in empty.stderr

    seed = tmp_path / "seed"
    with Store.open(seed / "data") as store:
        store.create_thread("kept")
    chat = [
        *COMMAND,
        "--data-dir",
        str(mount / "data"),
        "chat",
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "x",
    ]
    existing = run_on_tmpfs(mount, chat, read_only=True, seed=seed)
    # The threads can be read (see test_data_folder.py); saving one says why it cannot.
    assert existing.returncode == 1
    warning, error = existing.stderr.strip().splitlines()
    assert warning.startswith("llms-desktop: warning: the thread database is open read-only")
    assert error.startswith("llms-desktop: error: Could not save the thread")
    assert "open read-only (its folder is read-only)" in error


def test_a_full_disk_keeps_the_printed_answer_and_says_so(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    words = [f"{i:05d}" + "x" * 995 for i in range(1000)]  # about 1 MB of answer
    loopback.handler = lambda r: sse_reply(text_chunks(words), pause=0.0005)
    mount = tmp_path / "mnt"
    command = [*COMMAND, "--data-dir", str(mount / "data"), *chat_args(loopback.base_url, "x")]
    result = run_on_tmpfs(mount, command, size="256k")
    assert result.stdout == "".join(words) + "\n"  # every token shown despite the failures
    assert "disk is full" in one_error_line(result)
