"""Values derived from what seldom changes (a server's cached stored settings, a settings section a live
reload writes new values into): each value is kept per key and made again only when one of its sources
differs from the one it was made from (the same object, or equal to it). For what every message asks
(issue 30)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Derived(Generic[K, V]):
    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._kept: dict[K, tuple[tuple[object, ...], V]] = {}

    def kept(self, key: K, sources: tuple[object, ...]) -> V | None:
        """The value kept for ``key`` if it was made from these ``sources`` (each the same object or an
        equal one: a source that changes in place is kept as a copy, see :meth:`keep`); None: make it and
        :meth:`keep` it."""
        kept = self._kept.get(key)
        if kept is not None and len(kept[0]) == len(sources) and all(
                a is b or a == b for a, b in zip(kept[0], sources, strict=True)):
            return kept[1]
        return None

    def keep(self, key: K, sources: tuple[object, ...], value: V) -> V:
        """Keep ``value``, made from ``sources``, for ``key``; returns it. A source that changes in place (a
        running settings section) is passed as a copy of its values (``holder.snapshot``)."""
        if len(self._kept) >= self._limit:
            self._kept.clear()  # bounded: one entry per place seen; forgetting costs one make() each
        self._kept[key] = (sources, value)
        return value

    def get(self, key: K, sources: tuple[object, ...], make: Callable[[], V]) -> V:
        """The value for ``key``, made by ``make()`` unless the one kept was made from these ``sources``.
        On a hot path, prefer :meth:`kept` and :meth:`keep`: the value is made by its owner, not called back
        from here."""
        value = self.kept(key, sources)
        return value if value is not None else self.keep(key, sources, make())
