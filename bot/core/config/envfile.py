"""Reading one ``.env`` file (config.env, character.env, character.local.env) with python-dotenv, after
checking that every line of it is read.

python-dotenv reads an unquoted value up to the end of its line: a ``core_prompt`` written over several lines
without quotes silently becomes its first line, and the lines after it only produce a warning that names
no file. Here every line python-dotenv cannot read as ``KEY=VALUE`` is a :class:`ConfigError` naming the
file, the key whose value it most likely continues, and how to write the value instead.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from bot.core.errors import ConfigError

# Our own check reports every line python-dotenv would warn about (naming the file); its warnings would be
# a second, less helpful copy of the same message.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)

QUOTING_HINT = ("put the whole value in double quotes (a quoted value may span lines; \\n also makes a new "
                "line)")


def _quoted(statement: str) -> bool:
    value = statement.split("=", 1)[1].lstrip() if "=" in statement else ""
    return value[:1] in {'"', "'"}


def check_lines(path: Path, text: str) -> None:
    """Raise ConfigError for the first line of ``text`` that is not ``KEY=VALUE``, a comment or blank."""
    last_key: str | None = None  # the key of the last value written without quotes (lines may continue it)
    for binding in parse_stream(io.StringIO(text)):
        stray = binding.error or (binding.key is not None and binding.value is None)
        if not stray:
            if binding.key is not None:
                last_key = None if _quoted(binding.original.string) else binding.key.strip().lower()
            continue
        statement = binding.original.string  # may start with the blank lines before it
        line = binding.original.line + statement[:len(statement) - len(statement.lstrip())].count("\n")
        if last_key is not None:
            hint = QUOTING_HINT + (", or move a long prompt to a file (core_prompt_file=prompt.md)"
                                   if last_key == "core_prompt" else "")
            raise ConfigError(str(path), last_key,
                              f"the value goes on over line {line} without quotes, so only its first line "
                              f"would be read: {hint}")
        raise ConfigError(str(path), f"line {line}", "not KEY=VALUE (a comment starts with #; a value over "
                                                     "several lines must be quoted)")


def read_env_file(path: Path) -> dict[str, str | None]:
    """The file's keys and values, as python-dotenv reads them, once every line is known to be read."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(str(path), "file", "not UTF-8 text") from None
    check_lines(path, text)
    return dict(dotenv_values(path, encoding="utf-8-sig"))


def empty_or_missing(path: Path | None) -> str | None:
    """Why ``path`` holds no settings now: "missing", "empty" (nothing but white space), or None (it has
    some, or there is no such file to watch)."""
    if path is None:
        return None
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError:
        return None  # unreadable (a folder, a permission): load_settings names the problem
    return "empty" if not text.strip() else None
