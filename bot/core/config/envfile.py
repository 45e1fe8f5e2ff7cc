"""Reading one ``.env`` file (config.env, character.env, character.local.env) with python-dotenv, after
checking that every line of it is read.

python-dotenv reads an unquoted value up to the end of its line: a ``core_prompt`` written over several lines
without quotes silently becomes its first line, and the lines after it only produce a warning that names
no file; a ``key: value`` line is silently skipped. Here every line python-dotenv cannot read as
``KEY=VALUE`` is a :class:`ConfigError` naming the file, the line's number and the line itself (a secret's
value left out), and either the setting written with ``:`` or the key whose value it most likely continues,
with how to write it instead.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from bot.core.errors import ConfigError, not_utf8

# Our own check reports every line python-dotenv would warn about (naming the file); its warnings would be
# a second, less helpful copy of the same message.
logging.getLogger("dotenv.main").setLevel(logging.ERROR)

# A setting written as YAML writes it (`default_name: Finn`), perhaps after `export`.
COLON_KEY = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:")

QUOTING_HINT = ("put the whole value in double quotes (a quoted value may span lines; \\n also makes a new "
                "line)")


def _quoted(statement: str) -> bool:
    value = statement.split("=", 1)[1].lstrip() if "=" in statement else ""
    return value[:1] in {'"', "'"}


def _colon_key(line: str, is_key: Callable[[str], bool]) -> str | None:
    """The key of a ``key: value`` line (YAML's spelling, or a card's) when it names a setting, or is shaped
    like one (a word with an underscore): prose continuing a value ("Style: terse") is not."""
    found = COLON_KEY.match(line)
    if found is None:
        return None
    key = found.group(1).lower()
    return key if is_key(key) or "_" in key else None


def _shown(line: str, colon_key: str | None, secret: bool) -> str:
    """The line as written, for the error; a secret's value left out (these files hold the token)."""
    if secret:
        return f"{line.split(':', 1)[0]}: …" if colon_key is not None else "…"
    if len(line) >= 24 and not any(c.isspace() for c in line):
        return "…"  # one long word: a token or a key pasted on its own line, perhaps
    return line if len(line) <= 80 else f"{line[:77]}..."


def check_lines(path: Path, text: str, is_key: Callable[[str], bool] = lambda _key: False,
                is_secret: Callable[[str], bool] = lambda _key: False) -> None:
    """Raise ConfigError for the first line of ``text`` that is not ``KEY=VALUE``, a comment or blank,
    naming its number and the line itself. ``is_key`` says which names are settings (a ``key: value`` line
    is a setting misspelt, not a value going on), ``is_secret`` whose value is never shown."""
    last_key: str | None = None  # the key of the last value written without quotes (lines may continue it)
    for binding in parse_stream(io.StringIO(text)):
        stray = binding.error or (binding.key is not None and binding.value is None)
        if not stray:
            if binding.key is not None:
                last_key = None if _quoted(binding.original.string) else binding.key.strip().lower()
            continue
        statement = binding.original.string  # may start with the blank lines before it
        line = binding.original.line + statement[:len(statement) - len(statement.lstrip())].count("\n")
        written = statement.strip().splitlines()[0].strip() if statement.strip() else ""
        colon_key = _colon_key(written, is_key)
        owner = colon_key if colon_key is not None else last_key  # whose value the line holds
        secret = owner is not None and is_secret(owner)
        shown = repr(_shown(written, colon_key, secret))
        if colon_key is not None:
            value = written.split(":", 1)[1].strip()
            fix = f"{colon_key}=…" if secret else f"{colon_key}={value}"
            raise ConfigError(str(path), f"line {line}",
                              f"{shown} is not KEY=VALUE: write it with = instead of :, as {fix}")
        if last_key is not None:
            hint = QUOTING_HINT + (", or move a long prompt to a file (core_prompt_file=prompt.md)"
                                   if last_key == "core_prompt" else "")
            raise ConfigError(str(path), last_key,
                              f"the value goes on over line {line} without quotes ({shown}), so only its "
                              f"first line would be read: {hint}")
        raise ConfigError(str(path), f"line {line}", f"{shown} is not KEY=VALUE (a comment starts with #; a "
                                                     "value over several lines must be quoted)")


def read_env_file(path: Path, is_key: Callable[[str], bool] = lambda _key: False,
                  is_secret: Callable[[str], bool] = lambda _key: False) -> dict[str, str | None]:
    """The file's keys and values, as python-dotenv reads them, once every line is known to be read
    (``is_key``, ``is_secret``: as :func:`check_lines`)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "file", not_utf8(exc)) from None
    check_lines(path, text, is_key, is_secret)
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
