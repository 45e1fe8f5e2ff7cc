"""The running bot's settings across live reloads (issue 17): one :class:`SettingsHolder` holds the current
frozen :class:`Settings`; a reload builds a new one and :meth:`SettingsHolder.swap` puts it in place.
Nothing is ever written into a frozen object.

Components read at each use, so a swap reaches them without telling each one:

* a :class:`Live` view reads the current value (``live.now``, a whole section or the whole settings);
  :meth:`SettingsHolder.watch` gives one typed by its section. A class that keeps what it derives from a
  section while that section is the same object (bot/operator/access.py) takes a ``Live`` of it;
* :meth:`SettingsHolder.settings` and :meth:`SettingsHolder.section` give the same as the plain types
  (``Settings``, ``MemorySettings``...) whose every field reads the holder's current value;
  :meth:`SettingsHolder.follow` is :meth:`~SettingsHolder.section` typed by the section's class. Code that
  takes a ``Settings`` or a section therefore reads ``settings.<section>.<key>`` the same way whether it was
  handed a fixed value (tests, the console, the CLI) or the running bot's live one.

A class takes the section it reads (``MemorySettings``), not the whole ``Settings``. The composition root
hands it ``holder.follow(MemorySettings)``, never ``settings.memory`` of the live settings: that is the
section object of the moment, which a reload replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar, cast

from bot.core.config.sections import SECTIONS, Settings

S = TypeVar("S")


class Live(Generic[S]):
    """One part of the current settings (a section, or all of them), read anew at each ``.now``."""

    def __init__(self, read: Callable[[], S]) -> None:
        self._read = read

    @property
    def now(self) -> S:
        return self._read()

    @classmethod
    def fixed(cls, value: S) -> Live[S]:
        """A view that never changes (tests, the console, the CLI: nothing reloads there)."""
        return cls(lambda: value)


class SettingsHolder:
    def __init__(self, settings: Settings) -> None:
        self.current = settings

    def swap(self, new: Settings) -> Settings:
        """Make ``new`` the current settings (the reloader's call); returns the settings it replaces."""
        old, self.current = self.current, new
        return old

    def live(self, section: str) -> Live[Any]:
        """The section named ``section`` (``"memory"``...), as it is now at each read. (Any: the section's
        class is ``SECTIONS[section]``, chosen by a name only the caller knows.)"""
        if section not in SECTIONS:
            raise ValueError(f"no settings section {section!r}")
        return Live(lambda: getattr(self.current, section))

    def settings(self) -> Settings:
        """A :class:`Settings` whose every field is the current settings' (the bot hands this one out)."""
        return following(self, "current", Settings)

    def section(self, section: str) -> Any:
        """The section named ``section`` as its own type (``MemorySettings``...), following the holder.
        (Any: as for :meth:`live`, the type is the named section's.)"""
        if section not in SECTIONS:
            raise ValueError(f"no settings section {section!r}")
        return following(self, f"current.{section}", SECTIONS[section])

    def follow(self, kind: type[S]) -> S:
        """:meth:`section` by its type: ``holder.follow(MemorySettings)`` is a ``MemorySettings``."""
        return cast(S, self.section(section_name(kind)))

    def watch(self, kind: type[S]) -> Live[S]:
        """:meth:`live` by its type: ``.now`` is the section object of the moment (a reload replaces it)."""
        return cast(Live[S], self.live(section_name(kind)))


def section_of(settings: Settings, kind: type[S]) -> S:
    """The section of type ``kind`` of ``settings``, following reloads when ``settings`` does (the running
    bot's, from :meth:`SettingsHolder.settings`); else (a fixed ``Settings``) that section itself. For code
    handed the whole settings that builds a class taking one section."""
    holder = getattr(settings, "_holder", None)
    if isinstance(holder, SettingsHolder):
        return holder.follow(kind)
    return cast(S, getattr(settings, section_name(kind)))


def section_name(kind: type) -> str:
    """The ``Settings`` field holding the section of type ``kind`` (``MemorySettings``: ``"memory"``)."""
    for name, section in SECTIONS.items():
        if section is kind:
            return name
    raise ValueError(f"{kind.__name__} is not a settings section")


_FOLLOWING: dict[tuple[type, str], type] = {}


def following(holder: SettingsHolder, path: str, kind: type[S]) -> S:
    """A ``kind`` (a settings dataclass) whose every field reads ``holder.<path>.<field>`` at each access:
    plain reads (``settings.models``), the type's own properties and methods, equality and repr all see the
    current value. Made without the dataclass's ``__init__`` (its fields are read-only properties here);
    each field is one C-level attribute walk (operator.attrgetter), as cheap as a read can follow a swap."""
    if not is_dataclass(kind):
        raise TypeError(f"{kind.__name__} is not a settings dataclass")
    view = _FOLLOWING.get((kind, path))
    if view is None:
        def field_of(name: str) -> property:
            walk = attrgetter(f"{path}.{name}")
            return property(lambda self: walk(self._holder))

        props = {f.name: field_of(f.name) for f in fields(kind)}
        view = type(f"Live{kind.__name__}", (kind,), {**props, "__slots__": ("_holder",)})
        _FOLLOWING[(kind, path)] = view
    value: object = object.__new__(view)
    view._holder.__set__(value, holder)  # type: ignore[attr-defined]  # the slot's own setter (not frozen)
    return cast(S, value)
