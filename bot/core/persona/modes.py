"""Multi-mode characters: one persona with named modes it switches between, visibly.

A ClaudeMask ``character.env`` may declare modes next to ``core_prompt``::

    modes="Builder, Critic, Dreamer"
    default_mode="Builder"
    mode_builder="How the character behaves in Builder mode, and when it switches to it."
    mode_critic="..."
    mode_dreamer="..."

The loader appends a "Modes" section to the system prompt telling the character to open every reply with
a ``[MODE: <name>]`` line, so a mode switch is visible in the chat.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.core.errors import ConfigError


@dataclass(frozen=True)
class Mode:
    name: str
    instructions: str


def mode_key(name: str) -> str:
    """The env key that holds a mode's instructions: ``mode_`` + the lower-cased name, non-alphanumerics
    → _."""
    return "mode_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def parse_modes(env: Mapping[str, str], file: str) -> tuple[tuple[Mode, ...], str]:
    """(modes, default mode name) from ``env``; ``((), "")`` when the character has no modes."""
    listed = [m.strip() for m in (env.get("modes") or "").split(",") if m.strip()]
    if not listed:
        if (env.get("default_mode") or "").strip():
            raise ConfigError(file, "default_mode", "set, but no modes are listed in modes")
        return (), ""
    seen: set[str] = set()
    modes = []
    for name in listed:
        key = mode_key(name)
        if key in seen:
            raise ConfigError(file, "modes", f"mode {name!r} is listed twice")
        seen.add(key)
        text = (env.get(key) or "").strip()
        if not text:
            raise ConfigError(file, key, f"missing: describe how the character behaves in {name} mode")
        modes.append(Mode(name, text))
    default = (env.get("default_mode") or "").strip() or modes[0].name
    match = next((m.name for m in modes if m.name.lower() == default.lower()), None)
    if match is None:
        raise ConfigError(file, "default_mode", f"{default!r} is not one of the modes: {', '.join(listed)}")
    return tuple(modes), match


def modes_section(modes: Iterable[Mode], default: str) -> str:
    """The system-prompt section that defines the modes and the visible tag."""
    modes = list(modes)
    if not modes:
        return ""
    other = next((m.name for m in modes if m.name != default), default)
    lines = [
        "## Modes",
        f"You have {len(modes)} modes. You start in {default} mode and switch whenever the conversation "
        "calls for another one, or when someone asks you to.",
        "Begin every reply with a line naming your current mode in square brackets, for example "
        f"[MODE: {default}], or [MODE: {other}] once you have switched to {other} mode.",
        "Then write the reply itself on the next line. Never skip the mode line, and never invent modes.",
        "",
    ]
    lines.extend(f"### {m.name}\n{m.instructions}\n" for m in modes)
    return "\n".join(lines).rstrip()
