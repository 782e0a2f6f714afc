"""`llms-desktop chat`: send one prompt, print the answer as it streams, and save the exchange."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from llms_desktop import errors
from llms_desktop.accumulate import Accumulator
from llms_desktop.chat_params import reusable_params
from llms_desktop.cli import add_connection_options, open_store
from llms_desktop.cli.chat_tools import add_tool_options, echo_call, echo_result
from llms_desktop.cli.connect import add_provider_option, choose_model, close, open_for
from llms_desktop.providers.base import MODEL_ENV
from llms_desktop.text_hygiene import clean_text
from llms_desktop.types import (
    Delta,
    Message,
    ReasoningDelta,
    TextDelta,
    Thread,
)

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment
    from llms_desktop.cli.connect import Connected
    from llms_desktop.store import Store
    from llms_desktop.tools.loop import PendingCall
    from llms_desktop.turns import Turn


def register(commands: Any) -> None:
    """Add the `chat` command."""
    parser = commands.add_parser(
        "chat",
        help="send a prompt and print the answer as it streams",
        description="Send PROMPT to a model and print the answer token by token.",
    )
    add_connection_options(parser)
    add_provider_option(parser)
    parser.add_argument(
        "--model",
        metavar="M",
        help="model id, or provider/model (default: $LLMS_DESKTOP_MODEL, else the "
        "provider's first model in sort order)",
    )
    parser.add_argument("--system", metavar="TEXT", help="system prompt")
    parser.add_argument(
        "--no-stream", action="store_true", help="ask for the whole answer at once (stream: false)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the assembled chat.completion JSON instead of the text",
    )
    parser.add_argument("--temperature", type=float, metavar="T", help="sampling temperature")
    parser.add_argument("--max-tokens", type=int, metavar="N", help="limit the answer's length")
    parser.add_argument(
        "--reasoning", action="store_true", help="also print the model's reasoning, to stderr"
    )
    parser.add_argument(
        "--thread",
        metavar="ID",
        help="continue this saved thread, sending its history (a unique start of the id will do)",
    )
    branch = parser.add_mutually_exclusive_group()
    branch.add_argument(
        "--regenerate",
        action="store_true",
        help="with --thread: answer the last message again, as a new version (no PROMPT)",
    )
    branch.add_argument(
        "--edit",
        metavar="MESSAGE_ID",
        help="with --thread: send PROMPT as a new version of this message of yours (a unique "
        "start of the id will do); the original and its answers are kept",
    )
    branch.add_argument(
        "--continue",
        dest="continue_answer",
        action="store_true",
        help="with --thread: continue the last answer where it stopped (no PROMPT)",
    )
    parser.add_argument(
        "-a",
        "--attach",
        metavar="FILE",
        action="append",
        default=[],
        help="attach an image (PNG, JPEG, WebP, GIF: sent to vision models, downscaled past "
        "1568 px) or a file (text, code, PDF: sent as its text); repeat for several",
    )
    parser.add_argument(
        "--no-store", action="store_true", help="do not save this exchange in the thread database"
    )
    add_tool_options(parser)
    parser.add_argument(
        "prompt", metavar="PROMPT", nargs="?", help="the message; - reads it from stdin"
    )
    parser.set_defaults(handler=run)


def read_prompt(prompt: str) -> str:
    """The prompt text; `-` means standard input."""
    if prompt == "-":
        # Input that is not UTF-8 becomes U+FFFD rather than a traceback.
        sys.stdin.reconfigure(errors="replace")  # type: ignore[union-attr]
        # `echo ... |` and a file's last line end in a newline that is no part of the prompt.
        text = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    else:
        # Argument bytes that are not UTF-8 arrive as lone surrogates (surrogateescape).
        text = clean_text(prompt)
    if not text.strip():
        raise errors.ConfigError("The prompt is empty.")
    return text


def flag_params(args: argparse.Namespace) -> dict[str, Any]:
    """The request parameters the flags set."""
    params: dict[str, Any] = {}
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    return params


def run(args: argparse.Namespace) -> int:
    """Run the command; Ctrl+C surfaces as KeyboardInterrupt after the stream is closed."""
    import asyncio  # loaded per command so `--version` and `--help` start fast

    again = args.regenerate or args.continue_answer
    if again or args.edit:
        flag = "--regenerate" if args.regenerate else "--continue" if again else "--edit"
        if not args.thread:
            raise errors.ConfigError(f"{flag} needs --thread ID.")
        if again and args.prompt is not None:
            what = "it continues the last answer" if args.continue_answer else "it answers again"
            raise errors.ConfigError(f"{flag} takes no PROMPT: {what}.")
        if again and args.attach:
            raise errors.ConfigError(f"{flag} sends no new message: --attach cannot go with it.")
    if args.prompt is None and not again and not args.attach:
        raise errors.ConfigError("Give a PROMPT (or - to read it from stdin).")
    if args.yes and not args.tools:
        raise errors.ConfigError("--yes approves tool calls: it goes with --tools.")
    prompt = read_prompt(args.prompt) if args.prompt is not None else None
    if prompt is None and args.attach and not again:
        prompt = ""  # the attachments are the message
    attachments = read_attachments(args.attach)
    return asyncio.run(_chat(args, prompt, attachments))


def read_attachments(paths: list[str]) -> list[Attachment]:
    """Each -a FILE, read and prepared (before any connection: a bad file fails fast)."""
    if not paths:
        return []
    from llms_desktop.attachments.model import check_message
    from llms_desktop.attachments.reading import read_path

    attachments = [read_path(path) for path in paths]
    check_message(attachments)
    for attachment in attachments:
        if attachment.note:
            print(f"llms-desktop: note: {attachment.name}: {attachment.note}.", file=sys.stderr)
    return attachments


async def _chat(args: argparse.Namespace, prompt: str | None, attachments: list[Attachment]) -> int:
    # httpx and sqlite3 load here, not at parse time: `--version` and `--help` stay fast.
    from llms_desktop.cli.chat_tools import open_tools
    from llms_desktop.session import ChatSession
    from llms_desktop.tools.loop import ToolLoop

    if args.no_store and args.thread:
        raise errors.ConfigError("--thread continues a saved thread: it cannot go with --no-store.")
    store = None if args.no_store else open_store(args)
    try:
        thread: Thread | None = None
        if store is not None and args.thread:
            thread = store.get_thread(store.resolve_thread_id(args.thread))
        params = flag_params(args)
        if thread is not None:
            # Flags override what the thread was using. Only its sampling settings are
            # reused: a thread an older `serve --store` saved may hold a client's tools.
            params = {**reusable_params(thread.params), **params}
        # As in the window: the model asked for, else the thread's, else $LLMS_DESKTOP_MODEL.
        asked = (
            args.model
            or (thread.model if thread is not None else None)
            or os.environ.get(MODEL_ENV)
        )
        same_route = thread is not None and not args.model
        connected = await open_for(
            args, asked, thread_provider=thread.provider if same_route and thread else None
        )
        provider = connected.provider
        try:
            model = await choose_model(connected)
            if any(attachment.kind == "image" for attachment in attachments):
                _note_vision(connected, model)
            printer = _Printer(show_text=not args.json, show_reasoning=args.reasoning)
            completed = False
            # The provider's own default parameters (Preferences > Providers), as in the window.
            base = dict(connected.config.params) if connected.config is not None else {}
            turn = _plan(
                args, store, thread, prompt, model, connected.provider_id, params, attachments, base
            )
            session = ChatSession(provider, store)
            tools = await open_tools(args, args.prompt == "-") if args.tools else None
            try:
                if tools is None:
                    await session.run(turn, printer)
                else:
                    loop = ToolLoop(
                        session,
                        tools.manager,
                        tools.toolbox,
                        tools.approve,
                        max_rounds=args.max_rounds,
                    )
                    await loop.run(turn, printer)
                completed = True
            finally:
                printer.end(completed=completed)
                _print_notices(provider)
                _note_cut_off(printer.final, store is not None)
                if tools is not None:
                    await tools.manager.aclose()
            if args.json:
                json.dump(
                    printer.accumulator.completion(), sys.stdout, ensure_ascii=False, indent=2
                )
                sys.stdout.write("\n")
                sys.stdout.flush()
        finally:
            await close(connected)
    finally:
        if store is not None:
            store.close()
    return 0


def _plan(
    args: argparse.Namespace,
    store: Store | None,
    thread: Thread | None,
    prompt: str | None,
    model: str,
    provider_id: str,
    params: dict[str, Any],
    attachments: list[Attachment],
    base_params: dict[str, Any],
) -> Turn:
    """The exchange the flags ask for: a new message, a regenerated answer, an edit, or more."""
    from llms_desktop import turns

    stream = not args.no_stream
    if thread is None or (prompt is not None and not args.edit):
        assert prompt is not None
        return turns.plan_send(
            store,
            thread_id=thread.id if thread else None,
            text=prompt,
            model=model,
            provider_id=provider_id,
            system_prompt=args.system,
            params=params,
            base_params=base_params,
            stream=stream,
            attachments=attachments,
        )
    common: dict[str, Any] = {
        "thread_id": thread.id,
        "model": model,
        "provider_id": provider_id,
        "params": params,
        "base_params": base_params,
        "stream": stream,
    }
    if args.edit:
        assert prompt is not None
        # The new version keeps the message's attachments, unless -a gives new ones.
        given = attachments or None
        return turns.plan_edit(
            store, message_id=args.edit, text=prompt, attachments=given, **common
        )
    if args.regenerate:
        return turns.plan_regenerate(store, message_id=None, **common)
    assert store is not None
    leaf = store.tree(thread.id).leaf_under(None)
    if leaf is None:
        raise errors.ConfigError("The thread is empty: there is no answer to continue.")
    return turns.plan_continue(store, message_id=leaf, **common)


def _note_cut_off(final: Message | None, saved: bool) -> None:
    """Say so when the answer stopped at the token limit: it reads as complete otherwise."""
    if final is None or final.status != "complete" or final.finish_reason != "length":
        return
    more = (
        f" `llms-desktop chat --thread {final.thread_id} --continue` asks for the rest."
        if saved
        else ""
    )
    print(
        f"llms-desktop: note: the answer was cut off at the token limit (max tokens).{more}",
        file=sys.stderr,
    )


def _note_vision(connected: Connected, model: str) -> None:
    """Images for a model not known to take them: said on stderr, then sent anyway (the
    provider may know better; `providers vision` records the answer)."""
    from llms_desktop.providers.vision import takes_images, warning

    known = takes_images(connected.config, model)
    if known is True:
        return
    how = (
        f" (if it does: llms-desktop providers vision {connected.provider_id} yes --model {model})"
        if connected.config is not None
        else ""
    )
    print(f"llms-desktop: note: {warning(model, known)} Sending anyway{how}.", file=sys.stderr)


def _print_notices(provider: object) -> None:
    """What the provider noticed on the way (a redirect it followed), one line each."""
    for notice in getattr(provider, "notices", ()):
        print(f"llms-desktop: note: {notice}", file=sys.stderr)


class _Printer:
    """A session listener: text deltas to stdout as they arrive (flushed), then one newline.

    It also assembles the deltas into the chat.completion that --json prints.
    """

    def __init__(self, *, show_text: bool, show_reasoning: bool) -> None:
        self.show_text = show_text
        self.show_reasoning = show_reasoning
        self.accumulator = Accumulator()
        self._wrote_text = False
        self._in_reasoning = False
        self.final: Message | None = None

    def on_started(
        self, thread: Thread, user_message: Message | None, assistant_message: Message
    ) -> None:
        # Each round of a tool loop is an answer of its own: --json prints the last one.
        self.accumulator = Accumulator()

    def on_finished(self, message: Message) -> None:
        self.final = message

    def on_tool_started(self, call: PendingCall) -> None:
        self._close_reasoning()
        if self._wrote_text:
            sys.stdout.write("\n")  # the next round's text starts on a line of its own
            sys.stdout.flush()
            self._wrote_text = False
        echo_call(call)

    def on_tool_finished(self, result: Message) -> None:
        echo_result(result.content, result.error)

    def on_delta(self, delta: Delta) -> None:
        self.accumulator.add(delta)
        if isinstance(delta, TextDelta) and self.show_text:
            self._close_reasoning()
            sys.stdout.write(delta.text)
            sys.stdout.flush()
            self._wrote_text = True
        elif isinstance(delta, ReasoningDelta) and self.show_reasoning:
            self._in_reasoning = True
            sys.stderr.write(delta.text)
            sys.stderr.flush()

    def _close_reasoning(self) -> None:
        if self._in_reasoning:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._in_reasoning = False

    def end(self, *, completed: bool) -> None:
        """The final newline: after the answer, or after what a failed one had printed (a
        request that failed before any text leaves stdout empty)."""
        self._close_reasoning()
        if self.show_text and (completed or self._wrote_text):
            sys.stdout.write("\n")
            sys.stdout.flush()
