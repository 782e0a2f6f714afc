"""The tool loop: answer, run the tools the user allows, send their results, until the model
answers in words (or the round limit).

ChatSession carries out each round as an ordinary exchange; this module only decides what the
next round sends (turns.plan_after_tools) and saves the `role: tool` results in between.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from llms_desktop.errors import ToolError
from llms_desktop.history import replayable_calls
from llms_desktop.session import ChatSession, SessionListener
from llms_desktop.tools import DEFAULT_MAX_ROUNDS
from llms_desktop.turns import Turn, plan_after_tools
from llms_desktop.types import Message, MessageStatus

if TYPE_CHECKING:
    from llms_desktop.store import Store
    from llms_desktop.tools.manager import ToolInfo, ToolManager
    from llms_desktop.tools.toolbox import Toolbox

Decision = Literal["once", "always", "deny"]

DENIED = "The user denied this tool call."
STOPPED = "Stopped by the user before the tool finished."


@dataclass(frozen=True, slots=True)
class PendingCall:
    """A tool call the model asked for, as the approval dialog shows it."""

    call_id: str
    function: str  # the name the model used
    tool: ToolInfo
    arguments: Mapping[str, Any]

    def pretty_arguments(self) -> str:
        return json.dumps(self.arguments, indent=2, ensure_ascii=False)


Approver = Callable[[PendingCall], Awaitable[Decision]]


async def approve_all(call: PendingCall) -> Decision:
    """An approver for `--yes`: every call runs."""
    return "once"


class ToolListener(SessionListener, Protocol):
    """A session listener that also follows the tools running between rounds."""

    def on_tool_started(self, call: PendingCall) -> None:
        """An approved call starts running."""

    def on_tool_finished(self, result: Message) -> None:
        """A call's result (or the error, denial or stop the model is told) was saved."""


@dataclass(frozen=True, slots=True)
class _Outcome:
    text: str
    error: str | None = None
    status: MessageStatus = "complete"


class ToolLoop:
    """Runs a turn with tools: each answer that ends asking for tools gets their results and
    another round, at most `max_rounds` rounds of tool calls."""

    def __init__(
        self,
        session: ChatSession,
        manager: ToolManager,
        toolbox: Toolbox,
        approve: Approver,
        *,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
    ) -> None:
        self.session = session
        self.manager = manager
        self.toolbox = toolbox
        self.approve = approve
        self.max_rounds = max_rounds

    async def run(self, turn: Turn, listener: ToolListener) -> Message:
        """Carry out `turn` and the rounds its tool calls lead to; the last answer.

        Raises what ChatSession.run raises (the partial answer saved), CancelledError (a
        running tool is stopped and its result saved as stopped), or ToolError when the model
        still asks for tools after `max_rounds` rounds.
        """
        turn = with_tools(turn, self.toolbox)
        rounds = 0
        while True:
            answer = await self.session.run(turn, listener)
            calls = replayable_calls(answer)
            if not calls or answer.status != "complete":
                return answer
            if rounds >= self.max_rounds:
                raise ToolError(
                    f"The model still asked for tools after {self.max_rounds} rounds of tool "
                    "calls; stopped there (the limit is a setting)."
                )
            rounds += 1
            results: list[Message] = []
            parent = answer.id
            for call in calls:
                result = await self._answer_call(call, answer, parent, listener)
                results.append(result)
                parent = result.id
            turn = plan_after_tools(turn, answer, results)

    async def _answer_call(
        self, call: Mapping[str, Any], answer: Message, parent: str, listener: ToolListener
    ) -> Message:
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        call_id = str(call["id"])
        outcome: _Outcome
        try:
            outcome = await self._outcome(call_id, name, function.get("arguments"), listener)
        except (asyncio.CancelledError, KeyboardInterrupt):
            result = await asyncio.shield(
                self._save(answer, parent, call_id, name, _Outcome(STOPPED, STOPPED, "cancelled"))
            )
            listener.on_tool_finished(result)
            raise
        result = await self._save(answer, parent, call_id, name, outcome)
        listener.on_tool_finished(result)
        return result

    async def _outcome(self, call_id: str, name: str, raw: Any, listener: ToolListener) -> _Outcome:
        tool = self.toolbox.find(name)
        if tool is None:
            known = ", ".join(self.toolbox.by_name) or "none"
            return _error(f"There is no tool named {name!r} (available: {known}).")
        arguments = parse_arguments(raw)
        if isinstance(arguments, str):
            return _error(arguments)
        pending = PendingCall(call_id, name, tool, arguments)
        if not self.manager.always_allowed(tool):
            decision = await self.approve(pending)
            if decision == "deny":
                return _Outcome(DENIED, DENIED)
            if decision == "always":
                await self.manager.allow_always(tool)
        listener.on_tool_started(pending)
        try:
            result = await self.manager.call(tool.server, tool.name, arguments)
        except ToolError as exc:
            return _error(str(exc))
        if result.is_error:
            return _Outcome(result.text or "The tool failed.", result.text or "The tool failed.")
        return _Outcome(result.text)

    async def _save(
        self, answer: Message, parent: str, call_id: str, name: str, outcome: _Outcome
    ) -> Message:
        writer = self.session.writer
        if writer is None:
            return Message(
                id=uuid.uuid4().hex,
                thread_id=answer.thread_id,
                role="tool",
                content=outcome.text,
                status=outcome.status,
                parent_id=parent,
                error=outcome.error,
                created_at=time.time(),
                tool_call_id=call_id,
                name=name,
            )

        def save(store: Store) -> Message:
            return store.add_message(
                answer.thread_id,
                "tool",
                outcome.text,
                status=outcome.status,
                error=outcome.error,
                parent_id=parent,
                tool_call_id=call_id,
                name=name,
            )

        return await writer.run(save)


def with_tools(turn: Turn, toolbox: Toolbox) -> Turn:
    """The turn with the toolbox's tools in its request (a caller's own `tools` are kept)."""
    if not toolbox or "tools" in turn.request.params:
        return turn
    params = {**turn.request.params, "tools": toolbox.specs()}
    return dataclasses.replace(turn, request=dataclasses.replace(turn.request, params=params))


def parse_arguments(raw: Any) -> dict[str, Any] | str:
    """A call's arguments as an object, or the error to send back to the model."""
    if isinstance(raw, Mapping):
        return dict(raw)
    text = raw if isinstance(raw, str) else ""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        return (
            f"The arguments are not valid JSON ({exc}); nothing was run. Call the tool again "
            "with a JSON object as its arguments."
        )
    except RecursionError:
        return "The arguments are JSON nested too deeply to read; nothing was run."
    if not isinstance(value, dict):
        return "The arguments must be a JSON object; nothing was run."
    return value


def _error(text: str) -> _Outcome:
    return _Outcome(f"Error: {text}", text)
