"""Attachments in the window: paste and drop (real QMimeData), the picker, chips, the vision
question, sending, and never losing them on a failed send."""

from __future__ import annotations

import base64
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from llms_desktop.attachments.parts import decode_data_url
from tests.support.loopback import LoopbackServer, Reply, sse_reply, text_chunks
from tests.support.samples import blank_pdf, image_bytes, write
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, routed


def red_image(width: int = 300, height: int = 200) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(220, 20, 20))
    return image


def chunk_requests(loopback: LoopbackServer) -> list[dict]:  # type: ignore[type-arg]
    return [r.json() for r in loopback.requests if r.path.endswith("/chat/completions")]


def drop(widget: object, mime: QMimeData) -> bool:
    """Drag `mime` over `widget` and drop it, as a window system delivers it."""
    from PySide6.QtWidgets import QWidget

    assert isinstance(widget, QWidget)
    point = QPointF(10, 10)
    enter = QDragEnterEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    dropped = QDropEvent(
        point,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, dropped)
    return True


def test_pasting_a_screenshot_attaches_it_as_png_and_sends_it_to_a_vision_model(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = routed(sse_reply(text_chunks(["A red ", "rectangle."])))
    composer = app.window.composer
    composer.set_model("gpt-4o-mini")  # known to take images: no question
    mime = QMimeData()
    mime.setImageData(red_image())
    QGuiApplication.clipboard().setMimeData(mime)

    async def scenario() -> None:
        composer.prompt.setFocus()
        QTest.keySequence(composer.prompt, "Ctrl+V")
        await wait_until(lambda: len(composer.attachments) == 1)
        (attachment,) = composer.attachments
        assert (attachment.name, attachment.mime) == ("Pasted image.png", "image/png")
        assert (attachment.width, attachment.height) == (300, 200)
        assert composer.prompt.toPlainText() == ""  # the image did not turn into text
        assert not composer.strip.isHidden()
        composer.prompt.setPlainText("What is this?")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await wait_until(lambda: not composer.streaming and bool(chunk_requests(loopback)))
        await wait_until(lambda: not composer.streaming)

    qloop.run(scenario())
    (message,) = chunk_requests(loopback)[-1]["messages"]
    image, text = message["content"]
    mime_type, data = decode_data_url(image["image_url"]["url"]) or ("", b"")
    assert mime_type == "image/png"
    decoded = QImage.fromData(data)
    assert (decoded.width(), decoded.height()) == (300, 200)
    assert decoded.pixelColor(5, 5) == QColor(220, 20, 20)
    assert text == {"type": "text", "text": "What is this?"}
    assert composer.attachments == []  # sent: the strip is empty
    assert composer.strip.isHidden()
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    user = app.store.messages(thread_id)[0]
    assert [a.name for a in user.attachments] == ["Pasted image.png"]


def test_dropping_files_attaches_them_and_says_which_could_not_be(
    app: App, qloop: QtLoop, tmp_path: Path
) -> None:
    composer = app.window.composer
    photo = write(tmp_path, "photo.jpg", image_bytes(2000, 1000, "JPEG"))
    notes = write(tmp_path, "notes.md", b"# Notes\n")
    scan = write(tmp_path, "scan.pdf", blank_pdf())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in (photo, notes, scan)])

    async def scenario() -> None:
        assert drop(composer.prompt.viewport(), mime)
        await wait_until(lambda: composer.strip.problem.text() != "", seconds=20)

    qloop.run(scenario())
    assert [a.name for a in composer.attachments] == ["photo.jpg", "notes.md"]
    assert composer.attachments[0].width == 1568  # downscaled on the way in
    assert composer.strip.problem.text().startswith("scan.pdf has no text to extract")
    assert composer.prompt.toPlainText() == ""  # no file:// URLs typed into the prompt
    chip = composer.strip.chips()[0]
    assert "downscaled from 2000×1000 to 1568×784" in chip.toolTip().lower()
    chip.remove_button.click()
    assert [a.name for a in composer.attachments] == ["notes.md"]

    # Dropped anywhere on the composer (beside the prompt) works too.
    again = QMimeData()
    again.setUrls([QUrl.fromLocalFile(str(photo))])

    async def drop_again() -> None:
        assert drop(composer, again)
        await wait_until(lambda: len(composer.attachments) == 2)

    qloop.run(drop_again())
    # Plain text still drops as text.
    text = QMimeData()
    text.setText("just words")
    assert drop(composer.prompt.viewport(), text)
    assert "just words" in composer.prompt.toPlainText()


