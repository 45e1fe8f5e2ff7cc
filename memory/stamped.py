"""Per-person indexes kept in memory while the person's stamp (a cheap fingerprint of their rows) holds.

Recall's fact index (memory/facts.py) and episodic recall's excerpt index (memory/episodes.py) are both read
once and kept: a lookup compares the stamp, and a person whose rows changed is read again. The least
recently used person goes first past ``max_users``, so memory stays bounded on a server of thousands.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, Protocol, TypeVar

# A fingerprint of what an index was built from (counts, newest ids, times): only compared for equality.
Stamp = tuple[object, ...]


class Stamped(Protocol):
    @property
    def stamp(self) -> Stamp: ...


Index = TypeVar("Index", bound=Stamped)


class StampedCache(Generic[Index]):
    def __init__(self, max_users: int) -> None:
        self.max_users = max_users
        self._items: OrderedDict[int, Index] = OrderedDict()
        self.loads = 0  # how many times rows were (re)read: tests and benchmarks check the cache works

    def cached(self, user_id: int, stamp: Stamp) -> Index | None:
        """The person's index while its stamp is ``stamp`` (and they are now the most recently used)."""
        found = self._items.get(user_id)
        if found is None or found.stamp != stamp:
            return None
        self._items.move_to_end(user_id)
        return found

    def keep(self, user_id: int, index: Index) -> Index:
        """``index`` kept as the person's, the least recently used dropped past ``max_users``."""
        self.loads += 1
        self._items[user_id] = index
        self._items.move_to_end(user_id)
        while len(self._items) > self.max_users:
            self._items.popitem(last=False)
        return index

    def invalidate(self, user_id: int | None = None) -> None:
        if user_id is None:
            self._items.clear()
        else:
            self._items.pop(user_id, None)
