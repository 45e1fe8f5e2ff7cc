"""The character's identity entries: which kinds there are, and how a seed file's headings map to them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
