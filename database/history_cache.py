"""What keeps a conversation's history reads fresh and cheap: the turns of recently active conversations
kept in memory between replies, and the mark on the methods whose change makes every earlier read stale."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from database.records import Turn

TURN_CACHE_CONVERSATIONS = 500  # conversations whose turns stay in memory between replies
P = ParamSpec("P")
R = TypeVar("R")


class _KeepsHistory(Protocol):
    """What :func:`changes_history` needs of the object whose method it marks."""

    def history_changed(self) -> None: ...


S = TypeVar("S", bound=_KeepsHistory)


class TurnCache:
    """The turns of recently active conversations, kept between replies so that a long conversation is
    not read whole for every message. An entry serves only while its conversation's revision is the one
    it was read at: a database trigger moves that number on any change to the conversation's history,
    made by Kindred or by anyone else (migration 0004). Replies extend their entry as they store their
    turns, so a conversation in progress is read whole once. Touched from the SQLite thread and the event
    loop, hence the lock."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[int, tuple[Turn, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: int, revision: int) -> list[Turn] | None:
        with self._lock:
            entry = self._entries.get(conversation_id)
            if entry is None or entry[0] != revision:
                return None
            self._entries.move_to_end(conversation_id)
            return list(entry[1])

    def put(self, conversation_id: int, revision: int, turns: Sequence[Turn]) -> None:
        with self._lock:
            self._put(conversation_id, revision, tuple(turns))

    def _put(self, conversation_id: int, revision: int, turns: tuple[Turn, ...]) -> None:
        self._entries[conversation_id] = (revision, turns)
        self._entries.move_to_end(conversation_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def extend(self, conversation_id: int, before: int, after: int, turns: Sequence[Turn]) -> None:
        """Storing ``turns`` moved the conversation's revision from ``before`` to ``after``."""
        with self._lock:
            entry = self._entries.get(conversation_id)
            if entry is not None and entry[0] == before:
                self._put(conversation_id, after, entry[1] + tuple(turns))
            elif entry is not None and entry[0] != after:  # (a read since may already have it whole)
                del self._entries[conversation_id]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def changes_history(
    method: Callable[Concatenate[S, P], Awaitable[R]],
) -> Callable[Concatenate[S, P], Awaitable[R]]:
    """Marks a Conversations method that changes conversation history (other than append_turns, which
    keeps count per conversation): every prompt read taken before it ends is stale, and the turn cache is
    emptied."""

    @functools.wraps(method)
    async def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(self, *args, **kwargs)
        finally:  # also after a failure: the change may have been made
            self.history_changed()

    return wrapper
