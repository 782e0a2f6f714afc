"""ChatSession: one exchange, saved before, during and after the answer streams (never lost)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from llms_desktop.accumulate import Accumulator
from llms_desktop.attachments.parts import IMAGE_TOKENS, text_for_estimate
from llms_desktop.attachments.refusal import explain
from llms_desktop.errors import ConfigError, LlmsDesktopError, StoreError
from llms_desktop.providers.base import Provider
from llms_desktop.store.writer import Writer, writer_for
from llms_desktop.turns import Turn
from llms_desktop.types import (
    ChatRequest,
    Delta,
    Message,
    MessageStatus,
    ReasoningDelta,
    TextDelta,
    Thread,
    ToolCallDelta,
)

if TYPE_CHECKING:
    from llms_desktop.store import Store

# Unsaved text is never older than this plus event-loop latency, and two checkpoints of one
# answer are at least this far apart. 200 ms keeps the promise "a kill loses at most the last
# 250 ms" with 50 ms to spare for a busy loop.
DEFAULT_CHECKPOINT_INTERVAL = 0.2
# A checkpoint waits this long at most for a lock held elsewhere, then is retried later: better
# than stalling the stream (and a UI sharing the loop) for the whole busy timeout.
CHECKPOINT_LOCK_WAIT = 0.1


class SessionListener(Protocol):
    """Follows one exchange; every method is called on the event loop's thread."""

    def on_started(
        self, thread: Thread, user_message: Message | None, assistant_message: Message
    ) -> None:
        """The user message is saved and the (empty, streaming) answer created."""

    def on_delta(self, delta: Delta) -> None:
        """A delta arrived from the provider."""

    def on_finished(self, message: Message) -> None:
        """The answer ended (complete, cancelled or error), before run() returns or raises."""


class _NoListener:
    def on_started(
        self, thread: Thread, user_message: Message | None, assistant_message: Message
    ) -> None:
        pass

    def on_delta(self, delta: Delta) -> None:
        pass

    def on_finished(self, message: Message) -> None:
        pass


