"""Entity detection: which characters a message speaks to, and in what order.

Used twice: by a bot process that shares a server with other character bots (a character named second
waits for the first one's answer), and by the ensemble router of a bot that plays several characters.
Name matching is cheap and decides whenever a name appears; only an unaddressed message goes to the
voting model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache


def name_variants(name: str) -> set[str]:
    """The ways people write a character's name: the full name, and its first word when distinctive."""
    name = name.strip()
    if not name:
        return set()
    variants = {name}
    first = name.split()[0]
    if len(first) >= 3:
        variants.add(first)
    return variants


@lru_cache(maxsize=512)
def _pattern(name: str) -> re.Pattern[str]:
    # "@Finn", "Finn," and "finn?" all count; "Finnish" does not.
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)


def first_position(text: str, names: Iterable[str]) -> int | None:
    """Where the earliest of ``names`` appears in ``text`` as a word (None when none does)."""
    best: int | None = None
    for name in names:
        if not name:
            continue
        match = _pattern(name).search(text)
        if match and (best is None or match.start() < best):
            best = match.start()
    return best


def addressed_order(text: str, characters: Mapping[str, Iterable[str]]) -> list[str]:
    """The keys of ``characters`` (key → names) whose names appear in ``text``, in order of appearance."""
    found: list[tuple[int, str]] = []
    for key, names in characters.items():
        position = first_position(text, names)
        if position is not None:
            found.append((position, key))
    return [key for _, key in sorted(found)]
