"""Per-key locks that do not grow with every key ever seen (a lock per person would be one more entry per
person, forever): an entry lives only while some task holds or waits for its lock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class KeyedLocks(Generic[K]):
    """``async with locks(key):`` one task at a time per key. Holds as many entries as keys in use."""

    def __init__(self) -> None:
        self._entries: dict[K, tuple[asyncio.Lock, int]] = {}  # key -> (lock, tasks holding or waiting)

    @asynccontextmanager
    async def __call__(self, key: K) -> AsyncIterator[None]:
        lock, users = self._entries.get(key) or (asyncio.Lock(), 0)
        self._entries[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._entries[key]
            if users <= 1:
                del self._entries[key]  # nobody else holds or waits for it: the next one makes a new lock
            else:
                self._entries[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._entries)

    def waiting(self, key: K) -> int:
        """How many tasks hold or wait for ``key``'s lock."""
        entry = self._entries.get(key)
        return entry[1] if entry is not None else 0
