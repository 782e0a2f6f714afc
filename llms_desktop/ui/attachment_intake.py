"""Attachments into the composer (picked, pasted, dropped: read off the event loop), and a
question before images go to a model not known to take them."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QBuffer, QIODevice, QObject
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QFileDialog, QMessageBox

from llms_desktop.errors import AttachmentError, ConfigError
from llms_desktop.providers.vision import takes_images, warning
from llms_desktop.ui.off_thread import off_loop

if TYPE_CHECKING:
    from llms_desktop.providers.config import ProviderConfig
    from llms_desktop.ui.chat_controller import ChatController

FILE_FILTERS = (
    "Images, PDF and text (*.png *.jpg *.jpeg *.webp *.gif *.bmp *.tif *.tiff *.pdf *.txt *.md "
    "*.csv *.json *.yaml *.yml *.xml *.html *.py *.js *.ts *.c *.h *.cpp *.rs *.go *.java *.sh "
    "*.log)",
    "All files (*)",
)
PASTED_NAME = "Pasted image.png"

log = logging.getLogger(__name__)


def png_bytes(image: QImage) -> bytes:
    """The image as PNG (run off the UI thread: a 4K screenshot takes a while to compress)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 takes the format as str at run time, though its stubs say bytes.
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    return bytes(buffer.data().data())


class AttachmentIntake(QObject):
    """The attachments side of one window's controller."""

    def __init__(self, chat: ChatController) -> None:
        super().__init__(chat)
        self.chat = chat
        self._tasks: set[asyncio.Task[None]] = set()
        self.dialog: QFileDialog | None = None
        self.question: QMessageBox | None = None

    # Taking files in ---------------------------------------------------------------------------
    def pick_files(self) -> None:
        """The file picker (window-modal, no nested event loop)."""
        dialog = QFileDialog(self.chat.parts.composer.window(), "Attach Files")
        dialog.setObjectName("attachDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilters(list(FILE_FILTERS))
        dialog.filesSelected.connect(self.add_paths)
        dialog.finished.connect(dialog.deleteLater)
        self.dialog = dialog
        dialog.open()

    def add_paths(self, paths: Sequence[str]) -> None:
        """Read each file (off the event loop) and add it to the composer."""
        self._run(functools.partial(self._read, list(paths)))

    def add_image(self, image: QImage) -> None:
        """A pasted or dropped image, as PNG."""
        self._run(functools.partial(self._read_image, image.copy()))

    def edit(self, message_id: str) -> None:
        """The composer edits a sent message: its attachments come back into the strip."""
        composer = self.chat.parts.composer
        composer.take_attachments()
        self._run(functools.partial(self._load, message_id))

    async def _read(self, paths: list[str]) -> None:
        from llms_desktop.attachments.reading import read_path

        problems = []
        for path in paths:
            try:
                attachment = await off_loop(read_path, path)
            except AttachmentError as exc:
                problems.append(str(exc))
                continue
            self.chat.parts.composer.add_attachment(attachment)
        self.chat.parts.composer.show_attachment_problem(" ".join(problems))

    async def _read_image(self, image: QImage) -> None:
        from llms_desktop.attachments.reading import from_bytes

        try:
            data = await off_loop(png_bytes, image)
            attachment = await off_loop(from_bytes, PASTED_NAME, data)
        except AttachmentError as exc:
            self.chat.parts.composer.show_attachment_problem(str(exc))
            return
        self.chat.parts.composer.add_attachment(attachment)

    async def _load(self, message_id: str) -> None:
        store = self.chat.services.store
        attachments = await off_loop(store.load_attachments, message_id)
        if self.chat.actions.editing_id == message_id:
            for attachment in attachments:
                self.chat.parts.composer.add_attachment(attachment)

    def _run(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        loop = asyncio.get_running_loop()  # before the coroutine exists: none left unawaited
        task = loop.create_task(work())
        self._tasks.add(task)
        task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:  # not the file's fault: a bug, said as one
            log.error("attaching failed", exc_info=error)
            self.chat.parts.composer.show_attachment_problem(
                f"Attaching failed because of a bug: {type(error).__name__}: {error}"
            )

    # Before sending ----------------------------------------------------------------------------
    def check_images(
        self, model_ref: str, send: Callable[[], None], keep: Callable[[], None]
    ) -> None:
        """`send()` at once, unless the composer holds images and the model is not known to
        take them: then ask, and `send()` or `keep()` (the prompt goes back in the box)."""
        if not any(a.kind == "image" for a in self.chat.parts.composer.attachments):
            send()
            return
        config, model = self._route(model_ref)
        known = takes_images(config, model)
        if known is True:
            send()
            return
        box = QMessageBox(self.chat.parts.composer.window())
        box.setObjectName("visionQuestion")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Send images?")
        box.setText(warning(model or "chosen", known))
        box.setInformativeText(
            "Models that do not take images refuse the message or ignore the pictures."
        )
        send_button = box.addButton("Send Anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        remember = None
        if config is not None and config.id in {c.id for c in self._configured()}:
            remember = QCheckBox(f"{model} takes images: don't ask again", box)
            remember.setObjectName("rememberVision")
            box.setCheckBox(remember)
        box.finished.connect(
            functools.partial(
                self._on_answered, box, send_button, remember, config, model, send, keep
            )
        )
        self.question = box
        box.open()

    def _on_answered(
        self,
        box: QMessageBox,
        send_button: Any,
        remember: QCheckBox | None,
        config: ProviderConfig | None,
        model: str,
        send: Callable[[], None],
        keep: Callable[[], None],
        _result: int,
    ) -> None:
        self.question = None
        box.deleteLater()
        if box.clickedButton() is not send_button:
            keep()
            return
        if remember is not None and remember.isChecked() and config is not None:
            try:
                self.chat.services.providers.set_vision(config.id, model, True)
            except ConfigError as exc:
                self.chat.parts.notify(str(exc))
        send()

    def _configured(self) -> list[ProviderConfig]:
        return self.chat.services.providers.configured

    def _route(self, model_ref: str) -> tuple[ProviderConfig | None, str]:
        """The provider and model a `provider/model` id names, without asking any server
        (a bare id: the only provider there is, if just one)."""
        registry = self.chat.services.providers.registry
        provider_id, _, model = model_ref.partition("/")
        config = registry.get(provider_id) if model else None
        if config is not None:
            return config, model
        enabled = registry.enabled
        return (enabled[0] if len(enabled) == 1 else None), model_ref
