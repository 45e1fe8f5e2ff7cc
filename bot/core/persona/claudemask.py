"""The ClaudeMask format: the whole character lives in ``character.env`` keys.

Required: ``core_prompt`` (or ``core_prompt_file``, a file relative to the folder).
Optional: ``default_name`` (else the folder name), ``description``,
``summarization_prompt``, ``core_memory_prompt``, ``core_memory_dump`` (Persona has defaults),
``first_message``, ``post_history_instructions`` and the multi-mode keys of :mod:`bot.core.persona.modes`.
python-dotenv has already turned ``\\n`` in double-quoted values into new lines; nothing is decoded again.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.core.errors import ConfigError, not_utf8
from bot.core.persona.model import FieldChanges, Persona, render_macros
from bot.core.persona.modes import modes_section, parse_modes
from database.boundary import JsonObject

MEMORY_PROMPT_KEYS = ("summarization_prompt", "core_memory_prompt", "core_memory_dump")


def env_text(env: Mapping[str, str], key: str) -> str:
    return (env.get(key) or "").strip()


def memory_prompt_overrides(env: Mapping[str, str]) -> FieldChanges:
    """The memory prompts the env sets (empty values keep Persona's defaults)."""
    return {key: env_text(env, key) for key in MEMORY_PROMPT_KEYS if env_text(env, key)}


def resolve_char(text: str, name: str) -> str:
    """{{char}} becomes the name now; {{user}} stays for per-reply rendering."""
    return render_macros(text, char=name, user="{{user}}")


def core_prompt_path(folder: Path, env: Mapping[str, str]) -> Path | None:
    """The file ``core_prompt_file`` names (relative to the character folder), if it is set."""
    value = env_text(env, "core_prompt_file")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def core_prompt(folder: Path, env: Mapping[str, str]) -> str:
    """``core_prompt``, or the text of the file ``core_prompt_file`` names (read at each load, so an edit
    applies to the next message like one to character.env)."""
    file = str(folder / "character.env")
    path = core_prompt_path(folder, env)
    if path is None:
        return env_text(env, "core_prompt")
    if env_text(env, "core_prompt"):
        raise ConfigError(file, "core_prompt_file", "set core_prompt or core_prompt_file, not both")
    try:
        return path.read_text(encoding="utf-8-sig").strip()
    except FileNotFoundError:
        raise ConfigError(file, "core_prompt_file", f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "file", not_utf8(exc)) from None
    except OSError as exc:
        raise ConfigError(file, "core_prompt_file", f"cannot read {path}: {exc}") from None


def load_claudemask(folder: Path, env: Mapping[str, str]) -> Persona:
    file = str(folder / "character.env")
    core = core_prompt(folder, env)
    if not core and not (folder / "character.env").exists():
        # A folder with no character file at all: the file is what is missing, not one key of it.
        raise ConfigError(file, "character.env", "no such file: a character folder needs one "
                          "(core_prompt=..., see character.env.example) or a SillyTavern card; "
                          "`main.py new-character NAME` makes a folder with it")
    if not core:
        raise ConfigError(file, "core_prompt", "missing: the character has no prompt")
    name = env_text(env, "default_name") or folder.name.replace("_", " ").replace("-", " ").title()
    modes, default_mode = parse_modes(env, file)
    prompt = core + ("\n\n" + modes_section(modes, default_mode) if modes else "")
    extra: JsonObject = {}
    if modes:
        extra = {"modes": [m.name for m in modes], "default_mode": default_mode}
    return Persona(
        name=name,
        system_prompt=resolve_char(prompt, name),
        description=env_text(env, "description"),
        first_message=resolve_char(env_text(env, "first_message"), name),
        post_history_instructions=resolve_char(env_text(env, "post_history_instructions"), name),
        real_world_time=env_text(env, "real_world_time").lower() not in ("false", "no", "off", "0"),
        source_format="claudemask",
        source_path=folder / "character.env",
        extra=extra,
        **memory_prompt_overrides(env),
    )
