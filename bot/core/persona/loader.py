"""Load a character folder, whatever its format, into a :class:`~bot.core.persona.model.Persona`.

Detection, first match wins:

1. a character card: ``card.png`` / ``card.json``, else any ``*.png`` / ``*.json`` holding a
   ``chara_card_v2`` / ``chara_card_v3`` card (:mod:`bot.core.persona.cards`; acore_bot's extensions are
   honoured, :mod:`bot.core.persona.acore_cards`);
2. ``character.json`` with ``framework.json`` and/or ``frameworks/*.json``
   (:mod:`bot.core.persona.framework`);
3. an acore_bot character JSON: legacy, advanced persona or compiled (:mod:`bot.core.persona.acore`);
4. ClaudeMask keys in the merged env (:mod:`bot.core.persona.claudemask`); ``core_prompt`` is required.

Frameworks (``framework.json``, ``frameworks/*.json``) may be Kindred's or acore_bot's, as they are.

For every format: ``default_name`` / ``description`` and the three memory prompts from the env override
what the files say; ``avatar`` (a path relative to the folder) or an ``avatar.png`` file sets the avatar;
``lorebook`` (a path) or a ``lorebook.json`` file adds a SillyTavern world-info lorebook; ``router_weight``
is the character's share of unaddressed messages in an ensemble; ``circadian=false`` (or a card's
``extensions.kindred.circadian: false``) keeps the hour of the day from tiring it; ``mature`` and
``safe_register`` (or the card's NSFW tag) say where its full register applies (register.py); ``names``
(or a card's ``extensions.kindred.names``) lists the other names it answers to; ``banner``
and ``bio`` (with the avatar and the evolution stages' own) are its face in a server (faces.py); an
``identity.json`` is validated here (it is seeded into the database at start-up).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.language import LANGUAGES
from bot.core.persona.acore import acore_kind, find_acore_character, load_acore_character
from bot.core.persona.acore_cards import apply_card_extensions
from bot.core.persona.acore_frameworks import load_all_frameworks
from bot.core.persona.cards import card_to_persona, find_card, read_card
from bot.core.persona.claudemask import env_text, load_claudemask
from bot.core.persona.faces import face_fields
from bot.core.persona.fields import read_json_object
from bot.core.persona.framework import load_framework_character
from bot.core.persona.identity import IDENTITY_FILE, read_identity_seed
from bot.core.persona.lorebook import load_lorebook, merge_lorebooks
from bot.core.persona.model import GREETING_MAX_CHARS, GREETING_POSTS, Persona
from bot.core.persona.register import mature_fields
from bot.core.text import cut_at_sentence


def _kindred_character(folder: Path) -> bool:
    """A ``character.json`` in Kindred's own schema (acore_bot's legacy JSON may carry the same name)."""
    path = folder / "character.json"
    return path.is_file() and acore_kind(read_json_object(path)) is None


def _router_weight(folder: Path, env: Mapping[str, str]) -> float | None:
    raw = env_text(env, "router_weight")
    if not raw:
        return None
    try:
        weight = float(raw)
    except ValueError:
        weight = -1.0
    if not 0 <= weight < float("inf"):
        raise ConfigError(
            str(folder / "character.env"), "router_weight", f"expected a number >= 0, got {raw!r}"
        )
    return weight


# Between aliases: a comma, or the full-width and ideographic commas a Japanese or Chinese keyboard types.
_ALIAS_SEPARATORS = re.compile(r"[,，、､]")


def _aliases(env: Mapping[str, str], persona: Persona) -> tuple[str, ...]:
    """The character's other names: character.env's ``names`` (a comma list), else a card's
    ``extensions.kindred.names`` (a list, or a comma list), each once, in the order given."""
    raw: object = env_text(env, "names") or persona.kindred_said("names") or ()
    items = _ALIAS_SEPARATORS.split(raw) if isinstance(raw, str) else raw if isinstance(raw, list) else []
    names = (str(item).strip() for item in items if isinstance(item, str))
    return tuple(dict.fromkeys(n for n in names if n)) or persona.aliases


SWITCH_WORDS = {"true": True, "on": True, "yes": True, "1": True,
                "false": False, "off": False, "no": False, "0": False}


def _own_greetings(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The operator's DM greeting per language: ``first_message_<code>`` keys (``first_message_es``), the
    code one of the languages Kindred tells apart (bot/core/language.py)."""
    found = []
    for key in sorted(env):
        code = key.removeprefix("first_message_")
        if key.startswith("first_message_") and code in LANGUAGES:
            text = env_text(env, key)
            if text.strip():
                found.append((code, cut_at_sentence(text, GREETING_MAX_CHARS)
                              if len(text) > GREETING_MAX_CHARS else text))
    return tuple(found)


def _circadian(folder: Path, env: Mapping[str, str], persona: Persona) -> bool:
    """Whether the hour of the day tires the character: character.env's ``circadian``, else a card's
    ``extensions.kindred.circadian``, else on."""
    raw = env_text(env, "circadian").lower()
    if raw:
        if raw not in SWITCH_WORDS:
            raise ConfigError(str(folder / "character.env"), "circadian",
                              f"expected true or false, got {raw!r}")
        return SWITCH_WORDS[raw]
    said = persona.kindred_said("circadian")
    return said if isinstance(said, bool) else persona.circadian


