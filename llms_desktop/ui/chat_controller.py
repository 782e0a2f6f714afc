"""What a window does (open threads, send, stop, retry); it drives the views, which only lay out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from llms_desktop import errors, turns
from llms_desktop import settings as keys
from llms_desktop.branches import MessageTree, Versions
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.types import Delta, Message, ReasoningDelta, TextDelta, Thread, ToolCallDelta
from llms_desktop.ui.after_answer import AfterAnswer
from llms_desktop.ui.attachment_intake import AttachmentIntake
from llms_desktop.ui.background_writes import BackgroundWrites
from llms_desktop.ui.chat_services import ChatServices, Planner, ResolvedModel, WindowParts
from llms_desktop.ui.chat_settings import ChatSettings
from llms_desktop.ui.chat_tools import approve, enabled_tools
from llms_desktop.ui.message_actions import MessageActions
from llms_desktop.ui.model_choice import ModelChoice
from llms_desktop.ui.off_thread import off_loop
from llms_desktop.ui.reply_streamer import ReplyStreamer
from llms_desktop.ui.retry_wait import RetryWait
from llms_desktop.ui.thread_actions import ThreadActions

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment
    from llms_desktop.tools.loop import PendingCall


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
        # A prompt sent but not saved yet: it goes back into the box if the answer cannot start
        # (its attachments too).
        self._unsaved_prompt: str | None = None
        self._unsaved_attachments: list[Attachment] = []
        self.attachments = AttachmentIntake(self)
        self.writes = BackgroundWrites(services.writer, self)
        self.writes.failed.connect(self._on_write_failed)
        self.retry_wait = RetryWait(parts.status, self)
        self.models = ModelChoice(services, parts, self)
        self.threads = ThreadActions(self)
        self.actions = MessageActions(self)
        self.settings_panel = ChatSettings(self)
        self.settings_panel.show_draft()
        self.after_answer = AfterAnswer(self)
        services.registry.stream_started.connect(self._on_registry_stream_started)
        services.registry.threads_changed.connect(self._on_threads_changed)
        services.registry.providers_changed.connect(self._on_providers_changed)
        services.registry.messages_changed.connect(self._on_messages_changed)

    def shutdown(self) -> None:
        """The window is closing: stop following answers (they go on, in the registry)."""
        self.settings_panel.flush()
        self._detach()
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.stream_started.disconnect(self._on_registry_stream_started)
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.threads_changed.disconnect(self._on_threads_changed)
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.providers_changed.disconnect(self._on_providers_changed)
        with contextlib.suppress(RuntimeError, TypeError):
            self.services.registry.messages_changed.disconnect(self._on_messages_changed)
        self.models.cancel()
        self.retry_wait.cancel()
        self.after_answer.cancel()

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
        self._leave_thread()
        self.thread_id = None
        self.parts.banner.hide()
        self.parts.chat_view.show_thread([], {})
        self.parts.sidebar.select(None)
        self.parts.status.clear_status()
        self._update_welcome()
        self.settings_panel.show_draft()
        # A new chat starts on the model picked last, not on the one the chat shown before
        # happened to use (opening a chat shows its own model in the picker).
        self.parts.composer.set_model(self.models.remembered())
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
        if thread_id != self.thread_id:
            self._leave_thread()
        self.thread_id = thread_id
        self.parts.banner.hide()
        self.parts.status.clear_status()
        self._update_welcome()
        self.settings_panel.show(thread)
        streamer = self.services.registry.streamer_for(thread_id)
        live = streamer.assistant_message if streamer and streamer.answer_open else None
        live_id = live.id if live else None
        tree = store.tree(thread_id)
        path = tree.active_path()
        if message_id in tree.by_id and all(m.id != message_id for m in path):
            # A search hit in a version not on screen: show that version (and remember it).
            path = tree.path_to(tree.leaf_under(message_id))
            self.writes.write(lambda store: store.select_message(message_id))
        messages = [m for m in path if m.id != live_id]
        self.parts.chat_view.show_thread(messages, versions_in(tree))
        if any(m.status == "streaming" for m in messages):
            # Not streaming here: its process may have died since; if so it is interrupted.
            self.writes.write(
                lambda store: store.interrupt_orphans(thread_id),
                lambda count: self.show_again(thread_id) if count else None,
            )
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

    def _leave_thread(self) -> None:
        """Before another chat is shown: what belongs to this one ends or is saved now."""
        self.settings_panel.flush()  # a system prompt still being typed is saved with it
        self.actions.leave_editing()
        self.retry_wait.cancel()  # a retry waiting for its time was for this chat
        self._retry = None

    # Sending --------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Send a prompt (and the composer's attachments) in the open thread (or a new one), or
        an edited message's new text; images for a model not known to take them ask first."""
        if self._streamer is not None:
            return
        restore = functools.partial(self.parts.composer.restore_prompt, text)
        self.attachments.check_images(self.models.chosen(), lambda: self._send(text), restore)

    def _send(self, text: str) -> None:
        if self._streamer is not None:
            self.parts.composer.restore_prompt(text)
            return
        if self.actions.take_edit(text):
            return  # it was an edited message, sent as a new version
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
        thread_id = self.thread_id
        system_prompt, params = self.settings_panel.current()
        attachments = self.parts.composer.take_attachments()

        def plan(store: Store, resolved: ResolvedModel, stream: bool) -> turns.Turn:
            return turns.plan_send(
                store,
                thread_id=thread_id,
                text=text,
                model=resolved.model,
                provider_id=resolved.provider_id,
                system_prompt=system_prompt,
                params=params,
                base_params=resolved.params,
                stream=stream,
                attachments=attachments,
            )

        self.start(plan, unsaved_prompt=text, retry=lambda: self.retry_failed(text))
        self._unsaved_attachments = attachments

    def stop(self) -> None:
        """Stop the answer this window follows (or a retry waiting for its time)."""
        if self.retry_wait.cancel():
            self.parts.notify("Retry cancelled.")
        if self._streamer is not None:
            self._streamer.stop()

    def retry(self) -> None:
        """Try the failed request again, once the provider's Retry-After has passed."""
        retry, self._retry = self._retry, None
        self.parts.banner.hide()
        if retry is not None and self._streamer is None:
            self.retry_wait.run(retry)

    def retry_failed(self, text: str | None) -> None:
        """Send again what failed, with the model chosen now (the user may have typed one)."""
        thread_id = self.thread_id
        if thread_id is None:
            if text is not None:
                self.send(text)
            return
        path = self.services.store.messages(thread_id)
        failed = path[-1] if path and path[-1].role == "assistant" else None
        if failed is not None and failed.status == "error" and not failed.content:
            # An empty failed answer is dropped, not kept as a version.
            self.writes.write(
                lambda store: store.delete_message(failed.id),
                lambda _: self.actions.regenerate(None),
            )
        elif failed is not None and failed.status == "error":
            self.actions.regenerate(failed.id)  # its partial text stays as the first version
        elif path and path[-1].role in ("user", "tool"):
            # Answer again what is there (after tool results: the next round of the loop).
            self.actions.regenerate(None)
        elif text is not None:
            self.send(text)

    def versions(self, thread_id: str | None = None) -> dict[str, Versions]:
        """Where each message of a thread (default: the open one) with other versions stands."""
        thread_id = thread_id or self.thread_id
        return {} if thread_id is None else versions_in(self.services.store.tree(thread_id))

    @property
    def busy(self) -> bool:
        """Whether this window follows an answer in progress."""
        return self._streamer is not None

    def start(
        self,
        plan: Planner,
        *,
        unsaved_prompt: str | None = None,
        retry: Callable[[], None] | None = None,
    ) -> None:
        """Resolve the chosen model, plan the exchange with it and stream the answer here."""
        services = self.services
        self.retry_wait.cancel()
        self._retry = retry
        self._unsaved_prompt = unsaved_prompt
        model = self.models.chosen()
        if model:
            # The next window (or the next start) opens with the model used last.
            services.settings.set(keys.LAST_MODEL, model)
        stream = services.settings.stream

        async def run(streamer: ReplyStreamer) -> Message:
            resolved = await services.resolve(model)
            # Off the loop: a plan reads the thread's stored attachments to send them again.
            turn = await off_loop(plan, services.store, resolved, stream)
            session = ChatSession(resolved.provider, services.writer)
            tools = await enabled_tools(services, self.parts.notify)
            if tools is None:
                message = await session.run(turn, streamer)
            else:
                from llms_desktop.tools.loop import ToolLoop

                manager, toolbox = tools
                rounds = services.settings.tool_rounds
                ask = functools.partial(approve, parts=self.parts)
                loop = ToolLoop(session, manager, toolbox, ask, max_rounds=rounds)
                message = await loop.run(turn, streamer)
            self.after_answer.handle(turn, resolved, message)
            return message

        streamer = services.registry.start(run)
        self._follow(streamer, catch_up=False)
        self.parts.status.waiting(model or "the model")

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

    def show_again(self, thread_id: str, *, keep_scroll: bool = False) -> None:
        """Show the open chat's active path again (a version switched, a message deleted)."""
        if thread_id != self.thread_id or self.busy:
            return  # an answer in progress: its end shows the thread as it is then
        view = self.parts.chat_view
        position = view.verticalScrollBar().value()
        tree = self.services.store.tree(thread_id)
        view.show_thread(tree.active_path(), versions_in(tree))
        if keep_scroll:
            view.verticalScrollBar().setValue(position)

    def _on_messages_changed(self, thread_id: str, origin: object) -> None:
        if origin is not self:
            self.show_again(thread_id, keep_scroll=True)

    def _on_registry_stream_started(self, thread_id: str, streamer: ReplyStreamer) -> None:
        # Another window started an answer in the thread this window shows: reload the thread
        # (it has a new user message) and follow the answer live.
        if thread_id == self.thread_id and self._streamer is None:
            self.open_thread(thread_id)

    def _on_started(self, thread: Thread, user: Message | None, assistant: Message) -> None:
        view = self.parts.chat_view
        self._unsaved_prompt, self._unsaved_attachments = None, []
        if self.thread_id in (None, thread.id):
            # An edit's new version (and later the answer's) shows where it stands.
            view.set_versions(self.versions(thread.id))
        if self.thread_id is None:
            self.thread_id = thread.id
            self.services.settings.set(keys.LAST_THREAD, thread.id)
            self._update_welcome()
            self.thread_changed.emit(thread)
        # A regenerate, an edit or a continue branches off above the end of what is shown:
        # show the path down to where the new message goes, the old versions out of sight.
        parent_id = user.parent_id if user is not None else assistant.parent_id
        shown = [message.id for message in view.chat.messages]
        if shown and shown[-1] != parent_id:
            path = self.services.store.tree(thread.id).path_to(parent_id)
            view.show_thread(path, self.versions(thread.id))
        if user is not None:
            view.append_message(user)
        view.begin_answer(assistant)
        if assistant.content or assistant.reasoning:  # continued: its text so far
            view.add_delta(ReasoningDelta(assistant.reasoning or ""))
            view.add_delta(TextDelta(assistant.content))
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
        self.retry_wait.asked(getattr(error, "retry_after", None))
        self.parts.banner.show_error(error, can_retry=self._retry is not None)

    def _on_write_failed(self, error: BaseException) -> None:
        self.parts.banner.show_error(error, can_retry=False)

    def _restore_unsaved_prompt(self) -> None:
        # The answer ended before the prompt was saved (no provider, a bad setting): the text
        # would be lost, so it goes back into the box.
        text, self._unsaved_prompt = self._unsaved_prompt, None
        attachments, self._unsaved_attachments = self._unsaved_attachments, []
        if text:
            self.parts.composer.restore_prompt(text)
        self.parts.composer.restore_attachments(attachments)

    def _end(self, message: Message | None) -> None:
        self._detach()
        if message is not None:
            view = self.parts.chat_view
            if message.thread_id == self.thread_id:
                view.set_versions(self.versions(message.thread_id))
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
        self.models.refresh(force=True)


def versions_in(tree: MessageTree) -> dict[str, Versions]:
    """Where each message of a tree that has other versions stands among them."""
    found = {message_id: tree.versions(message_id) for message_id in tree.by_id}
    return {message_id: v for message_id, v in found.items() if v.count > 1}
