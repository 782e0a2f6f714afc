"""Entry point: no arguments opens the window; anything else is a command-line command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the app; returns the process exit code."""
    args = sys.argv[1:] if argv is None else argv
    from llms_desktop.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
