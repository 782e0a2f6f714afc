"""The main window: sidebar, chat view, error banner, composer, menus and status bar."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from llms_desktop import __version__
from llms_desktop import settings as keys
from llms_desktop.providers.discovery import KNOWN_SERVERS, LocalServerKind
from llms_desktop.render_cache import RenderCache
from llms_desktop.types import Thread
from llms_desktop.ui.chat_controller import ChatController
from llms_desktop.ui.chat_find import ChatFinder, FindBar
from llms_desktop.ui.chat_services import ChatServices, WindowParts
from llms_desktop.ui.chat_view import ChatView
from llms_desktop.ui.composer import Composer
from llms_desktop.ui.error_banner import ErrorBanner
from llms_desktop.ui.first_run import FirstRun
from llms_desktop.ui.message_menu import MessageMenu
from llms_desktop.ui.providers_page import ProvidersPage
from llms_desktop.ui.settings_dialog import SettingsDialog
from llms_desktop.ui.stream_status import StreamStatus
from llms_desktop.ui.theme import resolve_dark
from llms_desktop.ui.thread_list import ThreadSidebar
from llms_desktop.ui.thread_settings import ThreadSettingsPanel
from llms_desktop.ui.welcome_page import WelcomePage

APP_NAME = "llms-desktop"


class WindowState:
    """Where a window keeps its geometry and splitter sizes (QSettings in the app)."""

    def __init__(
        self,
        load: Callable[[str], QByteArray | None],
        save: Callable[[str, QByteArray], None],
    ) -> None:
        self.load = load
        self.save = save


class MainWindow(QMainWindow):
    """One chat window; several can be open on the same store.

    Signals:
        new_window_requested(): File > New Window (Ctrl+Shift+N).
        preferences_requested(): Preferences (Ctrl+,).
        closed(): the window closed.
    """

    new_window_requested = Signal()
    preferences_requested = Signal()
    closed = Signal()

    def __init__(
        self,
        services: ChatServices,
        state: WindowState | None = None,
        *,
        local_servers: Sequence[LocalServerKind] = KNOWN_SERVERS,
        open_last_thread: bool = False,
    ) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        # A closed window is destroyed, not hidden: nothing of it keeps following streams.
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.services = services
        self._state = state
        self._unsubscribe = services.settings.subscribe(self._on_setting_changed)
        settings = services.settings

        self.sidebar = ThreadSidebar(services.store, self)
        self.chat_view = ChatView(self, dark=resolve_dark(settings.theme))
        self.chat_view.set_font_size(settings.font_size)
        self.chat_view.attachment_files = services.store.blobs
        folder = services.data_folder
        self.chat_view.chat.cache = RenderCache(folder / "render-cache" if folder else None)
        self.welcome = WelcomePage(self)
        self.chat_stack = QStackedWidget(self)
        self.chat_stack.addWidget(self.chat_view)
        self.chat_stack.addWidget(self.welcome)
        self.first_run = FirstRun(services.providers, self.welcome, local_servers, self._own_port)
        self._started = False
        self.find_bar = FindBar(self)
        self.finder = ChatFinder(self.chat_view, self.find_bar, self)
        self.banner = ErrorBanner(self)
        self.composer = Composer(self)
        self.composer.set_send_on_enter(settings.send_on_enter)
        self.composer.set_font_size(settings.font_size)
        self.stream_status = StreamStatus(self)
        self.server_status = QLabel(self)
        self.server_status.setObjectName("serverStatus")
        self.statusBar().addWidget(self.stream_status, 1)
        self.statusBar().addPermanentWidget(self.server_status)

        chat_area = QWidget(self)
        chat_layout = QVBoxLayout(chat_area)
        chat_layout.setContentsMargins(0, 8, 8, 0)
        chat_layout.setSpacing(6)
        chat_layout.addWidget(self.find_bar)
        chat_layout.addWidget(self.chat_stack, 1)
        chat_layout.addWidget(self.banner)
        chat_layout.addWidget(self.composer)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("mainSplitter")
        self.thread_settings = ThreadSettingsPanel(self)
        self.thread_settings.hide()  # Chat > Chat Settings shows it
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(chat_area)
        self.splitter.addWidget(self.thread_settings)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 760, 260])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.controller = ChatController(
            services,
            WindowParts(
                chat_view=self.chat_view,
                composer=self.composer,
                sidebar=self.sidebar,
                banner=self.banner,
                status=self.stream_status,
                notify=self._notify,
                show_welcome=self._show_welcome,
                thread_settings=self.thread_settings,
            ),
            self,
        )
        self._build_menus()
        self._connect_signals()
        self.resize(1100, 760)
        self._restore_state()
        self.sidebar.refresh()
        # The picker shows the model picked last at once; the list fills in when it arrives.
        self.composer.set_model(self.controller.models.remembered())
        if open_last_thread:
            self.controller.open_last_thread()
        else:
            self.controller.new_chat()

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.new_chat_action = self._action("New &Chat", QKeySequence.StandardKey.New)
        self.new_window_action = self._action("New &Window", QKeySequence("Ctrl+Shift+N"))
        self.preferences_action = self._action("&Preferences…", QKeySequence("Ctrl+,"))
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.close_action = self._action("&Close Window", QKeySequence.StandardKey.Close)
        self.quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        for action in (self.new_chat_action, self.new_window_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.preferences_action)
        file_menu.addSeparator()
        file_menu.addAction(self.close_action)
        file_menu.addAction(self.quit_action)

        chat_menu = menu.addMenu("&Chat")
        self.stop_action = self._action("&Stop Answer", QKeySequence(Qt.Key.Key_Escape))
        self.stop_action.setEnabled(False)  # while an answer streams; Esc does nothing else
        self.focus_search_action = self._action("&Search Chats", QKeySequence.StandardKey.Find)
        self.find_in_chat_action = self._action("&Find in Chat…", QKeySequence("Ctrl+Shift+F"))
        self.find_next_action = self._action("Find &Next", QKeySequence.StandardKey.FindNext)
        self.find_previous_action = self._action(
            "Find Pre&vious", QKeySequence.StandardKey.FindPrevious
        )
        self.focus_prompt_action = self._action("Focus &Prompt", QKeySequence("Ctrl+L"))
        self.attach_action = self._action("&Attach Files…", QKeySequence("Ctrl+Shift+A"))
        self.attach_action.setToolTip("Images for vision models; text, code and PDF as text")
        self.rename_action = self._action("&Rename Chat…", QKeySequence("F2"))
        # Not Ctrl+Backspace: the prompt box takes that (delete the previous word). Delete
        # also works in the thread list (ThreadSidebar).
        self.delete_action = self._action("&Delete Chat…", QKeySequence("Ctrl+Shift+Backspace"))
        self.delete_action.setToolTip("Delete the open chat (Delete in the chat list)")
        self.settings_panel_action = self._action("Chat &Settings", QKeySequence("Ctrl+Shift+S"))
        self.settings_panel_action.setCheckable(True)
        self.settings_panel_action.setToolTip(
            "This chat's system prompt, temperature, top P and max tokens"
        )
        for action in (
            self.stop_action,
            self.focus_search_action,
            self.focus_prompt_action,
            self.attach_action,
        ):
            chat_menu.addAction(action)
        chat_menu.addAction(self.settings_panel_action)
        chat_menu.addSeparator()
        for action in (
            self.find_in_chat_action,
            self.find_next_action,
            self.find_previous_action,
        ):
            chat_menu.addAction(action)
        chat_menu.addSeparator()
        chat_menu.addAction(self.rename_action)
        chat_menu.addAction(self.delete_action)

        self.message_menu = MessageMenu(
            menu.addMenu("&Message"), self.controller, self.chat_view, self._notify, self
        )

        help_menu = menu.addMenu("&Help")
        self.about_action = self._action(f"&About {APP_NAME}", None)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(self.about_action)

    def _action(
        self, text: str, shortcut: QKeySequence | QKeySequence.StandardKey | None
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        return action

    def _connect_signals(self) -> None:
        c = self.controller
        self.sidebar.thread_activated.connect(self._on_thread_activated)
        self.sidebar.typing_started.connect(self._on_typing_started)
        self.sidebar.new_chat_requested.connect(self._on_new_chat)
        self.sidebar.rename_requested.connect(self._on_rename_requested)
        self.sidebar.delete_requested.connect(self._on_delete_requested)
        self.sidebar.pin_toggled.connect(c.threads.toggle_pin)
        self.composer.send_requested.connect(c.send)
        self.composer.stop_requested.connect(c.stop)
        self.composer.model_chosen.connect(c.models.choose)
        self.composer.models_wanted.connect(c.models.want)
        self.composer.models_wanted.connect(self.chat_view.warm_up_later)
        self.composer.edit_cancelled.connect(c.actions.cancel_editing)
        self.composer.attach_requested.connect(c.attachments.pick_files)
        self.composer.files_offered.connect(c.attachments.add_paths)
        self.composer.image_offered.connect(c.attachments.add_image)
        self.attach_action.triggered.connect(c.attachments.pick_files)
        self.thread_settings.edited.connect(c.settings_panel.edit)
        self.thread_settings.reset_requested.connect(c.settings_panel.reset)
        self.settings_panel_action.toggled.connect(self.thread_settings.setVisible)
        self.banner.retry_requested.connect(c.retry)
        self.first_run.provider_added.connect(self._on_provider_added)
        self.first_run.failed.connect(self._notify)
        self.welcome.custom_requested.connect(self._on_custom_provider_requested)
        self.chat_view.code_copied.connect(self._on_code_copied)
        c.thread_changed.connect(self._on_thread_changed)
        c.streaming_changed.connect(self.stop_action.setEnabled)
        self.new_chat_action.triggered.connect(self._on_new_chat)
        self.new_window_action.triggered.connect(self.new_window_requested)
        self.preferences_action.triggered.connect(self.preferences_requested)
        self.close_action.triggered.connect(self.close)
        self.quit_action.triggered.connect(QApplication.closeAllWindows)
        self.stop_action.triggered.connect(c.stop)
        self.focus_search_action.triggered.connect(self._on_focus_search)
        self.find_in_chat_action.triggered.connect(self._on_find_in_chat)
        self.find_next_action.triggered.connect(self.finder.next)
        self.find_previous_action.triggered.connect(self.finder.previous)
        self.focus_prompt_action.triggered.connect(self.composer.focus_prompt)
        self.rename_action.triggered.connect(self._on_rename_current)
        self.delete_action.triggered.connect(self._on_delete_current)
        self.about_action.triggered.connect(self._on_about)

    # Dialogs ----------------------------------------------------------------------------------
    def open_preferences(self) -> SettingsDialog:
        """Show the Preferences dialog (non-modal: changes apply at once)."""
        dialog = SettingsDialog(self.services.settings, self)
        page = ProvidersPage(self.services.providers, dialog)
        page.providers_changed.connect(self.services.registry.providers_changed)
        dialog.add_page(page, "Providers")
        from llms_desktop.ui.tools_page import ToolsPage  # not needed to show the window

        dialog.add_page(
            ToolsPage(self.services.tool_manager, self.services.settings, dialog), "Tools"
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def open_providers(self, provider_id: str = "") -> ProvidersPage:
        """Preferences on the Providers tab; with an id, that provider's key field has focus."""
        dialog = self.open_preferences()
        page = dialog.findChild(ProvidersPage)
        assert page is not None
        dialog.tabs.setCurrentWidget(page)
        if provider_id:
            page.edit_key_of(provider_id)
        return page

    # Background work --------------------------------------------------------------------------
    def start_background_work(self) -> None:
        """Let the model list be fetched once the user reaches for it, and look for local
        servers on first run; needs the running loop."""
        self._started = True
        self.controller.models.start()
        if self.chat_stack.currentWidget() is self.welcome:
            self.first_run.look()

    def _show_welcome(self, show: bool) -> None:
        was_shown = self.chat_stack.currentWidget() is self.welcome
        self.chat_stack.setCurrentWidget(self.welcome if show else self.chat_view)
        if show and not was_shown and self._started:
            self.first_run.look()
        elif not show:
            self.first_run.stop()

    def _own_port(self) -> int | None:
        settings = self.services.settings
        return settings.server_port if settings.server_enabled else None

    def _on_provider_added(self, provider_id: str, needs_key: bool) -> None:
        self.services.registry.providers_changed.emit()
        if needs_key:
            self.open_providers(provider_id)
        else:
            self._notify("Provider added: pick a model below and start chatting.")
            self.composer.focus_prompt()

    def _on_custom_provider_requested(self) -> None:
        self.open_providers()

    def _on_rename_requested(self, thread_id: str) -> None:
        thread = self.services.store.get_thread(thread_id)
        if thread is None:
            return
        title, ok = QInputDialog.getText(self, "Rename chat", "Title:", text=thread.title)
        if ok:
            self.controller.threads.rename(thread_id, title)

    def _on_delete_requested(self, thread_id: str) -> None:
        thread = self.services.store.get_thread(thread_id)
        if thread is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete chat",
            f"Delete “{thread.title or 'New chat'}” and all its messages? This cannot be undone.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        if box.clickedButton() is delete:
            self.controller.threads.delete(thread_id)

    def _on_rename_current(self) -> None:
        # F2 in the chat list renames the chat selected there; elsewhere the open chat.
        thread_id = self.sidebar.focused_thread_id() or self.controller.thread_id
        if thread_id:
            self._on_rename_requested(thread_id)

    def _on_delete_current(self) -> None:
        if self.controller.thread_id:
            self._on_delete_requested(self.controller.thread_id)

    def _on_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<br>A desktop chat app for large language models.",
        )

    # Slots ----------------------------------------------------------------------------------
    def _notify(self, text: str) -> None:
        self.statusBar().showMessage(text, 5000)

    def _on_code_copied(self, _code: str) -> None:
        self._notify("Code copied to the clipboard.")

    def _on_focus_search(self) -> None:
        self.sidebar.search_box.setFocus()
        self.sidebar.search_box.selectAll()

    def _on_thread_activated(self, thread_id: str, message_id: str, go_on_typing: bool) -> None:
        self.controller.open_thread(thread_id, message_id, focus_prompt=go_on_typing)
        if message_id:
            # A search hit: the words searched for, highlighted in the chat, F3 for the next.
            self.finder.open(self.sidebar.search_words(), from_anchor=f"msg-{message_id}")
        elif self.finder.is_open:
            self.finder.close()

    def _on_new_chat(self) -> None:
        self.finder.close()
        self.controller.new_chat()

    def _on_find_in_chat(self) -> None:
        self.finder.open()
        self.find_bar.edit.selectAll()

    def _on_typing_started(self, text: str) -> None:
        self.composer.focus_prompt()
        self.composer.prompt.insertPlainText(text)

    def _on_thread_changed(self, thread: Thread | None) -> None:
        title = thread.title if thread is not None and thread.title else "New chat"
        self.setWindowTitle(f"{title} — {APP_NAME}")

    def _on_setting_changed(self, key: str) -> None:
        settings = self.services.settings
        if key == keys.THEME.key:
            self.chat_view.set_theme(resolve_dark(settings.theme))
        elif key == keys.FONT_SIZE.key:
            self.chat_view.set_font_size(settings.font_size)
            self.composer.set_font_size(settings.font_size)
        elif key == keys.SEND_ON_ENTER.key:
            self.composer.set_send_on_enter(settings.send_on_enter)
        elif key == keys.DEFAULT_MODEL.key and settings.default_model:
            # A new default model in Preferences is what the user wants to talk to now.
            self.composer.set_model(settings.default_model)
            self.controller.models.choose(settings.default_model)

    def apply_system_theme(self) -> None:
        """The OS switched light/dark; follow it unless the user chose a theme."""
        self.chat_view.set_theme(resolve_dark(self.services.settings.theme))

    # Window state -----------------------------------------------------------------------------
    def _restore_state(self) -> None:
        if self._state is None:
            return
        geometry = self._state.load("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self._state.load("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def save_state(self) -> None:
        if self._state is not None:
            self._state.save("window/geometry", self.saveGeometry())
            self._state.save("window/splitter", self.splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.chat_view.chat.keep_rendered()  # the next start shows this chat without rendering
        self.controller.shutdown()
        self._unsubscribe()
        self.closed.emit()
        super().closeEvent(event)
