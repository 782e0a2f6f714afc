"""`llms-desktop models`: list the model ids a provider offers."""

from __future__ import annotations

import argparse
from typing import Any

from llms_desktop.cli import add_connection_options
from llms_desktop.cli.connect import add_provider_option, close, open_for
from llms_desktop.providers.base import Timeouts


def register(commands: Any) -> None:
    """Add the `models` command."""
    parser = commands.add_parser(
        "models", help="list the provider's model ids", description="List model ids, one a line."
    )
    add_connection_options(parser)
    add_provider_option(parser)
    parser.add_argument(
        "--all",
        action="store_true",
        help="every enabled provider's models, as provider/model",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print one model id per line."""
    import asyncio  # loaded per command so `--version` and `--help` start fast

    return asyncio.run(_models(args))


async def _models(args: argparse.Namespace) -> int:
    if args.all:
        return await _all_models(args)
    connected = await open_for(args, None)
    try:
        for model in await connected.provider.list_models():
            print(model.id)
    finally:
        await close(connected)
    return 0


async def _all_models(args: argparse.Namespace) -> int:
    import sys

    from llms_desktop.paths import data_dir
    from llms_desktop.providers.setup import ProviderSetup

    timeouts = Timeouts.from_single(args.timeout)
    setup = ProviderSetup(data_dir(getattr(args, "data_dir", None)), timeouts=lambda: timeouts)
    try:
        refs, problems = await setup.registry.model_refs()
    finally:
        await setup.registry.aclose()
    for ref in refs:
        print(ref)
    for problem in problems:
        print(f"llms-desktop: warning: {problem}", file=sys.stderr)
    return 0
