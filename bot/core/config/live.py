"""A reloaded configuration, compared with the running one and applied to it (issue 17, live reload).

The running bot has ONE :class:`Settings` object, which every component holds and reads at each use
(``self.settings.default_model`` when it builds a request, not a copy taken at start-up). Applying a reload
swaps that object's sections for the new ones in place, so no component needs telling. Keys declared with
``restart=True`` (bot/core/config/sections.py) were read once at start-up: they keep their running value and
the reload says they need a restart. Code that takes a single section (memory/) is given a
:func:`live_section`, which reads through the same object.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from bot.core.config.loading import CHARACTER_KEY_PREFIXES, CHARACTER_KEYS
from bot.core.config.sections import SECTIONS, SETTINGS, Setting, Settings

_SHOWN = 60  # characters of a changed value shown in the log (prompts and replies can be long)


@dataclass(frozen=True)
class Change:
    """One key whose value differs between the running and the reloaded configuration."""

    key: str
    old: Any
    new: Any
    setting: Setting | None = None  # None: a character key (persona text), which CharacterSource applies

    @property
    def needs_restart(self) -> bool:
        return self.setting is not None and self.setting.restart

    def describe(self) -> str:
        """One log line; a secret's value is never part of it."""
        if self.setting is None:
            return f"{self.key} changed (the persona follows it from the next message)"
        if self.setting.secret:
            shift = "changed"
        else:
            shift = f"{_shown(self.old)} -> {_shown(self.new)}"
        if self.needs_restart:
            return f"{self.key} {shift}: read at start-up, applies after a restart (the running value stays)"
        return f"{self.key} {shift}"


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _is_character_key(key: str) -> bool:
    return key in CHARACTER_KEYS or key.startswith(CHARACTER_KEY_PREFIXES)


def changes(old: Settings, new: Settings) -> list[Change]:
    """Every setting, then every character key (prompts, description...), whose value changed."""
    found = [Change(s.key, getattr(getattr(old, s.section), s.key), getattr(getattr(new, s.section), s.key),
                    s) for s in SETTINGS]
    found = [c for c in found if c.old != c.new]
    for key in sorted(k for k in {*old.raw, *new.raw} if _is_character_key(k)):
        if old.raw.get(key) != new.raw.get(key):
            found.append(Change(key, old.raw.get(key), new.raw.get(key)))
    return found


def live_settings(running: Settings, new: Settings) -> Settings:
    """``new`` with every restart-only key kept at its running value (what the running bot can apply)."""
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        kept = {s.key: getattr(getattr(running, name), s.key) for s in SETTINGS
                if s.section == name and s.restart}
        sections[name] = replace(getattr(new, name), **kept)
    return replace(new, **sections)


def apply(running: Settings, new: Settings) -> None:
    """Make ``running`` read as ``new``: its sections (immutable values) and raw values are swapped in place.

    Settings is frozen so that nothing else changes it by accident; this is the one sanctioned writer, used
    by the config reloader (bot/runtime/reloader.py) with the result of :func:`live_settings`."""
    for f in fields(Settings):
        if f.name in SECTIONS or f.name == "raw":
            object.__setattr__(running, f.name, getattr(new, f.name))


class LiveSection:
    """One section of the running Settings, read through it at each attribute access (so a reload reaches
    code that was handed a single section, like memory/'s ``MemorySettings``)."""

    def __init__(self, settings: Settings, section: str) -> None:
        if section not in SECTIONS:
            raise ValueError(f"no settings section {section!r}")
        self._settings = settings
        self._section = section

    def __getattr__(self, name: str) -> Any:
        return getattr(getattr(self._settings, self._section), name)

    def __repr__(self) -> str:
        return f"LiveSection({getattr(self._settings, self._section)!r})"


def live_section(settings: Settings, section: str) -> Any:
    """A :class:`LiveSection`, typed as whatever the caller expects of the section (duck-typed)."""
    return LiveSection(settings, section)
