"""The character subcommands of main.py: ``new-character`` and ``import-card`` (what they print, and the
lorebook checks around an import). The work itself is in template.py and transfer.py."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.acore import peek_json
from bot.core.persona.lorebook import load_lorebook
from bot.core.persona.template import new_character
from database.boundary import Json

IMPORT_FORMATS = """\
formats:
  SillyTavern character cards V1, V2 (chara_card_v2) and V3 (chara_card_v3), as JSON or as PNG
    (the card in the picture's chara / ccv3 chunk); a card's own lorebook (character_book) comes along
  acore_bot character files: a V2 card, a legacy character JSON, an advanced persona or a compiled
    persona (the framework it names is copied from acore's prompts/frameworks/)
  ClaudeMask: a character.env (the whole character in one file)
  a SillyTavern lorebook (world info JSON) is not a character: attach it with --lorebook FILE, or with
    lorebook="path/to/world.json" in a character's character.env
"""


def is_lorebook(data: Json) -> bool:
    """A SillyTavern world-info file: ``entries`` (a list or an object keyed by id), no character in it."""
    if not isinstance(data, dict) or not isinstance(data.get("entries"), (list, dict)):
        return False
    return not any(data.get(k) for k in ("spec", "data", "char_name", "first_mes", "description",
                                         "personality", "system_prompt", "display_name", "character_name"))


def _run_hint(folder: Path, project_root: Path) -> str:
    try:
        shown = folder.resolve().relative_to(project_root.resolve())
    except ValueError:
        shown = folder
    return (f"run it: .venv/bin/python main.py --character {shown}   "
            f"(or: make run ARGS=\"--character {shown}\"; "
            f"in the terminal: make console ARGS=\"--character {shown}\")")


def new_character_command(name: str, characters_dir: Path, as_name: str | None, project_root: Path) -> int:
    folder = new_character(name, characters_dir, as_name)
    print(f"created {folder} from the template: edit {folder / 'character.env'} (the prompt) and, if you "
          f"like, {folder / 'identity.json'}")
    print(_run_hint(folder, project_root))
    return 0


def import_card_command(file: Path, characters_dir: Path, as_name: str | None, lorebook: Path | None,
                        project_root: Path) -> int:
    from bot.core.persona.transfer import import_character

    if file.suffix.lower() == ".json" and is_lorebook(peek_json(file)):
        raise ConfigError(str(file), "file", "this is a lorebook (SillyTavern world info), not a character: "
                                             "attach it on import with "
                                             f"`import-card CARD --lorebook {file}`, "
                                             "or with lorebook=\"path\" in a character's character.env")
    if lorebook is not None:
        load_lorebook(lorebook)  # a broken lorebook is refused before anything is written
    folder = import_character(file, characters_dir, as_name)
    if lorebook is not None:
        shutil.copyfile(lorebook, folder / "lorebook.json")  # the loader adds a folder's lorebook.json
    print(f"imported {file} as {folder}" + (f", with the lorebook {lorebook}" if lorebook else ""))
    for warning in [*thin_card_warnings(folder), *long_greeting_warnings(folder), *alias_warnings(folder)]:
        print(f"warning: {warning}", file=sys.stderr)
    print(_run_hint(folder, project_root))
    return 0


def alias_warnings(folder: Path) -> list[str]:
    """The warning about the imported character's names too short to tell from everyday words."""
    from bot.core.persona.loader import alias_warning, load_persona

    try:
        warning = alias_warning(load_persona(folder, {}))
    except ConfigError:
        return []  # the folder's problem is said when it runs
    return [warning] if warning else []


def long_greeting_warnings(folder: Path) -> list[str]:
    """The one warning about greetings too long for two posts, cut as the imported character loads."""
    from bot.core.persona.loader import greeting_warning, load_persona

    try:
        warning = greeting_warning(load_persona(folder, {}))
    except ConfigError:
        return []  # what the folder lacks to be played is said when it is run
    return [warning] if warning else []


def thin_card_warnings(folder: Path) -> list[str]:
    """What an imported card lacks that a character needs (it still imports)."""
    from bot.core.persona.cards import find_card, read_card

    path = find_card(folder)
    if path is None:
        return []
    data = read_card(path).data
    # Either one is a character: many cards (SillyTavern's own default among them) keep everything in the
    # description and leave personality empty.
    if any(str(data.get(k) or "").strip() for k in ("description", "personality")):
        return []
    return ["the card has no description and no personality: the character's prompt only holds what else "
            "the card says (add them to the card, e.g. in SillyTavern's editor, and import it again)"]
