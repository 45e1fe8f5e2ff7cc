"""Values derived from objects that are replaced, never changed (a server's cached stored settings, a settings
section a live reload swaps): each value is kept per key and made again only when one of its sources is no
longer the same object. For what every message asks and seldom changes (issue 30)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Derived(Generic[K, V]):
    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._kept: dict[K, tuple[tuple[object, ...], V]] = {}

    def get(self, key: K, sources: tuple[object, ...], make: Callable[[], V]) -> V:
        """The value for ``key``, made by ``make()`` unless the one kept was made from these very
        ``sources`` (compared by identity)."""
        kept = self._kept.get(key)
        if kept is not None and len(kept[0]) == len(sources) and all(
                a is b for a, b in zip(kept[0], sources, strict=True)):
            return kept[1]
        value = make()
        if len(self._kept) >= self._limit:
            self._kept.clear()  # bounded: one entry per place seen; forgetting costs one make() each
        self._kept[key] = (sources, value)
        return value
