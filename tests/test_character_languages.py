"""A character in another language, the operator's path (docs/character-languages.md): folder names in every
script from new-character and import-card alike, names matched without their accents, a warning for names
too short to tell from everyday words, a character.env in another encoding named with its fix, and the time
zone said at start-up."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.config import load_settings
from bot.core.persona.loader import alias_warning
from bot.core.persona.model import Persona
from bot.core.persona.template import folder_name_for
from bot.core.text import unaccented
from bot.runtime.startup import say_timezone
from tests.harness import CHANNEL_ID, GUILD_ID, MakeHarness
from tests.test_character_setup import characters, load_persona, main_py, one_line_error

__all__ = ["characters"]  # the fixture, used by name

ENV = {"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"}


def card(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"card-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": name, "description": f"{name} runs a tea stall.", "personality": "warm",
        "first_mes": "¡Hola!"}}, ensure_ascii=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- folder names


@pytest.mark.parametrize(("name", "folder"), [
    ("ハナ", "ハナ"), ("Niña", "nina"), ("Zoë Ávila", "zoe-avila"), ("Łucja", "lucja"), ("Финн", "финн"),
    ("花子", "花子"), ("प्रिया", "प्रिया"), ("Captain Mira", "captain-mira")])
def test_folder_names_in_every_script(name: str, folder: str) -> None:
    assert folder_name_for(name) == folder


def test_new_character_and_import_card_name_folders_alike(tmp_path: Path, characters: Path) -> None:
    for name, folder in (("ハナ", "ハナ"), ("Niña", "nina")):
        made = main_py("new-character", name, "--dir", str(characters))
        assert made.returncode == 0, made.stderr
        assert load_persona(characters / folder, {}).name == name
        load_settings(characters / folder, None, environ=ENV)  # a folder the bot runs from
        # import-card of a card of the same name: the same folder name, so it is taken (and says so)
        taken = one_line_error(main_py("import-card", str(card(tmp_path, name)), "--dir", str(characters)))
        assert "already exists" in taken and str(characters / folder) in taken
    other = tmp_path / "other"
    other.mkdir()
    for name, folder in (("ハナ", "ハナ"), ("Niña", "nina")):
        imported = main_py("import-card", str(card(tmp_path, name)), "--dir", str(other))
        assert imported.returncode == 0, imported.stderr
        assert f"imported {tmp_path}" in imported.stdout and (other / folder / "card.json").is_file()
        assert load_persona(other / folder, {}).name == name
    assert sorted(p.name for p in other.iterdir()) == sorted(["ハナ", "nina"])
    # --as takes a folder name in any script too
    assert main_py("import-card", str(card(tmp_path, "Niña")), "--as", "ニーニャ", "--dir",
                   str(other)).returncode == 0
    assert (other / "ニーニャ").is_dir()


# --------------------------------------------------------------------------- accents


def test_accents_are_folded_in_latin_only() -> None:
    assert unaccented("Niña Łucja Zoë Ayşe Đorđe") == "Nina Lucja Zoe Ayse Dorde"
    assert unaccented("ハナが ブルー") == "ハナが ブルー"  # a dakuten is a letter's own, not an accent
    assert unaccented("йогурт") == "йогурт" and unaccented("Nin\u0303a") == "Nina"  # typed decomposed


async def test_nina_addresses_nina(make_harness: MakeHarness) -> None:
    h = await make_harness(names="Niña")
    await h.store.servers.update(GUILD_ID, reply_mode="addressed")  # only what names it is answered
    h.claude.script("¡Aquí estoy!", model="claude-test-default")
    await h.say("nina, ¿estás ahí?")
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "¡Aquí estoy!"
    await h.say("las ninas juegan en el parque")  # a longer word holding it names no one
    await h.settled()
    assert len(h.discord.posted(CHANNEL_ID)) == 1


# --------------------------------------------------------------------------- short names


def test_a_short_name_is_warned_about() -> None:
    persona = Persona(name="ハナ", system_prompt="You are ハナ.")
    assert alias_warning(replace(persona, aliases=("ハナちゃん", "Hana", "花子", "미라", "핀"))) == ""
    warning = alias_warning(replace(persona, aliases=("花", "Al", "ハナちゃん", "K")))
    assert "'花' (one Han character)" in warning and "'Al' (2 letters)" in warning
    assert "'K' (1 letter)" in warning and "ハナちゃん" not in warning.split(" is too short")[0]
    assert "今日は花がきれいだね" in warning


async def test_the_warning_is_said_at_start_up(make_harness: MakeHarness,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    await make_harness(names="花, Finnie")
    [line] = [r.getMessage() for r in caplog.records if "too short" in r.getMessage()]
    assert "'花' (one Han character)" in line and "Finnie" not in line


def test_import_card_warns_about_a_short_name(tmp_path: Path, characters: Path) -> None:
    path = tmp_path / "hana.json"
    path.write_text(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": {
        "name": "ハナ", "description": "ハナ runs a tea stall.", "personality": "warm", "first_mes": "やあ！",
        "extensions": {"kindred": {"names": ["花", "はなちゃん"]}}}}, ensure_ascii=False), encoding="utf-8")
    result = main_py("import-card", str(path), "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "'花' (one Han character)" in warning and "はなちゃん" not in warning.split(" is too short")[0]


# --------------------------------------------------------------------------- encoding


def test_a_character_env_not_in_utf8_names_the_file_and_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "hana"
    folder.mkdir()
    env = folder / "character.env"
    env.write_bytes('default_name="ハナ"\ncore_prompt="あなたはハナです。"\n'.encode("shift_jis"))
    for args in (("--console", "--character", str(folder)),
                 ("import-card", str(env), "--dir", str(tmp_path))):
        line = one_line_error(main_py(*args, ANTHROPIC_API_KEY="fake"))
        assert line.startswith(f"config error: {env}: ") and "not UTF-8" in line, line
        assert "save it as UTF-8" in line and "line 1" in line


# --------------------------------------------------------------------------- time zone


def test_the_time_zone_is_said_and_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "hana"
    folder.mkdir()
    (folder / "character.env").write_text('default_name="ハナ"\ncore_prompt="You are ハナ."\n',
                                          encoding="utf-8")
    monkeypatch.setenv("TZ", "UTC")
    unset = say_timezone(load_settings(folder, None, environ=ENV))
    assert unset.startswith("time zone: UTC, this machine's (timezone is not set)")
    assert "set timezone=" in unset
    tokyo = say_timezone(load_settings(folder, None, environ={**ENV, "TIMEZONE": "Asia/Tokyo"}))
    assert tokyo == "time zone: Asia/Tokyo (timezone)"


