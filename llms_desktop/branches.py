"""A thread's messages as a tree: the active path, each message's versions (siblings) (pure).

Regenerate and edit never overwrite: they add a sibling under the same parent. Each message
remembers when it was last chosen (`selected_at`); below every message the most recently chosen
child continues the active path, so switching versions high up and back again restores the
versions chosen further down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llms_desktop.types import Message


@dataclass(frozen=True, slots=True)
class Versions:
    """Where a message stands among its siblings: `index` of `count` (1-based), and their ids."""

    index: int
    count: int
    ids: tuple[str, ...]

    def step(self, offset: int) -> str | None:
        """The id of the version `offset` away (-1 previous, +1 next), or None past either end."""
        target = self.index - 1 + offset
        return self.ids[target] if 0 <= target < self.count else None


class MessageTree:
    """Every message of one thread, navigable as a tree (roots have no parent)."""

    def __init__(self, messages: Iterable[Message]) -> None:
        self.by_id: dict[str, Message] = {}
        self.children: dict[str | None, list[Message]] = {}
        ordered = sorted(messages, key=lambda m: m.position)
        for message in ordered:
            self.by_id[message.id] = message
        for message in ordered:
            # A parent missing from the thread (deleted, or a bad import) makes a root.
            parent = message.parent_id if message.parent_id in self.by_id else None
            self.children.setdefault(parent, []).append(message)

    def __len__(self) -> int:
        return len(self.by_id)

    def chosen_child(self, parent_id: str | None) -> Message | None:
        """The child that continues the active path below `parent_id` (None: the roots)."""
        children = self.children.get(parent_id)
        if not children:
            return None
        return max(children, key=_choice_key)

    def leaf_under(self, message_id: str | None) -> str | None:
        """The last message of the active path through `message_id` (None: the whole thread)."""
        current = message_id
        while True:
            child = self.chosen_child(current)
            if child is None:
                return current
            current = child.id

    def path_to(self, message_id: str | None) -> list[Message]:
        """The messages from the root down to `message_id`, inclusive ([] for None)."""
        path: list[Message] = []
        seen: set[str] = set()
        current = self.by_id.get(message_id) if message_id is not None else None
        while current is not None and current.id not in seen:
            seen.add(current.id)
            path.append(current)
            parent = current.parent_id
            current = self.by_id.get(parent) if parent is not None else None
        path.reverse()
        return path

    def active_path(self) -> list[Message]:
        """The conversation as shown: from the chosen root down the chosen children."""
        return self.path_to(self.leaf_under(None))

    def versions(self, message_id: str) -> Versions:
        """The message's position among its siblings, oldest first."""
        message = self.by_id[message_id]
        parent = message.parent_id if message.parent_id in self.by_id else None
        siblings = self.children.get(parent, [message])
        ids = tuple(sibling.id for sibling in siblings)
        return Versions(index=ids.index(message_id) + 1, count=len(ids), ids=ids)

    def descendants(self, message_id: str) -> list[Message]:
        """Every message below `message_id` (not itself), parents before children."""
        out: list[Message] = []
        stack = list(reversed(self.children.get(message_id, [])))
        while stack:
            message = stack.pop()
            out.append(message)
            stack.extend(reversed(self.children.get(message.id, [])))
        return out

    def walk(self) -> list[tuple[int, Message]]:
        """Every message, depth first, siblings oldest first, with how many forks lie above it
        (a conversation without branches is all at depth 0)."""
        out: list[tuple[int, Message]] = []
        roots = self.children.get(None, [])
        start = 1 if len(roots) > 1 else 0
        stack = [(start, root) for root in reversed(roots)]
        while stack:
            depth, message = stack.pop()
            out.append((depth, message))
            children = self.children.get(message.id, [])
            below = depth + (1 if len(children) > 1 else 0)
            stack.extend((below, child) for child in reversed(children))
        return out


def _choice_key(message: Message) -> tuple[float, int]:
    chosen = message.selected_at if message.selected_at is not None else message.created_at
    return (chosen, message.position)


def active_path(messages: Sequence[Message]) -> list[Message]:
    """The active path of a thread given all its messages."""
    return MessageTree(messages).active_path()
