"""`llms-desktop serve`: the local OpenAI-compatible API server, until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from llms_desktop import errors

if TYPE_CHECKING:
    from llms_desktop.providers.registry import ProviderRegistry

UPSTREAM_ID = "upstream"
SERVER_KEY_ENV = "LLMS_DESKTOP_SERVER_API_KEY"
# The --upstream-api-key reaches the registry through a private copy of the environment under
# this name: the registry reads keys from the environment or the keychain, and this key must
# be neither saved nor exported to child processes.
_UPSTREAM_KEY_ENV = "LLMS_DESKTOP_UPSTREAM_API_KEY"

DESCRIPTION = """\
Serve the configured providers (Preferences > Providers, providers.json, OPENAI_BASE_URL /
OPENAI_API_KEY) through one OpenAI-compatible API: POST /v1/chat/completions (streaming or
not), GET /v1/models (ids are provider/model), GET /health. Any OpenAI client can use it with
base URL http://HOST:PORT/v1. Runs until Ctrl+C (SIGINT) or SIGTERM, then ends open streams.

Two kinds of key: --api-key is the token clients must send to THIS server (Authorization:
Bearer TOKEN); --upstream-api-key is the key sent to the --base-url provider."""


def register(commands: Any) -> None:
    """Add the `serve` command."""
    from llms_desktop.cli import _positive_float

    parser = commands.add_parser(
        "serve",
        help="run the local OpenAI-compatible API server",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1); any other than loopback needs --api-key",
    )
    parser.add_argument(
        "--port", type=_port, default=8000, help="port (default: 8000; 0 picks a free one)"
    )
    parser.add_argument(
        "--api-key",
        metavar="TOKEN",
        help=f"require clients to send this bearer token (default: ${SERVER_KEY_ENV}; none if "
        "unset). Not the provider's key: see --upstream-api-key",
    )
    parser.add_argument(
        "--store",
        action="store_true",
        help="save every exchange through the server as a thread in the thread database",
    )
    upstream = parser.add_argument_group(
        "extra provider",
        f"add an OpenAI-compatible provider for this run only (id '{UPSTREAM_ID}', not saved)",
    )
    upstream.add_argument(
        "--base-url", metavar="URL", help="its base URL, e.g. http://localhost:11434/v1"
    )
    upstream.add_argument(
        "--upstream-api-key",
        metavar="KEY",
        help="its API key (default: $OPENAI_API_KEY; none if unset)",
    )
    upstream.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=120.0,
        help="give up when a provider sends nothing for this long (default: 120)",
    )
    parser.set_defaults(handler=run)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; 0 after a clean stop."""
    import asyncio  # loaded per command so `--version` and `--help` start fast

    return asyncio.run(_serve(args))


def _registry(args: argparse.Namespace) -> ProviderRegistry:
    """The providers from the data folder and the environment, plus --base-url's."""
    from llms_desktop.paths import data_dir
    from llms_desktop.providers.base import Timeouts
    from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
    from llms_desktop.providers.setup import ProviderSetup

    env = dict(os.environ)
    upstream_key = args.upstream_api_key or env.get("OPENAI_API_KEY")
    if upstream_key:
        env[_UPSTREAM_KEY_ENV] = upstream_key
    if args.base_url and not env.get("OPENAI_BASE_URL"):
        # Here OPENAI_API_KEY is the --base-url upstream's key: it must not also set up a
        # provider for api.openai.com, which would send that key (say, OpenRouter's) to OpenAI.
        env.pop("OPENAI_API_KEY", None)
    setup = ProviderSetup(
        data_dir(getattr(args, "data_dir", None)),
        timeouts=lambda: Timeouts.from_single(args.timeout),
        env=env,
    )
    if setup.problem:
        print(f"llms-desktop: warning: {setup.problem}", file=sys.stderr)
    registry = setup.registry
    if args.base_url:
        if registry.get(UPSTREAM_ID) is not None:
            raise errors.ConfigError(
                f"A saved provider already has the id {UPSTREAM_ID!r}, which --base-url uses "
                "for its provider: rename or remove the saved one."
            )
        upstream = ProviderConfig(
            id=UPSTREAM_ID,
            type=OPENAI_COMPATIBLE,
            name=f"{args.base_url} (--base-url)",
            base_url=args.base_url,
            api_key_env=_UPSTREAM_KEY_ENV,
        ).validated()
        registry.set_configs([*setup.configured, upstream])
    if not registry.enabled:
        raise errors.ConfigError(
            "No provider is set up: add one with `llms-desktop providers add` (or in "
            "Preferences > Providers), pass --base-url URL, or set OPENAI_BASE_URL / "
            "OPENAI_API_KEY."
        )
    return registry


async def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from llms_desktop.cli import open_store
    from llms_desktop.server import LocalServer
    from llms_desktop.store.writer import StoreWriter

    _log_warnings()
    registry = _registry(args)
    # Saving runs on its own thread: a database locked by another process must not hold up
    # the requests this loop serves.
    store = StoreWriter(open_store(args)) if args.store else None
    try:
        server = LocalServer(
            registry,
            store=store,
            api_key=args.api_key or os.environ.get(SERVER_KEY_ENV) or None,
            host=args.host,
            port=args.port,
        )
        await server.start()
        try:
            count = len(registry.enabled)
            plural = "" if count == 1 else "s"
            print(f"Listening on {server.base_url} ({count} provider{plural})", flush=True)
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(signum, stopping.set)
                except NotImplementedError:  # Windows: no loop signal handlers
                    signal.signal(signum, lambda *_: loop.call_soon_threadsafe(stopping.set))
            await stopping.wait()
        finally:
            await server.stop()
    finally:
        await registry.aclose()
        if store is not None:
            store.close()
    return 0


def _log_warnings() -> None:
    """Server warnings (a provider that cannot list its models, a bug) as lines on stderr."""
    import logging

    logger = logging.getLogger("llms_desktop")
    if not any(type(handler) is logging.StreamHandler for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("llms-desktop: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
