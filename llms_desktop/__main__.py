"""Entry point: no command opens the window; anything else is a command-line command."""

from __future__ import annotations

import sys


def data_dir_for_gui(argv: list[str]) -> tuple[bool, str | None]:
    """Whether `argv` asks for the window (no command, at most --data-dir), and the data dir."""
    rest = list(argv)
    folder: str | None = None
    while rest:
        arg = rest.pop(0)
        if arg == "--data-dir" and rest:
            folder = rest.pop(0)
        elif arg.startswith("--data-dir="):
            folder = arg.split("=", 1)[1]
        else:
            return False, None
    return True, folder


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--self-test"]:
        # The installer's smoke test: the real window, offscreen, one streamed answer.
        from llms_desktop.ui.self_test import main as self_test

        return self_test(args[1:])
    wants_window, folder = data_dir_for_gui(args)
    if wants_window:
        from llms_desktop.app import main_gui

        return main_gui(folder)
    from llms_desktop.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
