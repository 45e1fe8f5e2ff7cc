"""The one internal model every character format is loaded into.

Whatever the source (a ClaudeMask ``character.env``, character + framework JSON, a SillyTavern card),
the rest of Kindred only ever sees a :class:`Persona`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.persona.macros import Moment, time_macros_in
from bot.core.persona.macros import render_macros as render_reply_macros
from database.boundary import JsonObject

# Changes to a dataclass (a Persona) by field name, for dataclasses.replace: each value is of its own
# field's type, which no one type says for all the fields (replace checks each against every field).
FieldChanges = dict[str, Any]

# A greeting is posted before an answer, in every first DM and every channel: one or two posts, never a wall.
GREETING_POSTS = 2
# What two of Discord's 2,000-character posts hold, with room for the macros expanded as it is posted (a
# longer greeting is cut at a sentence when the character is loaded: bot/core/persona/loader.py).
GREETING_MAX_CHARS = 3600


@dataclass(frozen=True)
class EvolutionStage:
    """Changes a character unlocks once it has had ``min_interactions`` interactions."""

    min_interactions: int
    name: str
    tone: str = ""
    quirks: tuple[str, ...] = ()
    knowledge: tuple[str, ...] = ()
    # The face the character shows in a server once it reaches the stage there (bot/operator/
    # character_faces.py): pictures (relative to the character folder until loaded) and a profile bio;
    # unset ones keep the earlier stage's, else the character's own.
    avatar: Path | None = None
    banner: Path | None = None
    bio: str = ""


@dataclass(frozen=True)
class LoreEntry:
    """One lorebook entry (SillyTavern ``character_book`` semantics)."""

    keys: tuple[str, ...]
    content: str
    secondary_keys: tuple[str, ...] = ()
    selective: bool = False
    constant: bool = False
    enabled: bool = True
    case_sensitive: bool = False
    insertion_order: int = 100
    priority: int = 10
    name: str = ""
    extensions: JsonObject = field(default_factory=dict)
    # SillyTavern's placement (bot/core/persona/lorebook.py POSITIONS): before_char, after_char, an_top,
    # an_bottom, at_depth, em_top, em_bottom; ``depth`` and ``role`` serve at_depth.
    position: str = "before_char"
    depth: int = 4
    role: str = "system"
    # Where the entry was read ("file: data.character_book.entries[3]"), for messages about it.
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class Lorebook:
    entries: tuple[LoreEntry, ...] = ()
    scan_depth: int = 4
    token_budget: int = 1024
    name: str = ""
    extensions: JsonObject = field(default_factory=dict)
    recursive: bool = True  # the card's recursive_scanning (SillyTavern's recursive scan: on by default)


@dataclass(frozen=True)
class Persona:
    """A character as Kindred plays it.

    ``system_prompt`` is the fully compiled character prompt (macros such as ``{{char}}`` already
    resolved; ``{{user}}`` is resolved per reply by :meth:`render`).
    """

    name: str
    system_prompt: str
    description: str = ""
    summarization_prompt: str = (
        "Summarize the conversation so far from your own perspective, in your own voice."
    )
    core_memory_prompt: str = (
        "Update your core memories about {user_name}: merge what you already remember with what happened "
        "in this conversation, rewriting rather than only appending."
    )
    core_memory_dump: str = (
        "Your core memories about {user_name} have grown long. Rewrite them into one condensed, "
        "comprehensive record that keeps every important fact."
    )
    post_history_instructions: str = ""
    talkativeness: float | None = None  # a card's extensions.talkativeness, 0..1: how readily it joins in
    nickname: str = ""  # a V3 card's nickname: {{char}} in its texts (name stays the display name)
    # Other names people call it by, often in other scripts (character.env ``names=フィン, 핀, 芬恩``, a
    # card's ``extensions.kindred.names``): a message naming one is addressed to it.
    aliases: tuple[str, ...] = ()
    # A card's ``extensions.depth_prompt`` (SillyTavern's "character's note"): shown after the history.
    character_note: str = ""
    # Where a card's own description begins in ``system_prompt`` (its heading): SillyTavern's before_char
    # world info goes just before it, after the main prompt ("": after the whole character prompt).
    description_heading: str = ""
    # False for a card set in another world: no real date or time of day in its prompts (only the silence)
    real_world_time: bool = True
    character_note_depth: int = 4  # where it goes: before the N-th message from the end (0: after the last)
    first_message: str = ""
    alternate_greetings: tuple[str, ...] = ()
    group_greetings: tuple[str, ...] = ()  # a V3 card's group_only_greetings: a server channel opens with one
    # The operator's own DM greeting per language (character.env ``first_message_es=...``): (code, text)
    # pairs; a first DM in that language opens with it instead of a rendering of ``first_message``.
    own_greetings: tuple[tuple[str, str], ...] = ()
    example_messages: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    avatar_path: Path | None = None
    avatar_url: str = ""  # an http(s) picture Discord fetches itself for webhook messages (acore avatar_url)
    avatar_data: bytes | None = None  # a picture carried inside the character file (a base64 data: URI)
    # The rest of its face in a server (bot/features/faces/character_faces.py): a profile banner and bio.
    banner_path: Path | None = None
    bio: str = ""
    topic_interests: tuple[str, ...] = ()
    topic_avoidances: tuple[str, ...] = ()
    evolution: tuple[EvolutionStage, ...] = ()
    framework_blend: dict[str, float] = field(default_factory=dict)
    lorebook: Lorebook | None = None
    router_weight: float | None = None  # share of unaddressed messages in an ensemble (None: not set)
    # Whether the hour of the day tires the character (late at night in its time zone); off for a card
    # with no such rhythm (character.env ``circadian=false``, a card's ``extensions.kindred.circadian``).
    circadian: bool = True
    # Speaks in its full register only in age-restricted places (bot/core/persona/register.py); elsewhere
    # in its safe register: ``safe_register``, else the default.
    mature: bool = False
    safe_register: str = ""
    # Fields of the source files Kindred reads but has no counterpart for (logged once at start-up).
    unused_fields: tuple[str, ...] = ()
    # The greetings cut to GREETING_MAX_CHARS as the character was loaded, each named (warned of once).
    cut_greetings: tuple[str, ...] = ()
    source_format: str = "claudemask"
    source_path: Path | None = None
    # Format-specific data kept verbatim so an export round-trips (e.g. card ``extensions``).
    extra: JsonObject = field(default_factory=dict)

    def kindred_said(self, key: str) -> object:
        """What the card it came from says of ``key`` under ``data.extensions.kindred`` (None: nothing)."""
        card = self.extra.get("card")
        data = card.get("data") if isinstance(card, dict) else None
        extensions = data.get("extensions") if isinstance(data, dict) else None
        kindred = extensions.get("kindred") if isinstance(extensions, dict) else None
        return kindred.get(key) if isinstance(kindred, dict) else None

    def avatar_bytes(self) -> bytes | None:
        """The picture for a new webhook: the avatar file, else the one carried in the character file."""
        if self.avatar_path is not None and self.avatar_path.is_file():
            return self.avatar_path.read_bytes()
        return self.avatar_data

    def render(self, text: str, user_name: str = "User", moment: Moment | None = None,
               seed: int | None = None, last_message: str | None = None) -> str:
        """Resolve the macros (case-insensitive) in ``text``: ``{{char}}``/``{{user}}`` as names, the time
        macros (``{{date}}``...) as their values at ``moment``, else as the stable references explained per
        message, the chance macros drawn (``seed``: the message answered; bot/core/persona/macros.py)."""
        return render_reply_macros(text, char=self.nickname or self.name, user=user_name, moment=moment,
                                   seed=seed, last_message=last_message)

    def time_macros(self) -> list[str]:
        """The time macros the character's prompt, instructions, greetings and lorebook use."""
        # Asked at every reply; the texts are fixed for this (frozen) persona, so they are scanned once. An
        # edit to the character loads a new Persona.
        found: tuple[str, ...] | None = self.__dict__.get("_time_macros")
        if found is None:
            lore = [e.content for e in self.lorebook.entries] if self.lorebook is not None else []
            found = tuple(time_macros_in([self.system_prompt, self.post_history_instructions,
                                          self.first_message, *self.alternate_greetings,
                                          *self.group_greetings, *lore]))
            self.__dict__["_time_macros"] = found  # past the frozen __setattr__, as functools.cached_property
        return list(found)


def render_macros(text: str, *, char: str, user: str) -> str:
    """``{{char}}``/``{{user}}`` only (loading a character: the time macros stay for each reply)."""
    import re

    def sub(match: re.Match[str]) -> str:
        key = match.group(1).strip().lower()
        if key == "char":
            return char
        if key == "user":
            return user
        return match.group(0)

    return re.sub(r"\{\{\s*(char|user)\s*\}\}", sub, text, flags=re.IGNORECASE)