class ChatSession:
    """Runs exchanges against one provider and (unless `store` is None) saves them.

    `store` is a Store (written at once, for the CLI) or a Writer such as StoreWriter (every
    write on its own thread, so a locked database never stalls the loop). The user message is
    saved before the request. The answer is created `streaming`, its text
    checkpointed while deltas arrive (at most every `checkpoint_interval` seconds, never per
    token; a timer saves the tail of a stream that goes quiet) and finally saved `complete`,
    `cancelled` or `error` with usage and timings. If the store fails mid-stream the text stays
    in memory and the next checkpoint retries; a final save that fails raises StoreError.
    """

    def __init__(
        self,
        provider: Provider,
        store: Store | Writer | None,
        *,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.writer = None if store is None else writer_for(store)
        self.checkpoint_interval = checkpoint_interval
        self.clock = clock

    async def run(self, turn: Turn, listener: SessionListener | None = None) -> Message:
        """Carry out `turn` (see turns.plan_*): save, stream `turn.request`, save; the answer.

        Raises the provider's error (after saving the partial answer with status `error`),
        CancelledError (status `cancelled`), or StoreError.
        """
        listener = listener or _NoListener()
        if self.writer is None:
            thread, user_message, answer_message = self._in_memory(turn)
        else:
            thread, user_message, answer_message = await self.writer.run(
                functools.partial(_begin, turn)
            )
        answer = _Answer(answer_message, self.writer, self.checkpoint_interval, self.clock)
        listener.on_started(thread, user_message, answer.message)
        answer.start(turn.request)
        try:
            async with contextlib.aclosing(self.provider.stream(turn.request)) as deltas:
                async for delta in deltas:
                    answer.add(delta)
                    listener.on_delta(delta)
        except (asyncio.CancelledError, KeyboardInterrupt):
            listener.on_finished((await answer.finish("cancelled"))[0])
            raise
        except LlmsDesktopError as exc:
            # A provider refusing images says so in its own words; add what that means.
            clear = explain(exc, turn.request.messages)
            listener.on_finished((await answer.finish("error", error=str(clear)))[0])
            if clear is exc:
                raise
            raise clear from exc
        except Exception as exc:  # a bug: still keep what the user saw
            error = f"{type(exc).__name__}: {exc}"
            listener.on_finished((await answer.finish("error", error=error))[0])
            raise
        message, failure = await answer.finish("complete")
        listener.on_finished(message)
        if failure is not None:
            raise failure
        return message

    def _in_memory(self, turn: Turn) -> tuple[Thread, Message | None, Message]:
        """The thread and messages of an exchange that is not saved (`--no-store`)."""
        if turn.continue_id is not None:
            raise ConfigError("Continuing a thread needs the thread database (drop --no-store).")
        now = time.time()
        settings = turn.settings
        thread = Thread(
            # A later round of an unsaved tool loop names the thread its first round made up.
            id=turn.thread_id or uuid.uuid4().hex,
            title=turn.title,
            created_at=now,
            updated_at=now,
            model=settings.model,
            provider=settings.provider,
            system_prompt=settings.system_prompt,
            params=dict(settings.params),
        )
        user = None
        parent_id = turn.parent_id
        if turn.user_text is not None:
            user = Message(
                uuid.uuid4().hex,
                thread.id,
                "user",
                turn.user_text,
                created_at=now,
                attachments=tuple(attachment.info() for attachment in turn.attachments),
            )
            parent_id = user.id
        answer = Message(
            id=uuid.uuid4().hex,
            thread_id=thread.id,
            role="assistant",
            content="",
            status="streaming",
            parent_id=parent_id,
            model=turn.request.model,
            provider=turn.provider_id,
            created_at=now,
        )
        return thread, user, answer


def _begin(turn: Turn, store: Store) -> tuple[Thread, Message | None, Message]:
    """Before the request, in one transaction: the thread (created, or its settings saved), the
    user message, and the answer, `streaming` (or a stopped answer reopened to continue)."""
    settings = turn.settings
    values: dict[str, Any] = {
        "model": settings.model,
        "provider": settings.provider,
        "system_prompt": settings.system_prompt,
        "params": dict(settings.params),
    }
    with store.transaction("save the thread" if turn.thread_id is None else "save the message"):
        if turn.thread_id is None:
            thread = store.create_thread(turn.title, **values)
        else:
            if turn.save_settings:
                store.update_thread_settings(turn.thread_id, **values)
            loaded = store.get_thread(turn.thread_id)
            if loaded is None:
                raise ConfigError(f"No thread has the id {turn.thread_id!r}.")
            thread = loaded
        user = None
        parent_id = turn.parent_id
        if turn.user_text is not None:
            user = store.add_message(
                thread.id,
                "user",
                turn.user_text,
                parent_id=parent_id,
                attachments=turn.attachments,
            )
            parent_id = user.id
        if turn.continue_id is not None:
            answer = store.reopen_message(turn.continue_id)
        else:
            answer = store.add_message(
                thread.id,
                "assistant",
                "",
                status="streaming",
                model=turn.request.model,
                provider=turn.provider_id,
                parent_id=parent_id,
            )
    return thread, user, answer


class _Answer:
    """The answer being streamed: its text in memory, and when and how it reaches the store."""

    def __init__(
        self,
        message: Message,
        writer: Writer | None,
        interval: float,
        clock: Callable[[], float],
    ) -> None:
        self.message = message
        self.writer = writer
        self.interval = interval
        self.clock = clock
        self.accumulator = Accumulator()
        # A continued answer keeps its text; the new tokens are appended to it.
        if message.content:
            self.accumulator.add(TextDelta(message.content))
        if message.reasoning:
            self.accumulator.add(ReasoningDelta(message.reasoning))
        for index, call in enumerate(message.tool_calls):
            function = call.get("function") or {}
            self.accumulator.add(
                ToolCallDelta(
                    index,
                    id=call.get("id"),
                    name=function.get("name"),
                    arguments=str(function.get("arguments") or ""),
                    type=call.get("type"),
                )
            )
        self.carried = (len(message.content), len(message.reasoning or ""))
        self.request: ChatRequest | None = None
        self.started = clock()
        self.first_token: float | None = None
        self.dirty = False
        self.due = 0.0  # when unsaved text must be saved (clock time)
        self.timer: asyncio.TimerHandle | None = None
        self.failure: StoreError | None = None
        self.saving: concurrent.futures.Future[None] | None = None  # the checkpoint in flight
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, request: ChatRequest) -> None:
        self.request = request
        self.started = self.clock()
        self.loop = asyncio.get_running_loop()

    def add(self, delta: Delta) -> None:
        self.accumulator.add(delta)
        if not isinstance(delta, TextDelta | ReasoningDelta | ToolCallDelta):
            return
        now = self.clock()
        if self.first_token is None:
            self.first_token = now
        if self.writer is None:
            return
        if not self.dirty:
            self.dirty = True
            self.due = now + self.interval
        if now >= self.due:
            # Deltas that arrive in one burst never yield to the loop, so the timer could not
            # fire: save here.
            self.checkpoint()
        elif self.timer is None:
            self._arm()

    def _arm(self) -> None:
        if self.loop is None or self.loop.is_closed():
            return  # no loop: the next delta retries
        delay = max(0.0, self.due - self.clock())
        self.timer = self.loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.checkpoint()

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def checkpoint(self) -> None:
        """Save the text so far, one checkpoint at a time; on failure keep it in memory and try
        again one interval later."""
        self._disarm()
        if not self.dirty or self.writer is None:
            return
        if self.saving is not None and not self.saving.done():
            # The last checkpoint is still being written (a lock held elsewhere): this text
            # goes with the next one, never queueing up behind it.
            self.due = self.clock() + self.interval
            self._arm()
            return
        acc = self.accumulator
        message_id = self.message.id
        text, reasoning, calls = acc.text, acc.reasoning_text or None, acc.tool_call_dicts()

        def save(store: Store) -> None:
            store.update_message_content(
                message_id,
                text,
                reasoning=reasoning,
                tool_calls=calls or None,
                timeout=min(CHECKPOINT_LOCK_WAIT, store.busy_timeout),
            )

        self.dirty = False
        self.saving = self.writer.submit(save)
        self.saving.add_done_callback(self._on_saved)

    def _on_saved(self, saving: concurrent.futures.Future[None]) -> None:
        # Called on the writer's thread (or at once, for an InlineWriter).
        error = None if saving.cancelled() else saving.exception()
        if error is None:
            self.failure = None
        elif self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._on_save_failed, error)

    def _on_save_failed(self, error: BaseException) -> None:
        self.failure = error if isinstance(error, StoreError) else StoreError(str(error))
        if not self.dirty:
            self.dirty = True
            self.due = self.clock() + self.interval
            self._arm()

    async def finish(
        self, status: MessageStatus, *, error: str | None = None
    ) -> tuple[Message, StoreError | None]:
        """The final message, saved if possible; a failed save is returned, not raised.

        The save is shielded: cancelling the caller again does not stop it half way.
        """
        self._disarm()
        end = self.clock()
        acc = self.accumulator
        usage = self._usage(end)
        final = dataclasses.replace(
            self.message,
            content=acc.text,
            reasoning=acc.reasoning_text or None,
            tool_calls=tuple(acc.tool_call_dicts()),
            status=status,
            error=error,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            tokens_estimated=usage["estimated"],
            ttft_ms=usage["ttft_ms"],
            duration_ms=usage["duration_ms"],
            finish_reason=acc.finish_reason if status == "complete" else None,
        )
        if self.writer is None:
            return final, None

        def save(store: Store) -> Message:
            return store.finish_message(
                final.id,
                status,
                content=final.content,
                reasoning=final.reasoning,
                tool_calls=final.tool_calls,
                error=error,
                usage=usage,
                finish_reason=final.finish_reason,
            )

        try:
            saved = await asyncio.shield(asyncio.wrap_future(self.writer.submit(save)))
        except StoreError as exc:
            return final, exc
        return saved, None

    def _usage(self, end: float) -> dict[str, Any]:
        """Token counts from the provider when it sent them, else estimated; timings in ms."""
        acc = self.accumulator
        reported = acc.usage
        prompt = reported.prompt_tokens if reported else None
        completion = reported.completion_tokens if reported else None
        estimated = prompt is None or completion is None
        if prompt is None and self.request is not None:
            sent, images = text_for_estimate(self.request.messages)
            prompt = estimate_tokens(sent) + images * IMAGE_TOKENS
        if completion is None:
            calls = "".join(str(call["function"]) for call in acc.tool_call_dicts())
            # A continued answer's earlier text is not part of this generation.
            text, reasoning = self.carried
            new = acc.text[text:] + acc.reasoning_text[reasoning:]
            completion = estimate_tokens(new + calls)
        ttft = None if self.first_token is None else (self.first_token - self.started) * 1000
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "estimated": estimated,
            "ttft_ms": ttft,
            "duration_ms": (end - self.started) * 1000,
        }


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters a token for English text)."""
    return (len(text) + 3) // 4
