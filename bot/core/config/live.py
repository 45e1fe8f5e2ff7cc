"""A reloaded configuration, compared with the running one (issue 17, live reload).

The running bot's settings live in a :class:`~bot.core.config.holder.SettingsHolder`, which every component
reads through at each use (``self.settings.models.default_model`` when it builds a request, not a copy taken
at start-up); the reloader swaps in :func:`live_settings` of the new configuration. Keys declared with
``restart=True`` (bot/core/config/sections.py, or a feature's section) were read once at start-up: they
keep their running value and the reload says they need a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.core.config.keys import Setting
from bot.core.config.loading import CHARACTER_KEY_PREFIXES, CHARACTER_KEYS
from bot.core.config.sections import FEATURE_SECTIONS, SECTIONS, SETTINGS, Settings

_SHOWN = 60  # characters of a changed value shown in the log (prompts and replies can be long)


@dataclass(frozen=True)
class Change:
    """One key whose value differs between the running and the reloaded configuration."""

    key: str
    old: object  # a setting's value, or a character key's raw text (None: not set)
    new: object
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


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _is_character_key(key: str) -> bool:
    return key in CHARACTER_KEYS or key.startswith(CHARACTER_KEY_PREFIXES)


def changes(old: Settings, new: Settings) -> list[Change]:
    """Every setting, then every character key (prompts, description...), whose value changed."""
    found = [Change(s.key, value_of(old, s), value_of(new, s), s) for s in SETTINGS]
    found = [c for c in found if c.old != c.new]
    for key in sorted(k for k in {*old.raw, *new.raw} if _is_character_key(k)):
        if old.raw.get(key) != new.raw.get(key):
            found.append(Change(key, old.raw.get(key), new.raw.get(key)))
    return found


def live_settings(running: Settings, new: Settings) -> Settings:
    """``new`` with every restart-only key kept at its running value (what the running bot can apply)."""
    def kept(kind: type) -> Any:  # new's section of class ``kind``, its restart-only keys as running
        restart = {s.key: value_of(running, s) for s in SETTINGS if s.owner is kind and s.restart}
        section: Any = new.section(kind)  # a section of its own class
        return replace(section, **restart)

    sections: dict[str, Any] = {name: kept(cls) for name, cls in SECTIONS.items()}
    return replace(new, **sections, features={cls: kept(cls) for cls in {**new.features, **FEATURE_SECTIONS}})


def value_of(settings: Settings, setting: Setting) -> object:
    """A setting's value in ``settings``, read through its section (a core one or a feature's)."""
    assert setting.owner is not None  # every declared setting knows its section class
    return getattr(settings.section(setting.owner), setting.key)
