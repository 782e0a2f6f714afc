"""`llms-desktop models`: list the model ids a provider offers."""

from __future__ import annotations

import argparse
from typing import Any

from llms_desktop.cli import add_connection_options
from llms_desktop.providers.base import Timeouts


def register(commands: Any) -> None:
    """Add the `models` command."""
    parser = commands.add_parser(
        "models", help="list the provider's model ids", description="List model ids, one a line."
    )
    add_connection_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one model id per line."""
    import asyncio  # loaded per command so `--version` and `--help` start fast

    return asyncio.run(_models(args))


async def _models(args: argparse.Namespace) -> int:
    from llms_desktop.providers.resolve import open_provider, resolve_connection

    connection = resolve_connection(args.base_url, args.api_key)
    async with open_provider(connection, Timeouts.from_single(args.timeout)) as provider:
        for model in await provider.list_models():
            print(model.id)
    return 0