def test_the_picker_opens_on_its_shortcut_and_attaches_the_chosen_files(
    app: App, qloop: QtLoop, tmp_path: Path
) -> None:
    composer = app.window.composer
    one = write(tmp_path, "a.txt", b"alpha")

    async def scenario() -> None:
        composer.prompt.setFocus()
        QTest.keySequence(app.window, "Ctrl+Shift+A")
        dialog = app.window.controller.attachments.dialog
        assert dialog is not None
        assert dialog.isVisible()
        dialog.selectFile(str(one))
        dialog.accept()
        await wait_until(lambda: len(composer.attachments) == 1)

    qloop.run(scenario())
    assert composer.attachments[0].text == "alpha"
    assert app.window.attach_action.shortcut().toString() == "Ctrl+Shift+A"


def test_an_image_for_a_model_not_known_to_take_images_asks_first(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = routed(sse_reply(text_chunks(["ok"])))
    composer = app.window.composer
    composer.set_model("test-model")
    controller = app.window.controller

    async def attach_and_send(text: str) -> QMessageBox:
        controller.attachments.add_image(red_image(20, 20))
        await wait_until(lambda: len(composer.attachments) == 1)
        composer.prompt.setPlainText(text)
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        question = controller.attachments.question
        assert question is not None
        assert question.isVisible()
        return question

    async def scenario() -> None:
        question = await attach_and_send("first try")
        assert question.text() == "The model test-model is not known to take images."
        question.button(QMessageBox.StandardButton.Cancel).click()
        # Not sent: the text and the image stay in the composer.
        assert composer.prompt.toPlainText() == "first try"
        assert len(composer.attachments) == 1
        assert chunk_requests(loopback) == []
        composer.take_attachments()
        question = await attach_and_send("second try")
        (send,) = [b for b in question.buttons() if b.text() == "Send Anyway"]
        send.click()
        await wait_until(lambda: bool(chunk_requests(loopback)) and not composer.streaming)

    qloop.run(scenario())
    (message,) = chunk_requests(loopback)[-1]["messages"]
    assert [part["type"] for part in message["content"]] == ["image_url", "text"]


def test_a_send_that_cannot_start_keeps_the_text_and_the_attachments(
    app: App, qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path
) -> None:
    # No model chosen and the provider cannot list its models: the answer cannot start.
    loopback.handler = lambda request: Reply(status=500, pieces=[b"down"], framing="length")
    composer = app.window.composer
    composer.set_model("")
    notes = write(tmp_path, "notes.txt", b"keep me")

    async def scenario() -> None:
        app.window.controller.attachments.add_paths([str(notes)])
        await wait_until(lambda: len(composer.attachments) == 1)
        composer.prompt.setPlainText("Summarise")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await wait_until(lambda: not app.window.banner.isHidden(), seconds=20)

    qloop.run(scenario())
    assert composer.prompt.toPlainText() == "Summarise"
    assert [a.name for a in composer.attachments] == ["notes.txt"]
    assert app.store.list_threads() == []


def test_editing_a_message_brings_its_attachments_back_and_sends_what_is_left(
    app: App, qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = routed(sse_reply(text_chunks(["ok"])))
    composer = app.window.composer
    composer.set_model("gpt-4o")
    controller = app.window.controller
    first = write(tmp_path, "one.txt", b"first file")
    second = write(tmp_path, "two.png", base64.b64decode(base64.b64encode(image_bytes(8, 8))))

    async def scenario() -> None:
        controller.attachments.add_paths([str(first), str(second)])
        await wait_until(lambda: len(composer.attachments) == 2)
        composer.prompt.setPlainText("look")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await wait_until(lambda: bool(chunk_requests(loopback)) and not composer.streaming)
        controller.actions.start_editing(None)
        await wait_until(lambda: len(composer.attachments) == 2)
        composer.strip.chips()[0].remove_button.click()  # drop the text file
        composer.prompt.setPlainText("look again")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await wait_until(lambda: len(chunk_requests(loopback)) == 2 and not composer.streaming)

    qloop.run(scenario())
    (message,) = chunk_requests(loopback)[-1]["messages"]
    assert [part["type"] for part in message["content"]] == ["image_url", "text"]
    thread_id = controller.thread_id
    assert thread_id is not None
    versions = [m for m in app.store.all_messages(thread_id) if m.role == "user"]
    assert [[a.name for a in m.attachments] for m in versions] == [
        ["one.txt", "two.png"],
        ["two.png"],
    ]


def test_a_draft_and_its_attachments_come_back_after_an_edit_is_sent_or_cancelled(
    app: App, qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = routed(sse_reply(text_chunks(["ok"])))
    composer = app.window.composer
    controller = app.window.controller
    draft_file = write(tmp_path, "draft.txt", b"for the next message")

    async def scenario() -> None:
        composer.prompt.setPlainText("first")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await wait_until(lambda: bool(chunk_requests(loopback)) and not composer.streaming)
        # A draft with an attachment, then an edit of the sent message (which has none).
        controller.attachments.add_paths([str(draft_file)])
        await wait_until(lambda: len(composer.attachments) == 1)
        composer.prompt.setPlainText("my draft")
        controller.actions.start_editing(None)
        await wait_until(lambda: composer.prompt.toPlainText() == "first")
        assert composer.attachments == []  # the edited message's own: none
        QTest.keyClick(composer.prompt, Qt.Key.Key_Escape)
        assert composer.prompt.toPlainText() == "my draft"
        assert [a.name for a in composer.attachments] == ["draft.txt"]
        # Again, and this time the edit is sent: it goes without the draft's file.
        controller.actions.start_editing(None)
        await wait_until(lambda: composer.prompt.toPlainText() == "first")
        composer.prompt.setPlainText("first, edited")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await wait_until(lambda: len(chunk_requests(loopback)) == 2 and not composer.streaming)

    qloop.run(scenario())
    (message,) = chunk_requests(loopback)[-1]["messages"]
    assert message["content"] == "first, edited"
    assert composer.prompt.toPlainText() == "my draft"
    assert [a.name for a in composer.attachments] == ["draft.txt"]


def test_the_thread_shows_our_own_stored_images_and_links_files(
    app: App, qloop: QtLoop, tmp_path: Path
) -> None:
    from PySide6.QtCore import QObject, Slot
    from PySide6.QtGui import QDesktopServices, QTextDocument

    from llms_desktop.attachments.reading import from_bytes

    photo = from_bytes("photo.png", image_bytes(800, 400, color=(10, 200, 10)))
    notes = from_bytes("notes.txt", b"some notes")
    thread = app.store.create_thread("with pictures")
    app.store.add_message(thread.id, "user", "Look at these", attachments=[photo, notes])
    app.store.add_message(
        thread.id,
        "assistant",
        "Nice. ![remote](https://example.com/x.png) and <img src='https://example.com/y.png'>",
    )
    view = app.window.chat_view
    shown: list[str] = []
    view.thumbnail_shown.connect(shown.append)
    app.window.controller.open_thread(thread.id)
    html = view.toHtml()
    url = f"llms-attachment:{photo.sha256}?type=image/png"
    assert url in html
    assert 'width="240" height="120"' in html  # scaled into the thumbnail box
    # Decoded on a worker thread: the window shows the chat first, the picture right after.
    blank = view.document().resource(QTextDocument.ResourceType.ImageResource, QUrl(url))
    assert (blank.width(), blank.height()) == (1, 1)  # laid out at 240x120 all the same
    qloop.run(wait_until(lambda: shown == [url]))
    image = view.document().resource(QTextDocument.ResourceType.ImageResource, QUrl(url))
    assert isinstance(image, QImage)
    assert (image.width(), image.height()) == (240, 120)
    assert image.pixelColor(100, 60) == QColor(10, 200, 10)
    assert "notes.txt" in view.toPlainText()
    # Remote images stay links, never fetched.
    for remote in ("https://example.com/x.png", "https://example.com/y.png"):
        assert (
            view.loadResource(QTextDocument.ResourceType.ImageResource.value, QUrl(remote)) is None
        )

    opened: list[str] = []

    class Catcher(QObject):
        @Slot(QUrl)
        def open(self, target: QUrl) -> None:
            opened.append(target.toLocalFile())

    def click_on(text: str, offset: int = 2) -> None:
        found = view.document().find(text)
        assert not found.isNull(), text
        found.setPosition(found.selectionStart() + offset)
        QTest.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, pos=view.cursorRect(found).center()
        )

    catcher = Catcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        click_on("notes.txt")  # the file's link
        view.anchorClicked.emit(QUrl(f"open-attachment:{photo.sha256}?type=image/png"))
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(p).name for p in opened] == [f"{notes.sha256}.txt", f"{photo.sha256}.png"]
