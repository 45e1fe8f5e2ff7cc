"""The character's identity entries: which kinds there are, how a seed file's headings map to them, and the
seeding itself (at start-up, and again when identity.json changes)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from bot.core.persona.identity import IDENTITY_FILE, read_identity_seed
from database.store import Store

log = logging.getLogger(__name__)

IDENTITY_KINDS = ("trait", "lore", "fact", "quirk")


def identity_kind(heading: str) -> str | None:
    """The kind a heading names ("traits" or "trait"), or None when it names none."""
    singular = heading.rstrip("s") if heading.rstrip("s") in IDENTITY_KINDS else heading
    return singular if singular in IDENTITY_KINDS else None


def seed_entries(seed: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """(kind, content) of an identity seed ({"traits": [...], "lore": [...]}); unknown headings are
    skipped."""
    return [
        (kind, content)
        for heading, items in seed.items()
        if (kind := identity_kind(heading))
        for content in items
    ]


async def seed_identity(store: Store, character_dir: Path, character_key: str) -> None:
    """Make the identity entries seeded from the folder's identity.json follow the file (entries added by
    admins stay; see Identity.sync_seed). A broken file is a ConfigError naming the file and the field:
    start-up stops rather than half-seeding. Without the file, the entries once seeded from it go."""
    path = character_dir / IDENTITY_FILE
    seed = seed_entries(read_identity_seed(path)) if path.is_file() else []
    added, removed = await store.identity.sync_seed(character_key, seed)
    if added:
        log.info("seeded %d identity entries from %s", added, path)
    if removed:
        log.info("removed %d identity entries no longer in %s", removed, path)
