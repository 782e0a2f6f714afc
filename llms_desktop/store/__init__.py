"""The thread database: SQLite store, search hits, and JSON/markdown export and import."""

from llms_desktop.store.failures import RecordNotFound
from llms_desktop.store.search import HIGHLIGHT_END, HIGHLIGHT_START, SearchHit, highlight
from llms_desktop.store.store import Store, new_id

__all__ = [
    "HIGHLIGHT_END",
    "HIGHLIGHT_START",
    "RecordNotFound",
    "SearchHit",
    "Store",
    "highlight",
    "new_id",
]
