"""`llms-desktop threads`: list, show, search, delete, export and import saved threads."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from llms_desktop import errors
from llms_desktop.cli import open_store

BOLD = ("\x1b[1m", "\x1b[22m")


def register(commands: Any) -> None:
    """Add the `threads` command and its actions."""
    parser = commands.add_parser(
        "threads",
        help="list, show, search, delete, export and import saved threads",
        description="Work with the conversations saved in the thread database.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list threads, most recently updated first")
    listing.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")
    listing.add_argument("--offset", type=int, default=0, metavar="N", help="skip the first N")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="print a thread as markdown (its active path)")
    show.add_argument("id", metavar="ID", help="thread id (a unique start of it will do)")
    show.add_argument(
        "--all-branches",
        action="store_true",
        help="print every version of every message, with ids, as a tree",
    )
    show.set_defaults(handler=_show)

    search = actions.add_parser("search", help="find messages containing every word")
    search.add_argument("query", metavar="QUERY", nargs="+", help="words to find")
    search.add_argument("--limit", type=int, default=50, metavar="N", help="at most N hits (50)")
    search.set_defaults(handler=_search)

    delete = actions.add_parser("delete", help="delete a thread and its messages")
    delete.add_argument("id", metavar="ID", help="thread id (a unique start of it will do)")
    delete.set_defaults(handler=_delete)

    export = actions.add_parser("export", help="export threads as JSON or markdown")
    export.add_argument("ids", metavar="ID", nargs="*", help="threads to export")
    export.add_argument("--all", action="store_true", help="export every thread")
    export.add_argument("--format", choices=("json", "md"), default="json", help="(default: json)")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    export.set_defaults(handler=_export)

    load = actions.add_parser(
        "import",
        help="import threads from an llms-desktop or llms.py JSON export",
        description="Import threads from our JSON export or llms.py's (v2). Threads whose ids "
        "exist are skipped; the import is all or nothing.",
    )
    load.add_argument("file", metavar="FILE", help="the export file; - reads stdin")
    load.set_defaults(handler=_import)


def _list(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        threads = store.list_threads(limit=args.limit, offset=args.offset)
        if not threads:
            print("No saved threads.", file=sys.stderr)
        for thread in threads:
            updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(thread.updated_at))
            count = store.count_messages(thread.id)
            pin = "[pinned] " if thread.pinned else ""
            print(f"{thread.id}  {updated}  {count:>4}  {pin}{_one_line(thread.title)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from llms_desktop.store.export import thread_markdown

    with open_store(args) as store:
        thread = store.get_thread(store.resolve_thread_id(args.id))
        if thread is not None and args.all_branches:
            print(thread_markdown(thread, (), store.tree(thread.id)))
        elif thread is not None:
            print(thread_markdown(thread, store.messages(thread.id), ids=True))
    return 0


def _search(args: argparse.Namespace) -> int:
    from llms_desktop.store import highlight

    marks = BOLD if sys.stdout.isatty() else ("[", "]")
    with open_store(args) as store:
        hits = store.search(" ".join(args.query), limit=args.limit)
    if not hits:
        print("No messages match.", file=sys.stderr)
    for hit in hits:
        print(f"{hit.thread_id}  {_one_line(hit.thread_title)}")
        print(f"    {hit.role}: {_one_line(highlight(hit.snippet, *marks))}")
    return 0


def _delete(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        thread = store.get_thread(store.resolve_thread_id(args.id))
        if thread is not None:
            store.delete_thread(thread.id)
            print(f"Deleted thread {thread.id} ({_one_line(thread.title) or 'untitled'}).")
    return 0


def _export(args: argparse.Namespace) -> int:
    import json

    from llms_desktop.store.export import export_json, export_markdown, iter_threads

    if args.all == bool(args.ids):
        raise errors.ConfigError("Give the ids of the threads to export, or --all.")
    with open_store(args) as store:
        ids = None if args.all else [store.resolve_thread_id(text) for text in args.ids]
        if args.format == "json":
            document = export_json(store, ids)
            count = len(document["threads"])
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        else:
            chosen = [thread.id for thread in iter_threads(store, ids)]
            text = export_markdown(store, chosen)
            count = len(chosen)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _write_atomically(Path(args.output), text)
        print(f"Exported {count} thread{'s' * (count != 1)} to {args.output}.", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from llms_desktop.store.importer import import_threads, loads

    source = "stdin" if args.file == "-" else args.file
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise errors.ConfigError(f"Cannot read {source}: {exc.strerror or exc}.") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.ConfigError(f"{source} is not UTF-8 text ({exc.reason}).") from exc
    parsed = loads(text, source)  # everything is checked before the database is touched
    with open_store(args) as store:
        result = import_threads(store, parsed)
    threads = f"{result.imported} thread{'s' * (result.imported != 1)}"
    summary = f"Imported {threads} ({result.messages} messages)"
    if result.skipped:
        summary += f"; skipped {len(result.skipped)} whose ids already exist"
    print(summary + ".")
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a failed export never leaves half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise errors.ConfigError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
