"""Branches from the command line: regenerate, edit, show every branch, export and import them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llms_desktop.store import Store
from tests.support.cli import chat_args, one_error_line, run_cli
from tests.support.loopback import LoopbackServer, chunk, sse_reply, text_chunks

FIXTURES = Path(__file__).parent.parent / "fixtures" / "db"


def answering(loopback: LoopbackServer, *texts: str) -> None:
    queue = list(texts)
    loopback.handler = lambda r: sse_reply(text_chunks([queue.pop(0)]))


def cli_ok(*args: Any, stdin: str | None = None) -> str:
    result = run_cli(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def sent(loopback: LoopbackServer) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in loopback.requests[-1].json()["messages"]]


def test_regenerate_and_edit_make_branches_that_survive_export_and_import(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    answering(loopback, "a1", "a2", "a2 again", "a2 edited")
    cli_ok("--data-dir", data, *chat_args(loopback.base_url, "q1"))
    with Store.open(data) as store:
        (thread,) = store.list_threads()
    chat = ("--data-dir", data, *chat_args(loopback.base_url, "--thread", thread.id[:6]))
    cli_ok(*chat, "q2")
    assert cli_ok(*chat, "--regenerate") == "a2 again\n"
    assert sent(loopback) == [("user", "q1"), ("assistant", "a1"), ("user", "q2")]
    with Store.open(data) as store:
        q2 = store.messages(thread.id)[2]
    assert cli_ok(*chat, "--edit", q2.id[:8], "q2, better") == "a2 edited\n"
    assert sent(loopback) == [("user", "q1"), ("assistant", "a1"), ("user", "q2, better")]

    shown = cli_ok("--data-dir", data, "threads", "show", thread.id)
    assert "a2 edited" in shown
    assert "a2 again" not in shown  # only the active path
    tree = cli_ok("--data-dir", data, "threads", "show", thread.id, "--all-branches")
    for text in ("q2, better", "a2 edited", "a2 again", "\na2\n", "version 1/2", "version 2/2"):
        assert text in tree, text
    assert tree.count("· active") == 4

    document = json.loads(cli_ok("--data-dir", data, "threads", "export", thread.id))
    assert document["version"] == 3  # 3: messages carry attachments
    assert len(document["threads"][0]["messages"]) == 7
    other = tmp_path / "other"
    cli_ok("--data-dir", other, "threads", "import", "-", stdin=json.dumps(document))
    with Store.open(data) as before, Store.open(other) as after:
        assert after.all_messages(thread.id) == before.all_messages(thread.id)
        assert after.messages(thread.id) == before.messages(thread.id)
    markdown = cli_ok("--data-dir", other, "threads", "export", thread.id, "--format", "md")
    assert "a2 edited" in markdown
    assert "a2 again" not in markdown


def test_branch_flags_say_what_they_need(loopback: LoopbackServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    base = ("--data-dir", data, *chat_args(loopback.base_url))
    assert "needs --thread" in one_error_line(run_cli(*base, "--regenerate"))
    assert "needs --thread" in one_error_line(run_cli(*base, "--edit", "abc", "text"))
    answering(loopback, "a1")
    cli_ok(*base, "q1")
    with Store.open(data) as store:
        (thread,) = store.list_threads()
        (_question, answer) = store.messages(thread.id)
    with_thread = (*base, "--thread", thread.id)
    assert "takes no PROMPT" in one_error_line(run_cli(*with_thread, "--regenerate", "x"))
    assert "Only your own messages" in one_error_line(
        run_cli(*with_thread, "--edit", answer.id, "text")
    )
    assert "No message of this thread" in one_error_line(
        run_cli(*with_thread, "--edit", "zzzz", "text")
    )
    assert len(loopback.requests) == 1  # nothing was sent for any of them


def test_a_version_1_export_and_an_llmspy_export_import_as_one_path(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli_ok("--data-dir", data, "threads", "import", FIXTURES / "wave1-export.json")
    llmspy = {
        "source": "llmspy",
        "threads": [
            {
                "id": 7,
                "title": "from llms.py",
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "bye"},
                ],
            }
        ],
    }
    cli_ok("--data-dir", data, "threads", "import", "-", stdin=json.dumps(llmspy))
    with Store.open(data) as store:
        threads = {t.title: t for t in store.list_threads()}
        sky = store.messages(threads["Sky colour"].id)
        assert len(sky) == 6
        assert sky[-1].content == "Longer path through air."
        assert [m.parent_id for m in sky] == [None, *[m.id for m in sky[:-1]]]
        llms = store.messages(threads["from llms.py"].id)
        assert [m.content for m in llms] == ["hi", "hello", "bye"]
        assert [m.parent_id for m in llms] == [None, llms[0].id, llms[1].id]


def test_an_answer_cut_off_at_the_token_limit_says_so_and_can_be_continued(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    replies = [
        sse_reply([chunk("The first half"), chunk(finish="length")]),
        sse_reply([chunk(" and the rest."), chunk(finish="stop")]),
    ]
    loopback.handler = lambda r: replies.pop(0)
    first = run_cli("--data-dir", data, *chat_args(loopback.base_url, "Tell me all of it"))
    assert first.returncode == 0, first.stderr
    assert first.stdout == "The first half\n"
    with Store.open(data) as store:
        (thread,) = store.list_threads()
        answer = store.messages(thread.id)[-1]
    assert (answer.status, answer.finish_reason) == ("complete", "length")
    assert first.stderr.strip() == (
        "llms-desktop: note: the answer was cut off at the token limit (max tokens). "
        f"`llms-desktop chat --thread {thread.id} --continue` asks for the rest."
    )

    rest = run_cli(
        "--data-dir", data, *chat_args(loopback.base_url, "--thread", thread.id, "--continue")
    )
    assert rest.returncode == 0, rest.stderr
    assert rest.stderr == ""
    assert sent(loopback) == [("user", "Tell me all of it"), ("assistant", "The first half")]
    with Store.open(data) as store:
        (answer,) = [m for m in store.messages(thread.id) if m.role == "assistant"]
    assert answer.content == "The first half and the rest."
    assert (answer.status, answer.finish_reason) == ("complete", "stop")
    # An answer that ended normally is complete: nothing to continue.
    refused = run_cli(
        "--data-dir", data, *chat_args(loopback.base_url, "--thread", thread.id, "--continue")
    )
    assert "cut off at the token limit can be continued" in one_error_line(refused)


def test_the_providers_default_parameters_go_out_under_the_flags(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
    from llms_desktop.providers.setup import ProviderSetup

    data = tmp_path / "data"
    ProviderSetup(data).add(
        ProviderConfig(
            id="p",
            type=OPENAI_COMPATIBLE,
            name="P",
            base_url=loopback.base_url,
            models=("m",),
            params={"temperature": 0.2, "max_tokens": 77},
        )
    )
    answering(loopback, "one", "two")
    cli_ok("--data-dir", data, "chat", "--model", "p/m", "hi")
    assert {k: loopback.requests[-1].json().get(k) for k in ("temperature", "max_tokens")} == {
        "temperature": 0.2,
        "max_tokens": 77,
    }
    cli_ok("--data-dir", data, "chat", "--model", "p/m", "--temperature", "0.9", "hi")
    assert {k: loopback.requests[-1].json().get(k) for k in ("temperature", "max_tokens")} == {
        "temperature": 0.9,
        "max_tokens": 77,
    }
