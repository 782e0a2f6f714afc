"""The Qt application: open the main window(s) on a qasync loop and run until the last closes."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from llms_desktop.app import AppServices
from llms_desktop.paths import data_dir as resolve_data_dir
from llms_desktop.settings import Settings

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication, QWidget

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


async def in_thread(work: Callable[[], object]) -> None:
    """Run `work` on a new thread and wait for it without blocking the loop."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the waiting coroutine, raised there
            loop.call_soon_threadsafe(done.set_exception, exc)
        else:
            loop.call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=run, name="close-store", daemon=True).start()
    await done


def paint_now(app: QApplication, window: QWidget, started: float) -> float:
    """Let Qt paint the shown window now, before the event loop runs; returns the time from
    `started` to that first paint, in milliseconds."""
    from PySide6.QtCore import QEvent, QObject

    painted: list[float] = []

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter())
            return False

    spy = FirstPaint()
    app.installEventFilter(spy)
    deadline = time.perf_counter() + 2.0
    while not painted and window.isVisible() and time.perf_counter() < deadline:
        app.processEvents()
    app.removeEventFilter(spy)
    return ((painted[0] if painted else time.perf_counter()) - started) * 1000


def run_gui(data_dir: str | None = None, *, quit_after_show: bool = False) -> int:
    """Open the main window and run until the last window closes; returns the exit code.

    The window is painted before anything its first frame does not need is loaded: the
    last chat is opened (markdown-it, pygments) and qasync imported right after; httpx,
    aiohttp and keyring wait until a provider or the server is used.
    """
    started = time.perf_counter()
    from PySide6.QtCore import QCoreApplication, QTimer

    from llms_desktop.ui.source_scan import stop_caching_sources

    stop_caching_sources()  # before the imports below, whose sources it would keep
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from llms_desktop import errors
    from llms_desktop.store import Store
    from llms_desktop.ui.main_window import MainWindow, WindowState
    from llms_desktop.ui.qsettings_backend import QSettingsBackend
    from llms_desktop.ui.stream_registry import StreamRegistry
    from llms_desktop.ui.theme import apply_palette, apply_theme, resolve_dark

    QCoreApplication.setOrganizationName("llms-desktop")
    QCoreApplication.setApplicationName("llms-desktop")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setDesktopFileName("llms-desktop")
    app.setWindowIcon(QIcon(str(RESOURCES / "llms-desktop.png")))
    folder = resolve_data_dir(data_dir)
    backend = QSettingsBackend(folder)
    settings = Settings(backend)
    apply_palette(app, resolve_dark(settings.theme))
    try:
        store = Store.open(folder)
    except errors.StoreError as exc:
        QMessageBox.critical(None, "llms-desktop cannot open its data", str(exc))
        return 1
    from llms_desktop.providers.base import Timeouts
    from llms_desktop.providers.setup import ProviderSetup
    from llms_desktop.store.writer import StoreWriter
    from llms_desktop.ui.api_server import ApiServerController

    registry = StreamRegistry()
    providers = ProviderSetup(folder, timeouts=lambda: Timeouts.from_single(settings.timeout))
    # The window reads on `store`; every write goes through its own thread and connection.
    writer = StoreWriter.beside(store)
    services = AppServices(store, settings, registry, providers, writer, folder)
    api_server = ApiServerController(settings, providers.registry, writer)
    # Exchanges through the in-app server are saved as threads: show them in the sidebars.
    api_server.exchange_ended.connect(registry.threads_changed)
    state = WindowState(backend.get_bytes, backend.put_bytes)
    windows: list[MainWindow] = []

    def open_window(*, open_last_thread: bool = False) -> MainWindow:
        window = MainWindow(services, state, open_last_thread=open_last_thread)
        window.new_window_requested.connect(open_new_window)
        window.preferences_requested.connect(window.open_preferences)
        api_server.state_changed.connect(window.server_status.setText)
        window.server_status.setText(api_server.state)
        window.closed.connect(lambda: windows.remove(window) if window in windows else None)
        windows.append(window)
        window.show()
        return window

    def open_new_window() -> None:
        # File > New Window: the loop runs, so the model list can be fetched at once.
        open_window().start_background_work()

    # The first window shows before the event loop runs; its models are fetched (and local
    # servers looked for) in main(), once a running loop can run the tasks: a task made
    # before it would never run.
    first = open_window()
    shown_ms = paint_now(app, first, started)
    if quit_after_show:
        print(f"window shown in {shown_ms:.0f} ms", flush=True)
    first.controller.open_last_thread()  # where the user left off, right after the first paint
    import qasync

    if store.recovered_from is not None:
        QMessageBox.warning(
            first,
            "Chat history was damaged",
            f"The chat database could not be read and was moved aside to:\n"
            f"{store.recovered_from}\nA new, empty one was created.",
        )
    if providers.problem:
        QMessageBox.warning(first, "Provider settings were damaged", providers.problem)
    if store.read_only is not None:
        first.banner.show_error(
            errors.StoreError(
                f"Your chats are open read-only ({store.read_only}): they can be read, searched "
                "and exported, but new messages cannot be saved until the data folder is "
                f"writable again ({folder})."
            ),
            can_retry=False,
        )
    if store.interrupted_on_open:
        first.statusBar().showMessage(
            f"{store.interrupted_on_open} answer(s) were interrupted when the app last closed; "
            "their text was kept.",
            8000,
        )

    def on_theme_changed() -> None:
        apply_theme(app, resolve_dark(settings.theme))
        for window in windows:
            window.apply_system_theme()

    settings.subscribe(lambda key: on_theme_changed() if key == "appearance/theme" else None)
    hints = app.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda _scheme: on_theme_changed())

    async def main() -> None:
        from llms_desktop.ui.event_loop import cancel_leftover_tasks, install_asyncgen_hooks

        install_asyncgen_hooks()
        for window in windows:
            window.start_background_work()
        api_server.apply()
        closing = asyncio.Event()
        app.lastWindowClosed.connect(closing.set)
        # What exists by now lives as long as the app: the garbage collector stops scanning
        # it (a full collection over it took ~16 ms, in the middle of a streamed answer).
        gc.collect()
        gc.freeze()
        if quit_after_show:
            QTimer.singleShot(0, app.closeAllWindows)
        await closing.wait()
        # Quitting mid-answer keeps the partial text: stop each stream and let it save.
        await api_server.stop()
        await registry.stop_all()
        await cancel_leftover_tasks()
        await services.aclose()
        # The last writes (answers stopped above) finish before the connection closes; on a
        # thread of its own: qasync's default executor starts ten threads and joins them all
        # at exit (~0.1 s on quit).
        await in_thread(writer.close)

    app.setQuitOnLastWindowClosed(False)
    try:
        asyncio.run(main(), loop_factory=lambda: qasync.QEventLoop(app))
    finally:
        store.close()
    return 0
