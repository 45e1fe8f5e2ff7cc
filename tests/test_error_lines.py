"""Every configuration error at start-up is one line of one form, `config error: WHERE: KEY: message`: WHERE
is a file's path, `environment` (any environment variable, the key in lower case as in the files), a
command-line flag, or the place outside Kindred where it is set (the Discord developer portal); KEY is the
setting (or the file, or the portal's switch). Credentials once said `environment variable DISCORD_TOKEN:
discord_token:` in one case and `environment: DISCORD_TOKEN:` in another, the Message Content intent had no
WHERE or KEY at all."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.config import PROJECT_ROOT
from bot.core.config.credentials import check_discord_token, rejected, unusable
from bot.core.errors import ConfigError
from tests.harness import run_main
from tests.test_startup import exit_of, lines_of, start_fakes

FORM = re.compile(r"config error: (?P<where>[^:]+): (?P<key>[^:]+): (?P<message>\S.*)")


def form(line: str) -> tuple[str, str]:
    """(WHERE, KEY) of a config error line, which must have the one form."""
    match = FORM.fullmatch(line)
    assert match is not None, line
    return match["where"], match["key"]


def test_a_config_error_prints_in_the_form() -> None:
    assert form(f"config error: {ConfigError('config.env', 'reply_cooldown', 'must be a number')}") == (
        "config.env", "reply_cooldown")


@pytest.mark.parametrize("origin", ["environment", "/srv/kindred/characters/nyx/character.local.env"])
def test_credential_lines_name_the_environment_as_every_key_does(origin: str, tmp_path: Path) -> None:
    origins = {"discord_token": origin}
    missing = unusable("discord_token", origins, tmp_path, "still the example placeholder")
    assert form(f"config error: {missing}") == (origin, "discord_token")
    assert "DISCORD_TOKEN" in missing.message  # the variable to set is still named
    refused = rejected("discord_token", origins, "Discord", "HTTP 401 Unauthorized", "copy a new one")
    assert form(f"config error: {refused}") == (origin, "discord_token")
    with pytest.raises(ConfigError) as shaped:
        check_discord_token("Bot abc", origins, "https://discord.com/api/v10")
    assert form(f"config error: {shaped.value}") == (origin, "discord_token")


def test_main_says_each_config_error_in_the_form(tmp_path: Path) -> None:
    """main.py itself, for a setting, a placeholder token and a character folder without its file."""
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["--console"], {"ANTHROPIC_API_KEY": "y", "MAX_TYPING_TIME": "-3"},
         ("environment", "max_typing_time")),
        ([], {"DISCORD_TOKEN": "your-bot-token", "ANTHROPIC_API_KEY": "y"}, ("environment", "discord_token")),
        (["--character", str(empty)], {"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"},
         (str(empty / "character.env"), "character.env")),
    ]
    for args, env, expected in cases:
        result = run_main(*args, env={"LOG_LEVEL": "WARNING", **env})
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        line = lines_of(result.stderr)[-1]
        assert form(line) == expected, line


async def test_the_message_content_intent_is_said_in_the_form(tmp_path: Path) -> None:
    h = await start_fakes(tmp_path)
    h.discord.enabled_intents.discard("message_content")
    code, output = await exit_of(h)
    assert code == 2, output
    [line] = lines_of(output)
    assert form(line) == ("Discord developer portal", "Message Content Intent")


def test_a_python_without_the_packages_says_so_in_the_same_kind_of_line() -> None:
    """Start-up lines that are not config errors begin the same way, `KIND error: ` (`database error:`,
    `network error:`, here `setup error:`): `-S` leaves out site-packages, as a system Python lacks them."""
    result = subprocess.run([sys.executable, "-S", str(PROJECT_ROOT / "main.py")], capture_output=True,
                            text=True, timeout=60, cwd=PROJECT_ROOT)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("setup error: Kindred's packages are not installed for ") and "make setup" in line
