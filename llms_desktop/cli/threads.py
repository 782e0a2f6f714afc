"""`llms-desktop threads`: list, show, search, delete, export and import saved threads."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llms_desktop import errors
from llms_desktop.cli import open_store

if TYPE_CHECKING:
    from llms_desktop.store import Store
    from llms_desktop.types import AttachmentInfo

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

    show = actions.add_parser(
        "show",
        help="print a thread as markdown (its active path)",
        description="Print a thread as markdown; attachments link to their files in the data "
        "folder.",
    )
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
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE, not stdout (markdown: attachments go to FILE's name + "
        "_attachments/ beside it)",
    )
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

        def link(info: AttachmentInfo) -> str | None:
            path = store.attachment_path(info)
            return str(path) if path is not None else None

        if thread is not None and args.all_branches:
            print(thread_markdown(thread, (), store.tree(thread.id), link=link))
        elif thread is not None:
            print(thread_markdown(thread, store.messages(thread.id), ids=True, link=link))
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
    copies: dict[str, Path] = {}
    with open_store(args) as store:
        ids = None if args.all else [store.resolve_thread_id(text) for text in args.ids]
        if args.format == "json":
            document = export_json(store, ids)
            count = len(document["threads"])
            text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        else:
            chosen = [thread.id for thread in iter_threads(store, ids)]
            link = None if args.output is None else _copier(store, Path(args.output), copies)
            text = export_markdown(store, chosen, link)
            count = len(chosen)
    if copies:
        _copy_attachments(Path(args.output), copies)
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


def _attachments_folder(output: Path) -> Path:
    return output.with_name(f"{output.stem}_attachments")


def _copier(store: Store, output: Path, copies: dict[str, Path]) -> Any:
    """A markdown linker that books each attachment for copying beside `output` and links
    it there (relative, so the folder can move with the file)."""
    folder = _attachments_folder(output).name

    def link(info: AttachmentInfo) -> str | None:
        source = store.attachment_path(info)
        if source is None:
            return None  # gone from the data folder: named, not linked
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", info.name).strip("._")[:80] or "attachment"
        name = f"{info.sha256[:12]}-{safe}"
        copies[name] = source
        return f"{folder}/{name}"

    return link


def _copy_attachments(output: Path, copies: dict[str, Path]) -> None:
    folder = _attachments_folder(output)
    try:
        folder.mkdir(exist_ok=True)
        for name, source in copies.items():
            shutil.copyfile(source, folder / name)
    except OSError as exc:
        raise errors.ConfigError(
            f"Cannot write the attachments to {folder}: {exc.strerror or exc}."
        ) from exc


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