def _framework_notes(persona: Persona, folder: Path) -> tuple[str, ...]:
    """What the character's frameworks read but do not use, each named with its file."""
    notes: list[str] = []
    for fw in (persona.extra.get("frameworks") or {}).values():
        path = Path(fw.get("file", ""))
        name = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)
        notes.extend(f"{name}: {field}" for field in fw.get("unused") or ())
    return tuple(notes)


def _folder_file(folder: Path, env: Mapping[str, str], key: str, default_name: str) -> Path | None:
    """The file an env key names (relative to the folder), else ``default_name`` when it exists."""
    value = env_text(env, key)
    if value:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else folder / path
        if not path.is_file():
            raise ConfigError(str(folder / "character.env"), key, f"no such file: {value}")
        return path
    default = folder / default_name
    return default if default.is_file() else None


def bound_greetings(persona: Persona) -> Persona:
    """``persona`` with each greeting longer than two posts hold cut at a sentence, the cut ones named in
    ``cut_greetings`` (a 60,000-character ``first_mes`` would be thirty posts in every first DM)."""
    cut: list[str] = []

    def bounded(text: str, name: str) -> str:
        if len(text.strip()) <= GREETING_MAX_CHARS:
            return text
        cut.append(f"{name} ({len(text):,} characters)")
        return cut_at_sentence(text, GREETING_MAX_CHARS)

    first = bounded(persona.first_message, "first message")
    alternates = tuple(bounded(g, f"alternate greeting {i}")
                       for i, g in enumerate(persona.alternate_greetings, 1))
    group = tuple(bounded(g, f"group-only greeting {i}") for i, g in enumerate(persona.group_greetings, 1))
    if not cut:
        return persona
    return replace(persona, first_message=first, alternate_greetings=alternates, group_greetings=group,
                   cut_greetings=tuple(cut))


def _han(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CJK ")  # CJK UNIFIED / COMPATIBILITY IDEOGRAPH


def _spaced(char: str) -> bool:
    """A letter of a script written with spaces between words (Latin, Cyrillic, Greek...), not of the
    syllabaries and ideographs whose two letters make a name (ハナ, 花子, 미라)."""
    return not (_han(char) or unicodedata.name(char, "").startswith(("HIRAGANA", "KATAKANA", "HANGUL")))


def alias_warning(persona: Persona) -> str:
    """The one warning about names too short to tell from everyday words ("" for none): a name is matched
    in every message, so one Han character ("花" in 今日は花がきれいだね) or a name of one or two letters
    ("Al" in Spanish "al", "Jo" in German "jo") would make ordinary sentences address the character."""
    short: list[str] = []
    for alias in persona.aliases:
        letters = [c for c in unicodedata.normalize("NFKC", alias) if c.isalnum()]
        # A hangul syllable is a syllable, not a letter: 핀 (Finn) is a name; its particles are told apart.
        one = len(letters) == 1 and not unicodedata.name(letters[0], "").startswith("HANGUL SYLLABLE")
        if one or (len(letters) == 2 and all(_spaced(c) for c in letters)):
            what = "one Han character" if len(letters) == 1 and _han(letters[0]) else (
                f"{len(letters)} letter{'s' if len(letters) > 1 else ''}")
            short.append(f"{alias!r} ({what})")
    if not short:
        return ""
    return (f"names: {', '.join(short)} is too short to tell from an everyday word: every message holding it "
            "(今日は花がきれいだね for 花, \"al\" in Spanish for Al) would address the character; give a "
            "longer name (花ちゃん, ハナ, Alma) or leave it out")


def greeting_warning(persona: Persona) -> str:
    """The one warning about the greetings :func:`bound_greetings` cut ("" for none)."""
    if not persona.cut_greetings:
        return ""
    return (f"a greeting is posted in at most {GREETING_POSTS} messages: cut at a sentence to "
            f"{GREETING_MAX_CHARS:,} characters: {'; '.join(persona.cut_greetings)}")


def load_persona(folder: Path, env: Mapping[str, str]) -> Persona:
    """The persona defined by ``folder``; ``env`` is the merged, lower-cased key/value map."""
    if not folder.is_dir():
        raise ConfigError(str(folder), "character_dir", "no such character folder")
    card_path = find_card(folder)
    acore_path = None if card_path is not None or _kindred_character(folder) else find_acore_character(folder)
    if card_path is not None:
        card = read_card(card_path)
        persona = apply_card_extensions(card_to_persona(card, env), card, folder)
    elif acore_path is not None:
        persona = load_acore_character(acore_path, folder, env)
    elif (folder / "character.json").is_file():
        persona = load_framework_character(folder, env, load_all_frameworks)
    else:
        persona = load_claudemask(folder, env)
    if (folder / IDENTITY_FILE).is_file():
        read_identity_seed(folder / IDENTITY_FILE)  # a broken seed fails here, before anything connects
    avatar = _folder_file(folder, env, "avatar", "avatar.png")
    lore_path = _folder_file(folder, env, "lorebook", "lorebook.json")
    lorebook = persona.lorebook
    if lore_path is not None:
        lorebook = merge_lorebooks([persona.lorebook, load_lorebook(lore_path)])
    return replace(
        bound_greetings(persona),
        avatar_path=avatar or persona.avatar_path,
        lorebook=lorebook,
        router_weight=_router_weight(folder, env),
        circadian=_circadian(folder, env, persona),
        aliases=_aliases(env, persona),
        own_greetings=_own_greetings(env),
        **mature_fields(folder, env, persona),
        **face_fields(folder, env, persona),
        unused_fields=(*persona.unused_fields, *_framework_notes(persona, folder)),
    )
