"""Real launches on a virtual screen: the model picked before a restart is used after it, and
the window reopens on the chat it showed last."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from llms_desktop import settings as keys
from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.settings import Settings
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from tests.e2e.conftest import AppProcess, poll
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    json_reply,
    sse_reply,
    text_chunks,
)
from tests.support.xvfb import Desktop

TITLE = "llms-desktop$"


def qa_server(request: Request) -> Reply:
    if request.path.endswith("/models"):
        return json_reply({"data": [{"id": "other-model"}, {"id": "qa-model"}]})
    body = request.json()
    if body["stream"] is False and "title" in body["messages"][0]["content"]:
        # After a new chat's first answer a local model is asked for the chat's title.
        message = {"role": "assistant", "content": '"Model check."'}
        return json_reply({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    return sse_reply(text_chunks(["Hi", " from", " the", " server."]))


def answers(data_dir: Path) -> list[tuple[str, str, str]]:
    """The stored answers (status, model, text), read without touching the app's store."""
    database = data_dir / "llms-desktop.db"
    if not database.exists():
        return []
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT status, model, content FROM messages WHERE role = 'assistant'"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_model_picked_before_quitting_is_used_after_a_relaunch(
    desktop: Desktop,
    launch: Callable[[Path], AppProcess],
    loopback: LoopbackServer,
    tmp_path: Path,
) -> None:
    loopback.handler = qa_server
    data = tmp_path / "data"
    ProviderSetup(data).add(
        ProviderConfig(id="p", type=OPENAI_COMPATIBLE, name="QA", base_url=loopback.base_url)
    )

    def model_lists() -> int:
        return sum(1 for r in loopback.requests if r.path.endswith("/models"))

    # First launch: nothing is asked of the server until the user reaches for the picker;
    # then it fills from the server; pick the second model and quit.
    first = launch(data)
    window = desktop.wait_for_window(TITLE)
    time.sleep(1.0)
    assert model_lists() == 0, "opening the window asked the provider for its models"
    desktop.focus(window)
    desktop.key("Tab")  # from the prompt into the model picker
    poll(lambda: model_lists() == 1, what="the picker to ask for the models")
    time.sleep(1.0)  # the list reaches the picker a moment after the server answered
    desktop.key("Down")  # the next model
    desktop.key("ctrl+q")
    assert first.wait() == 0, first.output()
    assert Settings(QSettingsBackend(data)).get(keys.LAST_MODEL) == "p/qa-model"

    # Second launch: send at once; the request names the model picked before.
    second = launch(data)
    window = desktop.wait_for_window(TITLE)
    desktop.focus(window)
    desktop.type("Which model are you?")
    desktop.key("Return")
    poll(lambda: any(r.method == "POST" for r in loopback.requests), what="the chat request")
    # The chat request (the title request that may follow it is not streamed).
    chat = [r for r in loopback.requests if r.method == "POST" and r.json()["stream"]]
    assert [r.json()["model"] for r in chat] == ["qa-model"]
    assert chat[0].json()["messages"][-1] == {"role": "user", "content": "Which model are you?"}
    poll(lambda: bool(answers(data)) and answers(data)[0][0] == "complete", what="the answer")
    assert answers(data) == [("complete", "qa-model", "Hi from the server.")]
    poll(lambda: model_lists() == 2, what="typing a prompt to ask for the models")
    window = desktop.wait_for_window("^Model check — llms-desktop$")  # titled by the model
    desktop.key("ctrl+q")
    assert second.wait() == 0, second.output()

    # Third launch: the window opens on that chat, not on a new one.
    third = launch(data)
    window = desktop.wait_for_window("^Model check — llms-desktop$")
    desktop.focus(window)
    desktop.key("ctrl+q")
    assert third.wait() == 0, third.output()
