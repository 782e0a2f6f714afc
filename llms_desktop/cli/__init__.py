"""Headless command line: argument parsing, dispatch, and one-line errors instead of tracebacks."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from llms_desktop import __version__
from llms_desktop.errors import LlmsDesktopError

if TYPE_CHECKING:
    from llms_desktop.store import Store

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 70  # EX_SOFTWARE: an internal error, reported with its traceback
EXIT_INTERRUPTED = 130

Handler = Callable[[argparse.Namespace], int]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """--base-url, --api-key and --timeout, shared by every command that talks to a provider."""
    group = parser.add_argument_group("provider connection")
    group.add_argument(
        "--base-url",
        metavar="URL",
        help="OpenAI-compatible base URL, e.g. http://localhost:11434/v1 "
        "(default: $OPENAI_BASE_URL, else https://api.openai.com/v1)",
    )
    group.add_argument(
        "--api-key", metavar="KEY", help="API key (default: $OPENAI_API_KEY; none if unset)"
    )
    group.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=120.0,
        help="give up when the provider sends nothing for this long (default: 120); "
        "connecting is capped at 10 s",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


DATA_DIR_HELP = (
    "folder for the thread database (default: $LLMS_DESKTOP_HOME, else the platform's user "
    "data folder, e.g. ~/.local/share/llms-desktop)"
)


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser."""
    from llms_desktop.cli import chat, models, providers, serve, threads, tools

    parser = argparse.ArgumentParser(
        prog="llms-desktop",
        description="A desktop chat app for large language models, and its headless commands.",
    )
    parser.add_argument("--version", action="version", version=f"llms-desktop {__version__}")
    parser.add_argument("--data-dir", metavar="DIR", help=DATA_DIR_HELP)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    chat.register(commands)
    models.register(commands)
    providers.register(commands)
    serve.register(commands)
    threads.register(commands)
    tools.register(commands)
    _accept_data_dir_anywhere(parser)
    return parser


def _accept_data_dir_anywhere(parser: argparse.ArgumentParser) -> None:
    """Let every subcommand take --data-dir too, after its name (`threads list --data-dir D`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                # SUPPRESS: a subcommand that was not given the option leaves the global value.
                subparser.add_argument(
                    "--data-dir", metavar="DIR", default=argparse.SUPPRESS, help=DATA_DIR_HELP
                )
                _accept_data_dir_anywhere(subparser)


def open_store(args: argparse.Namespace) -> Store:
    """The thread database for --data-dir; warns on stderr when a damaged one was replaced."""
    from llms_desktop.paths import data_dir
    from llms_desktop.store import Store

    store = Store.open(data_dir(getattr(args, "data_dir", None)))
    if store.recovered_from is not None:
        print(
            f"llms-desktop: warning: the thread database was damaged; it was moved to "
            f"{store.recovered_from} and a new one was created.",
            file=sys.stderr,
        )
    if store.read_only is not None:
        print(
            f"llms-desktop: warning: the thread database is open read-only ({store.read_only}): "
            "threads can be listed, shown, searched and exported, not saved.",
            file=sys.stderr,
        )
    return store


def main(argv: list[str]) -> int:
    """Parse and run one command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    _quiet_logging()
    try:
        return handler(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except LlmsDesktopError as exc:
        print(f"llms-desktop: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a message.
        _silence_stdout()
        return EXIT_ERROR
    except Exception:
        traceback.print_exc()
        print(
            "llms-desktop: internal error (a bug): please report it with the traceback above.",
            file=sys.stderr,
        )
        return EXIT_BUG


def _quiet_logging() -> None:
    """Commands report what matters in their own words; the library's log lines (a provider
    that cannot list its models) stay out of their output. `serve` shows them on stderr."""
    import logging

    logging.getLogger("llms_desktop").addHandler(logging.NullHandler())


def _silence_stdout() -> None:
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
