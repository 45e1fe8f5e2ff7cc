"""Input checks that fail early with a message saying exactly what is wrong (always ValueError)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Template
from typing import Any


def validate_prompt_template(template: Any) -> list[str]:
    """Check a ``${var}`` template; returns its variable names in order of first use.

    ``$$`` is a literal dollar sign; a lone ``$`` or an unclosed ``${`` is an error.
    """
    if not isinstance(template, str):
        raise ValueError(f"prompt template must be a string, got {type(template).__name__}")
    if not template.strip():
        raise ValueError("prompt template must not be empty")
    names: list[str] = []
    for match in Template.pattern.finditer(template):
        if match.group("invalid") is not None:
            start = match.start("invalid")
            line = template.count("\n", 0, start) + 1
            snippet = template[start:start + 12].split("\n")[0]
            raise ValueError(f"invalid placeholder at line {line}: {snippet!r} (use ${{name}}, or $$ for a literal $)")
        name = match.group("named") or match.group("braced")
        if name and name not in names:
            names.append(name)
    return names


def validate_memory_content(content: Any) -> None:
    """A memory is non-empty text, or a non-empty dict with string keys."""
    if isinstance(content, str):
        if not content.strip():
            raise ValueError("memory content must not be empty")
        return
    if isinstance(content, dict):
        if not content:
            raise ValueError("memory content dict must not be empty")
        bad = [k for k in content if not isinstance(k, str)]
        if bad:
            raise ValueError(f"memory content keys must be strings, got {bad[0]!r}")
        return
    raise ValueError(f"memory content must be a string or a dict, got {type(content).__name__}")


def _field(config: Any, key: str) -> Any:
    if isinstance(config, Mapping):
        return config.get(key)
    return getattr(config, key, None)


def validate_memory_config(config: Any) -> None:
    """``max_memories`` and ``summary_threshold`` positive integers, ``auto_summarize`` a bool."""
    for key in ("max_memories", "summary_threshold"):
        value = _field(config, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    auto = _field(config, "auto_summarize")
    if not isinstance(auto, bool):
        raise ValueError(f"auto_summarize must be true or false, got {auto!r}")


def validate_character_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("character name must be a non-empty string")
    if re.search(r"[\x00-\x1f]", name):
        raise ValueError(f"character name must not contain control characters: {name!r}")
