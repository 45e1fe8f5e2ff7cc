"""``.venv/bin/python main.py new-character NAME``: a character folder made from the neutral template
(``characters/_template/``), with the name filled in.

Folders whose name starts with ``_`` are templates, not characters: Kindred refuses to play one (a template
run by mistake would answer as "Character Name").
"""

from __future__ import annotations

import logging
import re
import shutil
import unicodedata
from pathlib import Path

import regex

from bot.core.errors import ConfigError
from bot.core.text import unaccented

log = logging.getLogger(__name__)

TEMPLATE_DIR = "_template"
# A sentence of the template's prompt meant to be replaced: still there, the character is nobody yet.
TEMPLATE_PROMPT_MARK = "Describe here who {{char}} is"
# A display name: a letter or digit first, then letters (with their marks: a Devanagari vowel sign is no
# \w), digits, spaces, ' . - _; at most 64.
_NAME = regex.compile(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}_ .'-]{0,63}")
_FOLDER = regex.compile(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}_.-]*")
_NOT_IN_FOLDER = regex.compile(r"[^\p{L}\p{M}\p{N}]+")
_NAME_LINE = re.compile(r"^default_name=.*$", re.MULTILINE)


def is_template(folder: Path) -> bool:
    return folder.resolve().name.startswith("_")


def refuse_template(folder: Path) -> None:
    """A ConfigError when ``folder`` is a template rather than a character."""
    if is_template(folder):
        raise ConfigError(str(folder), "folder", "this is a template, not a character: make one from it "
                                                 "with `.venv/bin/python main.py new-character NAME`")


def warn_unedited_template(folder: Path, core_prompt: str) -> bool:
    """Warn (it still runs) when a character made by new-character still has the template's prompt."""
    if TEMPLATE_PROMPT_MARK not in core_prompt:
        return False
    log.warning("%s: core_prompt is still the template's placeholder (%r...): write who the character is and "
                "how they talk, or it answers as a generic character", folder / "character.env",
                TEMPLATE_PROMPT_MARK)
    return True


def folder_name_for(name: str) -> str:
    """A character's folder name from its name, the same for new-character and import-card, in any script:
    lower case, Latin accents folded, other scripts' letters as they are (a folder holds them: ``ハナ`` stays
    ``ハナ``, ``Финн`` is ``финн``), anything else a hyphen. ``Captain Mira`` → ``captain-mira``, ``Niña`` →
    ``nina``, ``Zoë Ávila`` → ``zoe-avila``; "" when nothing of the name is a letter or digit."""
    return str(_NOT_IN_FOLDER.sub("-", unaccented(name).lower())).strip("-")


def usable_folder_name(folder: str) -> bool:
    """Whether ``folder`` may name a character folder: letters and digits of any script, then those and
    ``- _ .``, never ``..`` (nor ``_`` first: that is a template)."""
    return _FOLDER.fullmatch(folder) is not None and ".." not in folder


def new_character(name: str, characters_dir: Path, folder_name: str | None = None) -> Path:
    """Copy ``characters_dir/_template`` to ``characters_dir/<folder>`` and set its ``default_name``.

    A bad name or an existing folder is a ConfigError (one line, exit 2): nothing is written then."""
    name = unicodedata.normalize("NFC", name.strip())  # a name typed on macOS comes decomposed
    if not _NAME.fullmatch(name):
        raise ConfigError("new-character", "NAME", f"not a usable name: {name!r} (start with a letter; "
                                                   "letters, digits, spaces, ' . - _; at most 64)")
    folder = folder_name if folder_name is not None else folder_name_for(name)
    if not usable_folder_name(folder):
        raise ConfigError("new-character", "--as", f"not a usable folder name: {folder!r} "
                                                   "(letters, digits, - _ ., not starting with _)")
    template = characters_dir / TEMPLATE_DIR
    if not (template / "character.env").is_file():
        raise ConfigError(str(template), "character.env", "the template is missing")
    target = characters_dir / folder
    if target.exists():
        raise ConfigError(str(target), "NAME", "that character folder already exists; choose another name "
                                               "(or a folder name with --as)")
    shutil.copytree(template, target)
    env = target / "character.env"
    text = env.read_text(encoding="utf-8")
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    env.write_text(_NAME_LINE.sub(lambda _m: f'default_name="{quoted}"', text, count=1), encoding="utf-8")
    return target
