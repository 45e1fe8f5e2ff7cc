"""``identity.json``: traits, lore, facts and quirks a character folder (any format) seeds into the database.

The file is read when the persona loads, so a broken seed stops start-up with its file and field named
instead of being half-seeded; the seeding itself (at each start the database follows the file, entries
admins added stay) happens in :func:`memory.identity.seed_identity`.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.fields import kind_of

IDENTITY_FILE = "identity.json"
# File key → the kind stored in the identity table (plural and singular spellings both work).
KINDS = {"traits": "trait", "trait": "trait", "lore": "lore", "facts": "fact", "fact": "fact",
         "quirks": "quirk", "quirk": "quirk"}
_IGNORED = {"$schema", "notes"}


def read_identity_seed(path: Path) -> dict[str, list[str]]:
    """``{kind: [text, ...]}`` from an identity file; every problem is a ConfigError naming file and field."""
    file = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(file, "file", f"cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(file, "json", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            file, "json", f"expected an object of lists (traits, lore, facts, quirks), got {kind_of(data)}"
        )
    seed: dict[str, list[str]] = {}
    for key, value in data.items():
        if key in _IGNORED:
            continue
        kind = KINDS.get(key)
        if kind is None:
            raise ConfigError(file, key, "unknown kind; expected traits, lore, facts or quirks")
        if not isinstance(value, list):
            raise ConfigError(file, key, f"expected a list of text, got {kind_of(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(file, f"{key}[{i}]", f"expected text, got {kind_of(item)}")
        seed.setdefault(kind, []).extend(item.strip() for item in value if item.strip())
    return seed
