"""Font size reaches the prompt box; Stop shows and takes Esc; the last thread reopens."""

from __future__ import annotations

from pathlib import Path

from llms_desktop import settings as keys
from llms_desktop.ui.main_window import MainWindow
from tests.support.loopback import LoopbackServer
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, routed, slow_words, type_and_send


def test_font_size_applies_to_the_prompt_box_at_once_and_in_new_windows(
    app: App, qloop: QtLoop
) -> None:
    prompt = app.window.composer.prompt
    assert prompt.font().pointSize() == app.settings.font_size == 11
    height = prompt.height()
    dialog = app.window.open_preferences()
    dialog.font_spin.setValue(20)  # as the user does in Preferences
    dialog.close()
    assert prompt.font().pointSize() == 20
    assert prompt.height() > height  # one line of the bigger font still fits
    second = MainWindow(app.services)
    assert second.composer.prompt.font().pointSize() == 20
    second.close()


def test_stop_answer_shows_esc_and_is_enabled_only_while_an_answer_streams(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    stop = app.window.stop_action
    assert stop.shortcut().toString() == "Esc"
    assert not stop.isEnabled()
    loopback.handler = routed(slow_words([f"w{i} " for i in range(200)], pause=0.05))

    async def scenario() -> None:
        type_and_send(app, "long")
        await wait_until(lambda: "w2" in app.window.chat_view.chat.live_text(), seconds=20)
        assert stop.isEnabled()
        stop.trigger()  # Chat > Stop Answer
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(scenario())
    assert not stop.isEnabled()
    answer = app.store.messages(app.window.controller.thread_id or "")[-1]
    assert answer.status == "cancelled"


def test_a_window_opens_on_the_thread_opened_last_unless_it_was_deleted(
    qloop: QtLoop, tmp_path: Path
) -> None:
    app = App(tmp_path / "data")
    first = app.store.create_thread("First")
    newest = app.store.create_thread("Second")
    app.window.sidebar.refresh()
    app.window.controller.open_thread(first.id)
    app.window.close()
    # A restart: the settings file is read afresh.
    reopened = App(tmp_path / "data", open_last_thread=True)
    assert reopened.settings.get(keys.LAST_THREAD) == first.id
    assert reopened.window.controller.thread_id == first.id  # not the newest one
    assert first.id != newest.id
    assert reopened.window.windowTitle().startswith("First")
    reopened.store.delete_thread(first.id)
    again = MainWindow(reopened.services, open_last_thread=True)
    assert again.controller.thread_id is None  # gone: a new chat instead
    again.close()
    qloop.run(reopened.close())
    qloop.run(app.close())
