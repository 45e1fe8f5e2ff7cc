"""Mature characters where they belong: a character marked mature speaks in its full register only in
age-restricted places, and in a safe register everywhere else.

A character is mature when its ``character.env`` says ``mature=true``, else when its card says so
(``extensions.kindred.mature``), else when the card is tagged NSFW (SillyTavern's ``tags``). Age-restricted
places are Discord's: a server channel marked age-restricted (``nsfw``), or a thread of one. A DM is not one:
Discord's developer policy keeps age-restricted content to age-restricted channels, so a DM gets the safe
register.

In a safe place the character's prompt ends with its safe register (``safe_register=`` in character.env, a
card's ``extensions.kindred.safe_register``, else :data:`DEFAULT_SAFE_REGISTER`); what the card marks as
mature never reaches it: lorebook entries whose ``extensions.mature`` is true, the example dialogue when
``extensions.kindred.mature_examples`` is true; and the greetings, which are posted as written, are left out.
In an age-restricted place the prompt ends with :data:`MATURE_PLACE` instead. Each is a fixed text at the
end of the character prompt, so the cached prefix stays byte-stable for each kind of place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.cards import compile_card_prompt
from bot.core.persona.claudemask import env_text
from bot.core.persona.model import FieldChanges, Lorebook, Persona
from database.boundary import Json, JsonObject

DEFAULT_SAFE_REGISTER = (
    "This place is not age-restricted: keep to a safe register here. No sexual content, no graphic "
    "violence or gore, nothing explicit; stay in character and let anything more pass with a fade-out, a "
    "deflection or a hint, never a description. If someone presses for it, say in character that this is "
    "not the place for it.")
MATURE_PLACE = ("This channel is age-restricted (Discord's NSFW setting: its members are adults): your full "
                "register applies here.")
SAFE_HEADING = "## Your register here"

_SWITCH = {"true": True, "on": True, "yes": True, "1": True,
           "false": False, "off": False, "no": False, "0": False}


def tagged_nsfw(card: Json) -> bool:
    """Whether a card's ``data.tags`` (SillyTavern's) hold "NSFW", in any case."""
    data = card.get("data") if isinstance(card, dict) else None
    tags = data.get("tags") if isinstance(data, dict) else None
    return isinstance(tags, list) and any(isinstance(t, str) and t.strip().lower() == "nsfw" for t in tags)


def _card_kindred(persona: Persona) -> JsonObject:
    card = persona.extra.get("card")
    data = card.get("data") if isinstance(card, dict) else None
    extensions = data.get("extensions") if isinstance(data, dict) else None
    kindred = extensions.get("kindred") if isinstance(extensions, dict) else None
    return kindred if isinstance(kindred, dict) else {}


def mature_fields(folder: Path, env: Mapping[str, str], persona: Persona) -> FieldChanges:
    """``mature`` and ``safe_register`` as character.env says, else as the card says (its
    ``extensions.kindred``, then its NSFW tag)."""
    kindred = _card_kindred(persona)
    raw = env_text(env, "mature").lower()
    if raw:
        if raw not in _SWITCH:
            raise ConfigError(str(folder / "character.env"), "mature", f"expected true or false, got {raw!r}")
        mature = _SWITCH[raw]
    elif isinstance(kindred.get("mature"), bool):
        mature = bool(kindred["mature"])
    else:
        mature = tagged_nsfw(persona.extra.get("card"))
    own = env_text(env, "safe_register") or kindred.get("safe_register")
    return {"mature": mature, "safe_register": own.strip() if isinstance(own, str) else ""}


def _safe_lorebook(book: Lorebook | None) -> Lorebook | None:
    if book is None:
        return None
    return replace(book, entries=tuple(e for e in book.entries if e.extensions.get("mature") is not True))


def _without_examples(persona: Persona) -> str:
    """The character prompt without the card's example dialogue, when the card marks it mature."""
    card = persona.extra.get("card")
    data = card.get("data") if isinstance(card, dict) else None
    if _card_kindred(persona).get("mature_examples") is not True or not isinstance(data, dict):
        return persona.system_prompt
    char = persona.nickname or persona.name
    full = compile_card_prompt(data, char)
    return persona.system_prompt.replace(full, compile_card_prompt({**data, "mes_example": ""}, char), 1)


def register_text(persona: Persona) -> str:
    """The safe register this character keeps to outside age-restricted places."""
    return persona.safe_register or DEFAULT_SAFE_REGISTER


def in_place(persona: Persona, age_restricted: bool) -> Persona:
    """The character as it plays in a place: unchanged unless it is mature; then with its full register in
    an age-restricted place, its safe one elsewhere. Made once per persona and kind of place (a persona is
    frozen; an edit to the character loads a new one), so the prompt is byte-stable per kind of place."""
    if not persona.mature:
        return persona
    key = "_in_restricted" if age_restricted else "_in_safe"
    found: Persona | None = persona.__dict__.get(key)
    if found is None:
        if age_restricted:
            found = replace(persona, mature=False,
                            system_prompt=f"{persona.system_prompt}\n\n{SAFE_HEADING}\n{MATURE_PLACE}")
        else:
            found = replace(persona, mature=False, lorebook=_safe_lorebook(persona.lorebook),
                            system_prompt=f"{_without_examples(persona)}\n\n{SAFE_HEADING}\n"
                                          f"{register_text(persona)}",
                            example_messages="" if _card_kindred(persona).get("mature_examples") is True
                            else persona.example_messages,
                            first_message="", alternate_greetings=(), group_greetings=())
        persona.__dict__[key] = found  # past the frozen __setattr__, as Persona.time_macros does
    return found


def register_notice(persona: Persona) -> str:
    """What the operator is told once at start-up about a mature character ("" for any other)."""
    if not persona.mature:
        return ""
    own = "its own (safe_register)" if persona.safe_register else "the default one"
    return (f"{persona.name} is marked mature: it speaks in its full register only in age-restricted "
            f"(NSFW) channels and their threads; everywhere else, DMs included (Discord's developer policy), "
            f"it keeps to a safe register, {own}, and its greetings and the lore and examples the card marks "
            "mature are left out there")
