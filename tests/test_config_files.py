"""The configuration files as an operator writes them (issue 17): character.local.env for secrets,
unquoted multi-line values, core_prompt_file, typos with a suggestion, credential messages that name their
source, and DATABASE_URL spellings."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT, load_settings, read_sources
from bot.core.config.database_url import normalize_database_url
from bot.core.errors import ConfigError
from tests.harness import rewrite

KEYS = {"DISCORD_TOKEN": "d", "ANTHROPIC_API_KEY": "a"}


def folder(tmp_path: Path, character_env: str, **files: str) -> Path:
    char = tmp_path / "nyx"
    char.mkdir(exist_ok=True)
    (char / "character.env").write_text(character_env)
    for name, text in files.items():
        (char / name.replace("__", ".")).write_text(text)
    return char


# -- character.local.env

def test_local_env_sits_between_character_env_and_the_environment(tmp_path: Path) -> None:
    char = folder(tmp_path, 'core_prompt="You are Nyx."\ndiscord_token="your_Discord_bot_token"\n'
                            "reply_cooldown=1\n",
                  character__local__env='discord_token="from-local"\nreply_cooldown=2\n')
    settings = load_settings(char, None, environ={"ANTHROPIC_API_KEY": "a"})
    assert settings.secrets.discord_token == "from-local" and settings.replies.reply_cooldown == 2
    assert settings.origins["discord_token"] == str(char / "character.local.env")
    settings = load_settings(char, None, environ={"ANTHROPIC_API_KEY": "a", "REPLY_COOLDOWN": "3"})
    assert settings.replies.reply_cooldown == 3 and settings.origins["reply_cooldown"] == "environment"


def test_local_env_is_git_ignored_and_the_example_says_so() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "characters/*/character.local.env" in ignored
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert "character.local.env" in readme


def test_unknown_keys_of_local_env_are_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    char = folder(tmp_path, 'core_prompt="You are Nyx."\n', character__local__env='discord_tokn="x"\n')
    caplog.set_level(logging.WARNING, logger="bot.core.config")
    load_settings(char, None, environ=KEYS)
    [warning] = [r.getMessage() for r in caplog.records if r.name == "bot.core.config"]
    assert warning == f"{char / 'character.local.env'}: discord_tokn: unknown key, ignored (did you mean " \
                      "discord_token?)"


# -- typos

def test_unknown_keys_suggest_the_closest_known_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    char = folder(tmp_path, 'core_promt="You are Nyx."\ncore_prompt="x"\nwibble_wobble=1\n')
    config = tmp_path / "config.env"
    config.write_text("reply_cooldwn=3\n")
    caplog.set_level(logging.WARNING, logger="bot.core.config")
    load_settings(char, config, environ=KEYS)
    warnings = sorted(r.getMessage() for r in caplog.records if r.name == "bot.core.config")
    assert warnings == sorted([
        f"{config}: reply_cooldwn: unknown key, ignored (did you mean reply_cooldown?)",
        f"{char / 'character.env'}: core_promt: unknown key, ignored (did you mean core_prompt?)",
        f"{char / 'character.env'}: wibble_wobble: unknown key, ignored (a typo?)",
    ])


# -- multi-line values

@pytest.mark.parametrize(("text", "key", "line"), [
    ("core_prompt=You are Nyx.\nYou speak in terse lines.\n", "core_prompt", 2),
    ("core_prompt=You are Nyx.\n\nTerse\n", "core_prompt", 3),  # a one-word line is a bare key to dotenv
    ('default_name="Nyx"\ndescription=A rogue AI\n  that hums.\ncore_prompt="x"\n', "description", 3),
])
def test_an_unquoted_value_over_several_lines_names_file_key_and_line(tmp_path: Path, text: str, key: str,
                                                                      line: int) -> None:
    char = folder(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(char, None, environ=KEYS)
    assert (err.value.file, err.value.key) == (str(char / "character.env"), key)
    assert f"over line {line} without quotes" in err.value.message and "double quotes" in err.value.message


def test_a_stray_line_after_a_quoted_value_is_named_by_its_line(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config.env"
    config.write_text('voting_model="claude-haiku-4-5"\nthis is not a setting\n')
    char = folder(tmp_path, 'core_prompt="You are Nyx."\n')
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ=KEYS)
    assert (err.value.file, err.value.key) == (str(config), "line 2")
    assert "not KEY=VALUE" in err.value.message
    assert not [r for r in caplog.records if r.name.startswith("dotenv")]  # no second, nameless warning


def test_quoted_multi_line_values_and_comments_are_read_whole(tmp_path: Path) -> None:
    char = folder(tmp_path, '# Nyx\ncore_prompt="You are Nyx.\n\nYou speak in terse lines."\n\n'
                            "# the greeting\nfirst_message='Hi.'\nexport description=A rogue AI\n")
    env = read_sources(None, char, {}).values
    assert env["core_prompt"] == "You are Nyx.\n\nYou speak in terse lines."
    assert env["first_message"] == "Hi." and env["description"] == "A rogue AI"


def test_a_broken_edit_while_running_keeps_the_last_good_persona(tmp_path: Path) -> None:
    char = folder(tmp_path, 'core_prompt="You are Nyx."\n')
    source = CharacterSource(char, None, environ={})
    assert source.load().system_prompt == "You are Nyx."
    rewrite(char / "character.env", "core_prompt=You are Nyx.\nNow terser.\n")
    assert source.current().system_prompt == "You are Nyx."


# -- core_prompt_file

def test_core_prompt_file_is_read_relative_to_the_folder_at_each_load(tmp_path: Path) -> None:
    char = folder(tmp_path, 'default_name="Nyx"\ncore_prompt_file=prompt.md\n',
                  prompt__md="You are Nyx.\n\nYou speak in terse lines, {{char}}.\n")
    source = CharacterSource(char, None, environ={})
    assert source.load().system_prompt == "You are Nyx.\n\nYou speak in terse lines, Nyx."
    rewrite(char / "prompt.md", "You are Nyx, and you hum.\n")
    assert source.current().system_prompt == "You are Nyx, and you hum."


def test_core_prompt_file_outside_the_folder_top_level_is_watched(tmp_path: Path) -> None:
    char = folder(tmp_path, "core_prompt_file=prompts/nyx.md\n")
    (char / "prompts").mkdir()
    (char / "prompts" / "nyx.md").write_text("You are Nyx.")
    source = CharacterSource(char, None, environ={})
    assert source.load().system_prompt == "You are Nyx."
    rewrite(char / "prompts" / "nyx.md", "You are Nyx, in a subfolder.")
    assert source.current().system_prompt == "You are Nyx, in a subfolder."


def test_core_prompt_file_problems_name_file_and_key(tmp_path: Path) -> None:
    char = folder(tmp_path, "core_prompt_file=missing.md\n")
    with pytest.raises(ConfigError) as err:
        CharacterSource(char, None, environ={}).load()
    assert (err.value.file, err.value.key) == (str(char / "character.env"), "core_prompt_file")
    assert f"no such file: {char / 'missing.md'}" in err.value.message
    folder(tmp_path, 'core_prompt="x"\ncore_prompt_file=p.md\n', p__md="y")
    with pytest.raises(ConfigError) as err:
        CharacterSource(char, None, environ={}).load()
    assert err.value.key == "core_prompt_file" and "not both" in err.value.message


# -- credentials

def test_credential_messages_name_their_source_and_read_alike(tmp_path: Path) -> None:
    char = folder(tmp_path, 'core_prompt="x"\ndiscord_token="your_Discord_bot_token"\n')
    local = str(char / "character.local.env")
    cases = [
        ({}, str(char / "character.env"), "discord_token", "still the example placeholder: put the Discord "
         f"bot token here, or better in {local} (git-ignored), or set the DISCORD_TOKEN environment "
         "variable"),
        ({"DISCORD_TOKEN": ""}, "environment", "discord_token", "missing: set the Discord bot token in the "
         f"DISCORD_TOKEN environment variable, or unset it and put discord_token=... in {local}"),
        ({"DISCORD_TOKEN": "d"}, local, "anthropic_api_key", "missing: put the Anthropic API key here as "
         "anthropic_api_key=..., or set the ANTHROPIC_API_KEY environment variable"),
    ]
    for environ, file, key, message in cases:
        with pytest.raises(ConfigError) as err:
            load_settings(char, None, environ=environ)
        assert (err.value.file, err.value.key, err.value.message) == (file, key, message)


# -- DATABASE_URL

@pytest.mark.parametrize(("written", "meant"), [
    ("postgres://u:p@db.example/kindred", "postgresql+asyncpg://u:p@db.example/kindred"),
    ("postgresql://u@localhost:5433/kindred", "postgresql+asyncpg://u@localhost:5433/kindred"),
    ("POSTGRESQL+ASYNCPG://u@localhost/kindred", "postgresql+asyncpg://u@localhost/kindred"),
    ("sqlite:///data/nyx.db", "sqlite+aiosqlite:///data/nyx.db"),
    ("sqlite:////var/lib/kindred/nyx.db", "sqlite+aiosqlite:////var/lib/kindred/nyx.db"),
    ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ("", ""),
])
def test_common_database_url_spellings_mean_the_async_drivers(written: str, meant: str) -> None:
    assert normalize_database_url(written) == meant


def test_the_database_url_setting_is_normalized_and_its_problems_named(tmp_path: Path) -> None:
    char = folder(tmp_path, 'core_prompt="x"\n')
    settings = load_settings(char, None, environ={**KEYS, "DATABASE_URL": "postgres://u:pw@h/k"})
    assert settings.resolved_database_url() == "postgresql+asyncpg://u:pw@h/k"
    assert settings.safe_database_url() == "postgresql+asyncpg://u:***@h/k"
    config = tmp_path / "config.env"
    config.write_text('database_url="mysql+pymysql://u:pw@h/k"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(char, config, environ=KEYS)
    assert (err.value.file, err.value.key) == (str(config), "database_url")
    assert "'mysql+pymysql'" in err.value.message and "pw" not in err.value.message


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL (PostgreSQL)")
async def test_the_postgres_spelling_connects(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    from bot.runtime.startup import check_database

    real = make_url(os.environ["TEST_DATABASE_URL"])
    written = real.set(drivername="postgres").render_as_string(hide_password=False)
    char = folder(tmp_path, 'core_prompt="x"\n')
    await check_database(load_settings(char, None, environ={**KEYS, "DATABASE_URL": written}))
    wrong = real.set(drivername="postgres", database="kindred_no_such_database")
    with pytest.raises(ConfigError) as err:
        await check_database(load_settings(char, None, environ={
            **KEYS, "DATABASE_URL": wrong.render_as_string(hide_password=False)}))
    assert err.value.key == "database_url" and "kindred_no_such_database" in err.value.message


# -- the README an operator follows

def test_readme_commands_say_they_run_in_the_venv() -> None:
    """`python main.py` fails outside the venv (nothing is installed globally): every command names
    .venv/bin/python or make."""
    import re

    for name in ("README.md",):
        text = (PROJECT_ROOT / name).read_text()
        bare = re.findall(r"`python (?:main\.py|-m )[^`]*`", text)
        assert bare == [], f"{name}: {bare}"
    assert "source .venv/bin/activate" in (PROJECT_ROOT / "README.md").read_text()


def test_readme_walks_through_the_discord_set_up() -> None:
    import discord

    from tests.harness import invited

    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Discord set-up", 1)[1].split("\n## ", 1)[0]
    for needed in ("Message Content Intent", "Reset Token", "`bot` and `applications.commands`",
                   f"permissions integer `{invited()}`", "connected as NAME in N servers",
                   "character.local.env"):
        assert needed in section, needed
    # (that a started bot's link asks for these: tests/test_startup.py, tests/test_voice_ops.py)
    plain, voice = discord.Permissions(invited()), discord.Permissions(invited(voice_channels=True))
    assert plain < voice and not plain.connect and voice.connect and voice.speak


# -- sampling settings a card carries are bounded like the settings

def test_a_cards_out_of_range_temperature_names_file_and_field(tmp_path: Path) -> None:
    import json

    char = tmp_path / "ember"
    char.mkdir()
    card = {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Ember", "description": "A spark.", "personality": "warm", "scenario": "",
                     "first_mes": "Hi.", "mes_example": "", "extensions": {"kindred": {"temperature": 1.7}}}}
    (char / "card.json").write_text(json.dumps(card))
    with pytest.raises(ConfigError) as err:
        CharacterSource(char, None, environ={}).load()
    assert (err.value.file, err.value.key) == (str(char / "card.json"), "extensions.kindred.temperature")
    assert err.value.message == "must be between 0 and 1, got 1.7"
    card["data"]["extensions"]["kindred"]["temperature"] = 0.7
    (char / "card.json").write_text(json.dumps(card))
    assert CharacterSource(char, None, environ={}).load().temperature == 0.7
