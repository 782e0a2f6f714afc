"""`llms-desktop providers`: list, add, remove, enable, disable and import providers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llms_desktop import errors

if TYPE_CHECKING:
    from llms_desktop.providers.setup import ProviderSetup


def register(commands: Any) -> None:
    """Add the `providers` command and its subcommands."""
    parser = commands.add_parser(
        "providers",
        help="set up model providers (keys go to the OS keychain)",
        description="Providers live in providers.json in the data folder; API keys in the OS "
        "keychain (or a private key file where there is none), never in that file.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list providers, where their keys come from")
    listing.set_defaults(handler=run_list)

    add = actions.add_parser(
        "add",
        help="add a provider",
        description="Add a provider. An ID that names a preset (openai, openrouter, groq, "
        "mistral, deepseek, gemini, ollama, lmstudio, llamacpp, vllm, airefinery) fills in its "
        "type, base URL and key variable; flags override them.",
    )
    add.add_argument("id", metavar="ID", help="short lowercase id, used in provider/model ids")
    add.add_argument("--preset", metavar="P", help="start from this preset (default: ID's)")
    add.add_argument("--type", choices=("openai-compatible", "airefinery"))
    add.add_argument("--name", help="display name")
    add.add_argument(
        "--base-url",
        metavar="URL",
        help="API base URL, e.g. http://localhost:11434/v1 (for airefinery: without /v1)",
    )
    key = add.add_mutually_exclusive_group()
    key.add_argument("--api-key", metavar="KEY", help="store this key in the keychain")
    key.add_argument(
        "--api-key-stdin",
        action="store_true",
        help="read the key from stdin (keeps it out of your shell history)",
    )
    add.add_argument(
        "--api-key-env", metavar="VAR", help="environment variable that overrides the stored key"
    )
    add.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="M",
        help="a model id (repeat for several; default: discover with GET /models when needed)",
    )
    add.add_argument("--disabled", action="store_true", help="add it switched off")
    add.set_defaults(handler=run_add)

    remove = actions.add_parser("remove", help="remove a provider and its stored key")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(handler=run_remove)

    for name, enabled in (("enable", True), ("disable", False)):
        toggle = actions.add_parser(name, help=f"{name} a provider")
        toggle.add_argument("id", metavar="ID")
        toggle.set_defaults(handler=run_toggle, enabled=enabled)

    vision = actions.add_parser(
        "vision",
        help="say whether a provider's models take images",
        description="Say whether a model takes images (yes or no), or go back to guessing "
        "from its name (auto). Without --model it applies to every model of the provider; a "
        "model's own setting wins. Sending an image to a model not known to take images asks "
        "first (the window) or prints a note (chat -a).",
    )
    vision.add_argument("id", metavar="ID", help="a configured provider")
    vision.add_argument("setting", choices=("yes", "no", "auto"))
    vision.add_argument("--model", metavar="M", help="only this model (its id at the provider)")
    vision.set_defaults(handler=run_vision)

    importing = actions.add_parser("import", help="import providers from llms.py's llms.json")
    importing.add_argument("path", metavar="PATH", type=Path)
    importing.set_defaults(handler=run_import)


def _setup(args: argparse.Namespace) -> ProviderSetup:
    from llms_desktop.paths import data_dir
    from llms_desktop.providers.setup import ProviderSetup

    setup = ProviderSetup(data_dir(getattr(args, "data_dir", None)))
    if setup.problem:
        print(f"llms-desktop: warning: {setup.problem}", file=sys.stderr)
    return setup


def run_list(args: argparse.Namespace) -> int:
    """One provider per line: id, type, state, key source, model count, base URL."""
    setup = _setup(args)
    configured = {config.id for config in setup.configured}
    rows = [("ID", "TYPE", "STATE", "KEY", "MODELS", "BASE URL")]
    for config in setup.registry.all:
        state = "enabled" if config.enabled else "disabled"
        if config.id not in configured:
            state = "from env"
        models = str(len(config.models)) if config.models else "-"
        rows.append(
            (config.id, config.type, state, setup.key_source(config), models, config.base_url)
        )
    notes = [_vision_line(config) for config in setup.registry.all]
    if len(rows) == 1:
        print(
            "No providers. Add one with `llms-desktop providers add ID` (e.g. ollama), or set "
            "OPENAI_BASE_URL / OPENAI_API_KEY."
        )
        return 0
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    for note in notes:
        if note:
            print(note)
    return 0


def _vision_line(config: Any) -> str:
    said = []
    if config.vision is not None:
        said.append(f"all models {'take' if config.vision else 'do not take'} images")
    for model, takes in sorted(config.vision_models.items()):
        said.append(f"{model} {'takes' if takes else 'does not take'} images")
    return f"{config.id}: {'; '.join(said)}" if said else ""


def run_add(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
    from llms_desktop.providers.presets import preset

    setup = _setup(args)
    template = preset(args.preset or args.id)
    if args.preset and template is None:
        raise errors.ConfigError(f"Unknown preset {args.preset!r}.")
    if template is not None:
        config = replace(template.config(), id=args.id)
    else:
        if not args.base_url and args.type != "airefinery":
            raise errors.ConfigError(
                f"{args.id!r} is not a preset: give its --base-url (and --type if not "
                "openai-compatible)."
            )
        config = ProviderConfig(
            id=args.id, type=args.type or OPENAI_COMPATIBLE, name=args.id, base_url=""
        )
    config = replace(
        config,
        type=args.type or config.type,
        name=args.name or config.name,
        base_url=args.base_url or config.base_url,
        api_key_env=args.api_key_env or config.api_key_env,
        models=tuple(args.model),
        enabled=not args.disabled,
    )
    key = sys.stdin.readline().strip() if args.api_key_stdin else args.api_key
    added = setup.add(config, api_key=key)
    where = f"; key stored in {setup.keys.location}" if key else ""
    print(f"Added {added.id} ({added.type}, {added.base_url}){where}.")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    setup = _setup(args)
    setup.remove(args.id)
    print(f"Removed {args.id} and its stored key.")
    return 0


def run_toggle(args: argparse.Namespace) -> int:
    setup = _setup(args)
    setup.set_enabled(args.id, args.enabled)
    print(f"{'Enabled' if args.enabled else 'Disabled'} {args.id}.")
    return 0


def run_vision(args: argparse.Namespace) -> int:
    setup = _setup(args)
    takes = {"yes": True, "no": False, "auto": None}[args.setting]
    setup.set_vision(args.id, args.model, takes)
    what = f"{args.id}/{args.model}" if args.model else f"every model of {args.id}"
    said = {
        True: "takes images",
        False: "does not take images",
        None: "is judged by its name",
    }[takes]
    print(f"Noted: {what} {said}.")
    return 0


def run_import(args: argparse.Namespace) -> int:
    setup = _setup(args)
    plan = setup.import_llms(args.path)
    added = ", ".join(config.id for config in plan.providers)
    print(f"Imported {len(plan.providers)} provider(s){': ' + added if added else ''}.")
    if plan.keys:
        print(f"Stored {len(plan.keys)} key(s) in {setup.keys.location}.")
    if plan.skipped:
        print(f"Skipped {len(plan.skipped)}:")
        for line in plan.skipped:
            print(f"  {line}")
    return 0
