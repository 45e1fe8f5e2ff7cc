"""The running bot's settings across live reloads (issue 17): one :class:`SettingsHolder` owns the running
:class:`Settings` and its section objects, kept for the whole run; a reload copies the new values into
those very objects (:meth:`SettingsHolder.update`, the one place that writes into settings).

So a component reads at each use and a reload reaches it without telling each one: whatever holds the
running settings (``bot.settings``, ``holder.current``) or one of its sections
(``holder.follow(MemorySettings)``, which is ``holder.current.memory``) sees the new values at its next
read. Code handed a fixed value (tests, the console, the CLI) reads ``settings.<section>.<key>`` the same
way.

A class takes the section it reads (``MemorySettings``), not the whole ``Settings``. A class that keeps what
it derives from a section (bot/core/policy.py, bot/operator/access.py) keeps it in a :class:`Derived`, made
from a :func:`snapshot` of the section's values taken when it derived them: the object stays the same
across reloads, its values do not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Hashable
from dataclasses import fields, replace
from typing import Any, Generic, TypeVar

from bot.core.config.sections import FEATURE_SECTIONS, SECTIONS, Settings

S = TypeVar("S")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SettingsHolder:
    def __init__(self, settings: Settings) -> None:
        # The holder's own copy: what update() writes is never an object someone else was handed.
        # Every registered feature's section too (at its defaults if ``settings`` were made without it): the
        # object a feature follows is then one a reload writes into.
        kinds: dict[type, object] = {**settings.features, **FEATURE_SECTIONS}
        features: dict[type, object] = {kind: snapshot(settings.section(kind)) for kind in kinds}
        self.current = replace(settings, **{name: snapshot(getattr(settings, name)) for name in SECTIONS},
                               features=features)
        self._features = features  # the holder's own, which update() writes into

    def update(self, new: Settings) -> None:
        """Copy ``new`` (the reloader's :func:`~bot.core.config.live.live_settings`) into the running settings
        and their sections, in one step of the event loop (no await: no coroutine sees half of it; a key read
        in a worker thread meanwhile is the old value or the new one)."""
        for name in SECTIONS:
            _copy_values(getattr(new, name), getattr(self.current, name))
        for kind, section in new.features.items():
            if kind in self._features:
                _copy_values(section, self._features[kind])
            else:
                self._features[kind] = snapshot(section)
        _copy_values(new, self.current, skip={*SECTIONS, "features"})

    def follow(self, kind: type[S]) -> S:
        """The running section of type ``kind`` (``holder.follow(MemorySettings)`` is
        ``holder.current.memory``; a feature's, ``holder.current.section(LookupSettings)``), the object every
        reload writes its new values into."""
        return self.current.section(kind)


def _copy_values(source: Any, target: Any, skip: Collection[str] = ()) -> None:
    """Every field of ``source`` into ``target``, a frozen dataclass of the same type that the holder owns
    (frozen everywhere else: nothing but a reload writes into settings)."""
    for f in fields(target):
        if f.name not in skip:
            object.__setattr__(target, f.name, getattr(source, f.name))


def snapshot(section: S) -> S:
    """A copy of ``section``'s values as they are now, which a later reload does not change (to compare the
    running section with, by ``==``, to know whether it changed)."""
    return copy.copy(section)


def section_of(settings: Settings, kind: type[S]) -> S:
    """The section of type ``kind`` of ``settings`` (for code handed the whole settings that builds a class
    taking one section): of the running settings, the running section, which follows reloads."""
    return settings.section(kind)


class Derived(Generic[K, V]):
    """Values derived from what seldom changes (a server's cached stored settings, a section a reload
    writes new values into): each kept per key and made again only when one of its sources differs from
    the one it was made from (the same object, or equal to it: a running section is compared by its
    :func:`snapshot`). For what every message asks."""

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
