"""What a window does (open threads, send, stop, retry); it drives the views, which only lay out."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, Signal

from llms_desktop import errors, turns
from llms_desktop import settings as keys
from llms_desktop.providers.base import Provider
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.session import ChatSession
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.store.writer import Writer
from llms_desktop.types import Delta, Message, ReasoningDelta, TextDelta, Thread, ToolCallDelta
from llms_desktop.ui.chat_view import ChatView
from llms_desktop.ui.composer import Composer
from llms_desktop.ui.error_banner import ErrorBanner
from llms_desktop.ui.reply_streamer import ReplyStreamer
from llms_desktop.ui.stream_registry import StreamRegistry
from llms_desktop.ui.stream_status import StreamStatus
from llms_desktop.ui.thread_list import ThreadSidebar

if TYPE_CHECKING:
    from llms_desktop.tools.loop import Decision, PendingCall
    from llms_desktop.tools.manager import ToolManager
    from llms_desktop.tools.toolbox import Toolbox


class ResolvedModel(Protocol):
    """A model id resolved to its provider (see app.Resolved)."""

    @property
    def provider(self) -> Provider: ...

    @property
    def provider_id(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...


class ChatServices(Protocol):
    """What the composition root hands every window."""

    store: Store
    writer: Store | Writer  # writes go here: a StoreWriter keeps them off the event loop
    settings: Settings
    registry: StreamRegistry
    providers: ProviderSetup

    async def resolve(self, model_ref: str) -> ResolvedModel:
        """The provider serving a `provider/model` id ("" for the default) and the model."""
        ...

    async def list_models(self) -> tuple[list[str], list[str]]:
        """Model ids to offer in the picker, and problems to tell the user about."""
        ...

    def fallback_model(self) -> str:
        """A model from the environment when the user chose none ("" if unset)."""
        ...

    def has_provider(self) -> bool:
        """Whether any provider is set up and enabled."""
        ...

    async def tool_manager(self) -> ToolManager | None:
        """The MCP servers (none started yet), or None when tools are not available."""
        ...


@dataclass
class WindowParts:
    """The widgets a controller drives."""

    chat_view: ChatView
    composer: Composer
    sidebar: ThreadSidebar
    banner: ErrorBanner
    status: StreamStatus
    notify: Callable[[str], None]  # a transient status-bar message
    show_welcome: Callable[[bool], None]  # the first-run page in place of the chat


class ChatController(QObject):
    """The logic of one window.

    Signals:
        thread_changed(object): the open thread (a Thread) or None for a new chat.
        streaming_changed(bool): whether this window now follows an answer in progress.
    """

    thread_changed = Signal(object)
    streaming_changed = Signal(bool)

    def __init__(self, services: ChatServices, parts: WindowParts, parent: QObject | None = None):
        super().__init__(parent)
        self.services = services
        self.parts = parts
        self.thread_id: str | None = None
        self._streamer: ReplyStreamer | None = None
        self._retry: Callable[[], None] | None = None
        self._model_task: asyncio.Task[None] | None = None
        # A prompt sent but not saved yet: it goes back into the box if the answer cannot start.
        self._unsaved_prompt: str | None = None
        services.registry.stream_started.connect(self._on_registry_stream_started)
        services.registry.threads_changed.connect(self._on_threads_changed)
        services.registry.providers_changed.connect(self._on_providers_changed)

    def shutdown(self) -> None:
        """The window is closing: stop following answers (they go on, in the registry)."""
        self._detach()
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.stream_started.disconnect(self._on_registry_stream_started)
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.threads_changed.disconnect(self._on_threads_changed)
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.providers_changed.disconnect(self._on_providers_changed)
        if self._model_task is not None:
            self._model_task.cancel()

    # Threads ----------------------------------------------------------------------------------
    def open_last_thread(self) -> None:
        """The thread opened last (before a restart too), or a new chat if it is gone."""
        thread_id = self.services.settings.get(keys.LAST_THREAD)
        if thread_id and self.services.store.get_thread(thread_id) is not None:
            self.open_thread(thread_id)
        else:
            self.new_chat()

    def new_chat(self) -> None:
        """An empty conversation; the thread is created when the first message is sent."""
        self._detach()
        self.thread_id = None
        self.parts.banner.hide()
        self.parts.chat_view.show_thread([])
        self.parts.sidebar.select(None)
        self.parts.status.clear_status()
        self._update_welcome()
        self.thread_changed.emit(None)
        self.parts.composer.focus_prompt()

    def open_thread(
        self, thread_id: str, message_id: str = "", *, focus_prompt: bool = True
    ) -> None:
        """Show a stored thread; follow its answer if one is streaming (in any window)."""
        store = self.services.store
        thread = store.get_thread(thread_id)
        if thread is None:
            self.parts.notify("That chat no longer exists.")
            self.parts.sidebar.refresh()
            return
        self._detach()
        self.thread_id = thread_id
        self.parts.banner.hide()
        self.parts.status.clear_status()
        self._update_welcome()
        streamer = self.services.registry.streamer_for(thread_id)
        live = streamer.assistant_message if streamer and streamer.answer_open else None
        live_id = live.id if live else None
        messages = [m for m in store.messages(thread_id) if m.id != live_id]
        self.parts.chat_view.show_thread(messages)
        if thread.model:
            ref = f"{thread.provider}/{thread.model}" if thread.provider else thread.model
            self.parts.composer.set_model(ref)
        if streamer is not None and streamer.assistant_message is not None:
            # Between rounds of a tool loop no answer is open: follow for the next one.
            self._follow(streamer, catch_up=True)
        if message_id:
            self.parts.chat_view.scrollToAnchor(f"msg-{message_id}")
        self.parts.sidebar.select(thread_id)
        self.services.settings.set(keys.LAST_THREAD, thread_id)
        self.thread_changed.emit(thread)
        if focus_prompt:
            self.parts.composer.focus_prompt()

    def rename_thread(self, thread_id: str, title: str) -> None:
        title = " ".join(title.split())
        if not title:
            return
        self.services.store.rename_thread(thread_id, title)
        self.services.registry.threads_changed.emit()
        if thread_id == self.thread_id:
            self.thread_changed.emit(self.services.store.get_thread(thread_id))

    def delete_thread(self, thread_id: str) -> None:
        streamer = self.services.registry.streamer_for(thread_id)
        if streamer is not None:
            streamer.stop()
        self.services.store.delete_thread(thread_id)
        if thread_id == self.thread_id:
            self.new_chat()
        self.services.registry.threads_changed.emit()

    def toggle_pin(self, thread_id: str) -> None:
        thread = self.services.store.get_thread(thread_id)
        if thread is not None:
            self.services.store.set_pinned(thread_id, not thread.pinned)
            self.services.registry.threads_changed.emit()

    # Sending --------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Send a prompt in the open thread (or a new one)."""
        if self._streamer is not None:
            return
        if not self.services.has_provider():
            # Nothing could answer: keep the text and say what to do.
            self.parts.composer.restore_prompt(text)
            self.parts.banner.show_error(
                errors.ConfigError(
                    "No provider is set up yet, so your message was not sent (it is still in "
                    "the box). Add one on the welcome page or in Preferences > Providers, "
                    "then send again."
                ),
                can_retry=False,
            )
            self._update_welcome()
            return
        self.parts.banner.hide()
        model = self._chosen_model()
        if model:
            # The next window (or the next start) opens with the model used last.
            self.services.settings.set(keys.LAST_MODEL, model)
        self._start(thread_id=self.thread_id, user_text=text, model=model)
        self._retry = lambda: self._retry_send(text, model)

    def stop(self) -> None:
        """Stop the answer this window follows."""
        if self._streamer is not None:
            self._streamer.stop()

    def retry(self) -> None:
        """Try the failed request again."""
        retry, self._retry = self._retry, None
        self.parts.banner.hide()
        if retry is not None and self._streamer is None:
            retry()

    def _retry_send(self, text: str, model: str) -> None:
        self._retry = lambda: self._retry_send(text, model)
        thread_id = self.thread_id
        if thread_id is None:
            self._start(thread_id=None, user_text=text, model=model)
            return
        messages = self.services.store.messages(thread_id)
        # Drop the failed answer so the thread ends with the user's message again.
        if messages and messages[-1].role == "assistant" and messages[-1].status == "error":
            self.services.store.delete_message(messages[-1].id)
            messages = messages[:-1]
        self.parts.chat_view.show_thread(messages)
        if messages and messages[-1].role in ("user", "tool"):
            # Answer again what is there (after tool results: the next round of the loop).
            self._start(thread_id=thread_id, user_text=None, model=model)
        else:
            self._start(thread_id=thread_id, user_text=text, model=model)

    def _chosen_model(self) -> str:
        return self.parts.composer.model or self.remembered_model()

    def remembered_model(self) -> str:
        """The model picked last (in any window, before a restart too), else the default."""
        settings = self.services.settings
        return (
            settings.get(keys.LAST_MODEL)
            or settings.default_model
            or self.services.fallback_model()
        )

    def choose_model(self, model: str) -> None:
        """The user picked a model: remember it for the next window and the next start."""
        model = model.strip()
        if model:
            self.services.settings.set(keys.LAST_MODEL, model)

    def _start(self, *, thread_id: str | None, user_text: str | None, model: str) -> None:
        services = self.services
        self._unsaved_prompt = user_text
        settings = services.settings
        system_prompt = (settings.system_prompt or None) if thread_id is None else None
        stream = settings.stream

        async def run(streamer: ReplyStreamer) -> Message:
            resolved = await services.resolve(model)
            store = services.store
            if user_text is None:
                assert thread_id is not None
                turn = turns.plan_regenerate(
                    store,
                    thread_id=thread_id,
                    message_id=None,
                    model=resolved.model,
                    provider_id=resolved.provider_id,
                    base_params=resolved.params,
                    stream=stream,
                )
            else:
                turn = turns.plan_send(
                    store,
                    thread_id=thread_id,
                    text=user_text,
                    model=resolved.model,
                    provider_id=resolved.provider_id,
                    system_prompt=system_prompt,
                    base_params=resolved.params,
                    stream=stream,
                )
            session = ChatSession(resolved.provider, services.writer)
            tools = await self._tools()
            if tools is None:
                return await session.run(turn, streamer)
            from llms_desktop.tools.loop import ToolLoop

            manager, toolbox = tools
            rounds = settings.tool_rounds
            loop = ToolLoop(session, manager, toolbox, self._approve, max_rounds=rounds)
            return await loop.run(turn, streamer)

        streamer = services.registry.start(run)
        self._follow(streamer, catch_up=False)
        self.parts.status.waiting(model or "the model")

    async def _tools(self) -> tuple[ToolManager, Toolbox] | None:
        """The enabled MCP tools, their servers started (on the tool thread) if need be. A
        broken mcp.json turns tools off for this message (said in the status bar), no more."""
        try:
            manager = await self.services.tool_manager()
        except errors.ConfigError as exc:
            self.parts.notify(f"Tools are off: {exc}")
            return None
        if manager is None or not any(server.enabled for server in manager.config.servers):
            return None
        from llms_desktop.tools.toolbox import Toolbox

        tools, problems = await manager.enabled_tools()
        if problems:
            self.parts.notify("Tools unavailable: " + " ".join(problems))
        return (manager, Toolbox(tools)) if tools else None

    async def _approve(self, call: PendingCall) -> Decision:
        from llms_desktop.ui.tool_approval import ask

        self.parts.status.clear_status(f"Waiting for your approval to run {call.tool.name}…")
        return await ask(call, self.parts.chat_view.window())

    # Following a live answer ----------------------------------------------------------------
    def _follow(self, streamer: ReplyStreamer, *, catch_up: bool) -> None:
        self._streamer = streamer
        streamer.started.connect(self._on_started)
        streamer.delta_received.connect(self._on_delta)
        streamer.finished.connect(self._on_finished)
        streamer.cancelled.connect(self._on_cancelled)
        streamer.failed.connect(self._on_failed)
        streamer.answer_finished.connect(self._on_answer_finished)
        streamer.tool_started.connect(self._on_tool_started)
        streamer.tool_finished.connect(self._on_tool_finished)
        self.parts.composer.set_streaming(True)
        self.streaming_changed.emit(True)
        if catch_up and streamer.assistant_message is not None and streamer.answer_open:
            view = self.parts.chat_view
            view.begin_answer(streamer.assistant_message)
            reasoning = streamer.accumulated.reasoning_text
            if reasoning:
                view.add_delta(ReasoningDelta(reasoning))
            text = streamer.accumulated.text
            if text:
                view.add_delta(TextDelta(text))
            for index, call in enumerate(streamer.accumulated.tool_call_dicts()):
                function = call["function"]
                view.add_delta(
                    ToolCallDelta(index, call["id"], function["name"], function["arguments"])
                )
            loop_now = asyncio.get_running_loop().time()
            started = streamer.started_at or loop_now
            first = streamer.first_delta_at
            self.parts.status.resume(
                streamer.assistant_message.model or "the model",
                loop_now - started,
                None if first is None else loop_now - first,
                streamer.delta_count,
            )

    def _detach(self) -> None:
        streamer, self._streamer = self._streamer, None
        if streamer is None:
            return
        for signal, slot in (
            (streamer.started, self._on_started),
            (streamer.delta_received, self._on_delta),
            (streamer.finished, self._on_finished),
            (streamer.cancelled, self._on_cancelled),
            (streamer.failed, self._on_failed),
            (streamer.answer_finished, self._on_answer_finished),
            (streamer.tool_started, self._on_tool_started),
            (streamer.tool_finished, self._on_tool_finished),
        ):
            with contextlib.suppress(RuntimeError, TypeError):
                signal.disconnect(slot)
        self.parts.composer.set_streaming(False)
        self.streaming_changed.emit(False)
        self.parts.status.clear_status()

    def _on_threads_changed(self) -> None:
        # Some window created, renamed, pinned, deleted or answered in a thread: every
        # sidebar shows it, and a window whose thread was deleted starts a new chat.
        if self.thread_id is not None and self.services.store.get_thread(self.thread_id) is None:
            self.new_chat()
        self.parts.sidebar.refresh(select_id=self.thread_id)

    def _on_registry_stream_started(self, thread_id: str, streamer: ReplyStreamer) -> None:
        # Another window started an answer in the thread this window shows: reload the thread
        # (it has a new user message) and follow the answer live.
        if thread_id == self.thread_id and self._streamer is None:
            self.open_thread(thread_id)

    def _on_started(self, thread: Thread, user: Message | None, assistant: Message) -> None:
        view = self.parts.chat_view
        self._unsaved_prompt = None
        if self.thread_id is None:
            self.thread_id = thread.id
            self.services.settings.set(keys.LAST_THREAD, thread.id)
            self._update_welcome()
            self.thread_changed.emit(thread)
        if user is not None:
            view.append_message(user)
        view.begin_answer(assistant)
        self.services.registry.threads_changed.emit()

    def _on_delta(self, delta: Delta) -> None:
        if isinstance(delta, TextDelta | ReasoningDelta):
            self.parts.status.token()
        self.parts.chat_view.add_delta(delta)

    def _on_finished(self, message: Message) -> None:
        self._end(message)

    def _on_answer_finished(self, message: Message) -> None:
        # With tools, an answer that asked for them ends before the loop goes on.
        view = self.parts.chat_view
        if view.chat.live_message_id == message.id:
            view.end_answer(message)

    def _on_tool_started(self, call: PendingCall) -> None:
        self.parts.status.clear_status(f"Running {call.tool.name} ({call.tool.server})…")

    def _on_tool_finished(self, result: Message) -> None:
        self.parts.chat_view.append_message(result)
        answer = self._streamer.assistant_message if self._streamer is not None else None
        self.parts.status.waiting((answer.model if answer else None) or "the model")

    def _on_cancelled(self, message: Message | None) -> None:
        self._end(message)
        self._restore_unsaved_prompt()
        self.parts.notify("Stopped: the partial answer is kept.")

    def _on_failed(self, message: Message | None, error: BaseException) -> None:
        self._end(message)
        self._restore_unsaved_prompt()
        self.parts.banner.show_error(error, can_retry=self._retry is not None)

    def _restore_unsaved_prompt(self) -> None:
        # The answer ended before the prompt was saved (no provider, a bad setting): the text
        # would be lost, so it goes back into the box.
        text, self._unsaved_prompt = self._unsaved_prompt, None
        if text:
            self.parts.composer.restore_prompt(text)

    def _end(self, message: Message | None) -> None:
        self._detach()
        if message is not None:
            view = self.parts.chat_view
            shown = any(m.id == message.id for m in view.chat.messages)
            if view.chat.live_message_id == message.id or not shown:
                view.end_answer(message)
            self.parts.status.finished(message)
        self.services.registry.threads_changed.emit()
        self.parts.composer.focus_prompt()

    # Providers and models ----------------------------------------------------------------------
    def _update_welcome(self) -> None:
        self.parts.show_welcome(self.thread_id is None and not self.services.has_provider())

    def _on_providers_changed(self) -> None:
        # A "no provider" (or other setup) error is stale once providers change.
        banner = self.parts.banner
        if not banner.isHidden() and isinstance(banner.error, errors.ConfigError):
            banner.hide()
        self._update_welcome()
        self.refresh_models(force=True)

    def refresh_models(self, *, force: bool = False) -> None:
        """Ask the providers for their models in the background; the picker fills when done."""
        if self._model_task is not None and not self._model_task.done():
            if not force:
                return
            self._model_task.cancel()
        self._model_task = asyncio.get_running_loop().create_task(self._load_models())

    async def _load_models(self) -> None:
        composer = self.parts.composer
        try:
            models, problems = await self.services.list_models()
        except errors.LlmsDesktopError as exc:
            models, problems = [], [str(exc)]
        if problems:
            self.parts.notify(f"Could not list models: {'; '.join(problems)}")
        # Read the choice after the wait: the user may have picked a model meanwhile.
        current = composer.model or self.remembered_model()
        composer.set_models(models, current or (models[0] if models else ""))
