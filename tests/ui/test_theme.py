"""Switching light/dark in the open window: everything follows, the reader keeps their place."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QWidget

from llms_desktop import settings as keys
from llms_desktop.ui.theme import apply_palette, apply_theme, resolve_dark
from tests.ui.conftest import QtLoop
from tests.ui.test_main_window import App


def background(widget: QWidget) -> QColor:
    image = widget.grab().toImage()
    return image.pixelColor(image.width() // 2, image.height() - 6)


@pytest.fixture
def themed(qapp: QApplication, qloop: QtLoop, tmp_path: Path) -> Iterator[App]:
    apply_palette(qapp, False)
    app = App(tmp_path / "data")
    app.settings.subscribe(
        # What the app does on a theme change (ui/application.py).
        lambda key: (
            apply_theme(qapp, resolve_dark(app.settings.theme)) if key == keys.THEME.key else None
        )
    )
    yield app
    apply_palette(qapp, False)
    qloop.run(app.close())


def test_dark_theme_restyles_the_thread_list_and_keeps_the_chat_where_it_was(
    themed: App, qapp: QApplication
) -> None:
    thread = themed.store.create_thread("Long read")
    for i in range(40):
        themed.store.add_message(thread.id, "user", f"Question {i}?")
        themed.store.add_message(thread.id, "assistant", "\n\n".join(["Some words here."] * 6))
    window = themed.window
    window.resize(900, 600)
    window.sidebar.refresh()
    window.controller.open_thread(thread.id)
    qapp.processEvents()
    bar = window.chat_view.verticalScrollBar()
    assert bar.maximum() > 2000
    bar.setValue(bar.maximum() // 3)  # the user scrolled up to read
    position = bar.value()
    list_view = window.sidebar.list_view
    assert background(list_view).lightness() > 200

    themed.settings.set(keys.THEME, "dark")
    qapp.processEvents()
    assert background(list_view).lightness() < 60, background(list_view).name()
    assert background(window.chat_view).lightness() < 60
    assert bar.value() == position

    bar.setValue(bar.maximum())  # at the end, the view stays at the end
    themed.settings.set(keys.THEME, "light")
    qapp.processEvents()
    assert background(list_view).lightness() > 200
    assert bar.value() == bar.maximum()


def test_the_paper_clip_is_redrawn_in_the_new_text_colour(themed: App, qapp: QApplication) -> None:
    button = themed.window.composer.attach_button

    def darkest_and_lightest() -> tuple[int, int]:
        image = button.icon().pixmap(16, 16).toImage()
        shades = [
            image.pixelColor(x, y).lightness()
            for x in range(image.width())
            for y in range(image.height())
            if image.pixelColor(x, y).alpha() > 200
        ]
        return min(shades), max(shades)

    assert darkest_and_lightest()[0] < 80  # dark ink on the light theme
    themed.settings.set(keys.THEME, "dark")
    qapp.processEvents()
    assert darkest_and_lightest()[1] > 170  # light ink on the dark one: visible
