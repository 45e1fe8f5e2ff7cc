"""Input checks.

The ``validate_*`` functions answer PersonaFlow's documented question, "is this valid?": True or False,
never an exception. The ``check_*`` functions are what the library itself uses: they raise ValueError
saying exactly what is wrong, so a bad call fails early with a useful message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from string import Template
from typing import Any

MEMORY_CONFIG_FIELDS = ("max_memories", "summary_threshold", "auto_summarize")


def template_variables(template: Any) -> list[str]:
    """The ``${var}`` / ``$var`` names of a template, in order of first use; ValueError if it is malformed.

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
            raise ValueError(
                f"invalid placeholder at line {line}: {snippet!r} (use ${{name}}, or $$ for a literal $)"
            )
        name = match.group("named") or match.group("braced")
        if name and name not in names:
            names.append(name)
    return names


def check_memory_content(content: Any) -> None:
    """A memory is non-empty text, or a non-empty dict with string keys; ValueError otherwise."""
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


def check_memory_config(config: Any) -> None:
    """A MemoryConfig, or a mapping with some of its fields (the rest take their defaults); ValueError
    otherwise.

    ``max_memories`` and ``summary_threshold`` are positive integers, ``auto_summarize`` a bool; a mapping
    with any other key is refused, so a misspelt setting is not silently ignored.
    """
    if isinstance(config, Mapping):
        unknown = [k for k in config if k not in MEMORY_CONFIG_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown memory_config key {unknown[0]!r}; known: {', '.join(MEMORY_CONFIG_FIELDS)}"
            )
        values = dict(config)
    elif all(hasattr(config, k) for k in MEMORY_CONFIG_FIELDS):
        values = {k: getattr(config, k) for k in MEMORY_CONFIG_FIELDS}
    else:
        raise ValueError(f"memory_config must be a MemoryConfig or a dict, got {type(config).__name__}")
    for key in ("max_memories", "summary_threshold"):
        value = values.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    auto = values.get("auto_summarize", True)
    if not isinstance(auto, bool):
        raise ValueError(f"auto_summarize must be true or false, got {auto!r}")


def _passes(check: Any, value: Any) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True


def validate_prompt_template(template: Any) -> bool:
    """True when ``template`` is a usable ``${var}`` template."""
    return _passes(template_variables, template)


def validate_memory_content(content: Any) -> bool:
    """True when ``content`` can be stored as a memory (see :func:`check_memory_content`)."""
    return _passes(check_memory_content, content)


def validate_memory_config(config: Any) -> bool:
    """True when ``config`` is a valid memory configuration (see :func:`check_memory_config`)."""
    return _passes(check_memory_config, config)


def check_character_name(name: Any) -> None:
    """A non-empty name without control characters; ValueError otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("character name must be a non-empty string")
    if re.search(r"[\x00-\x1f]", name):
        raise ValueError(f"character name must not contain control characters: {name!r}")
