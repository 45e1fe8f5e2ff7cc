"""A character is named as people write it in their own language and script
(bot/reply/deciding/addressing.py): "Finnさん", "フィン、", "핀 씨" name Finn as "Finn," does, while
"Finnegan" and "フィンランド" (Finland) do not. The same decisions in Discord's eleven big languages, unit by
unit and over the wire (no vote asked of the voter model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.persona import load_persona
from bot.core.persona.model import Persona
from bot.reply.deciding.addressing import CharacterNames, NameMatcher, addressed_order, first_position
from tests.harness import LOG_CHANNEL_ID, Harness, MakeHarness

VOTER = "claude-test-voter"
ALIASES = ("フィン", "핀", "芬恩", "Финн")

NAMED = [
    ("en", "Finn, how are you?"),
    ("es", "Finn, ¿qué tal?"),
    ("pt", "Oi Finn! Tudo bem?"),
    ("de", "Finn, wie geht's?"),
    ("fr", "Salut Finn, ça va ?"),
    ("ru", "Finn, как дела?"),
    ("ru", "Финн, как дела?"),
    ("pl", "Cześć Finn, co słychać?"),
    ("tr", "FİNN, nasılsın?"),
    ("ja", "Finnさん、お茶は何がいい？"),
    ("ja", "Finnは何が好き？"),
    ("ja", "フィン、元気？"),
    ("ja", "ねえフィンさん"),
    ("ja", "フィン様、おはようございます。"),
    ("ja", "ﾌｨﾝ、げんき？"),  # half-width katakana
    ("ja", "Ｆｉｎｎ、おはよう"),  # full-width Latin
    ("ko", "핀 씨, 안녕하세요"),
    ("ko", "핀씨 뭐해요?"),
    ("ko", "핀아 놀자"),
    ("ko", "Finn님 안녕하세요"),
    ("zh", "芬恩你好"),
    ("zh", "你好，芬恩！"),
    ("zh", "Finn你好"),
]

NOT_NAMED = [
    ("en", "Finnegan is here"),
    ("en", "Finnish weather"),
    ("es", "el finlandés"),
    ("pt", "A Finlândia é linda"),
    ("de", "Finnland ist schön"),
    ("fr", "La Finlande me manque"),
    ("pl", "Finlandia jest piękna"),
    ("ru", "Финнов много"),  # a longer Cyrillic word
    ("ja", "フィンランドに行きたい"),  # Finland
    ("ja", "グリフィンを見た"),  # griffin
    ("ja", "フィン語は難しい"),  # a Han character that is no honorific
    ("ko", "핀란드에 가고 싶어"),  # Finland
    ("zh", "我想去芬兰"),
    ("tr", "fincan çay"),
]


@pytest.mark.parametrize(("lang", "text"), NAMED)
def test_a_name_as_natives_write_it_names_the_character(lang: str, text: str) -> None:
    assert NameMatcher({"Finn", *ALIASES})(text), (lang, text)


@pytest.mark.parametrize(("lang", "text"), NOT_NAMED)
def test_a_longer_word_of_the_same_script_does_not(lang: str, text: str) -> None:
    assert not NameMatcher({"Finn", *ALIASES})(text), (lang, text)


def test_honorifics_and_suffixes_after_the_name_count() -> None:
    finn = NameMatcher({"Finn", "フィン", "핀"})
    for text in ("Finn-san, hello", "finn-kun!", "Finn-chan?", "Finn-sama",
                 "Finnさん", "Finnくん", "Finnちゃん", "Finn様", "Finn殿", "Finn氏", "Finn씨", "Finn님",
                 "フィンくん", "フィンちゃん", "フィン殿", "フィン氏", "핀님", "핀 님"):
        assert finn(text), text


def test_one_han_character_needs_a_boundary_and_two_do_not() -> None:
    dragon, fenn = NameMatcher({"龍"}), NameMatcher({"芬恩"})
    assert dragon("龍、おはよう") and dragon("龍様") and dragon("hi 龍")
    assert not dragon("恐龍がいる")  # dinosaur
    assert fenn("芬恩在吗") and fenn("我问芬恩")


def test_first_position_orders_names_in_any_script() -> None:
    cast = {"finn": {"フィン"}, "atlas": {"アトラス"}}
    assert addressed_order("フィンさん、アトラスさん、おはよう", cast) == ["finn", "atlas"]
    assert addressed_order("アトラス、フィン", cast) == ["atlas", "finn"]
    assert first_position("フィンランド", {"フィン"}) is None


def test_the_names_setting_gives_aliases_in_other_scripts(tmp_path: Path) -> None:
    folder = tmp_path / "finn"
    folder.mkdir()
    persona = load_persona(folder, {"core_prompt": "You are Finn.", "default_name": "Finn",
                                    "names": "フィン, 핀，芬恩、 Финн ,, フィン"})  # ，and 、 separate too
    assert persona.aliases == ALIASES
    names = CharacterNames(lambda: persona, set())
    assert set(ALIASES) <= names()
    assert names.matcher()("フィン、元気？") and not names.matcher()("フィンランド")
    plain = Persona(name="Finn", system_prompt="x")
    assert not CharacterNames(lambda: plain, set()).matcher()("フィン、元気？")


# --------------------------------------------------------------------------- over the wire


def votes(h: Harness) -> list[Any]:
    return h.claude.requests_for(VOTER)


async def test_a_channel_message_naming_it_in_any_language_is_answered_without_a_vote(
        make_harness: MakeHarness) -> None:
    h = await make_harness(names=", ".join(ALIASES), verbose_logging="true")
    said = ["Finn, how are you?", "Finn, ¿qué tal?", "Oi Finn! Tudo bem?", "Finn, wie geht's?",
            "Salut Finn, ça va ?", "Финн, как дела?", "Cześć Finn, co słychać?", "FİNN, nasılsın?",
            "Finnさん、お茶は何がいい？", "フィン、元気？", "핀 씨, 안녕하세요", "芬恩，你好！"]
    for n, text in enumerate(said, 1):
        await h.say(text)
        await h.replies(h.channel_id, n)
    assert votes(h) == []
    logged = [str(m["content"]) for m in h.discord.posted(LOG_CHANNEL_ID)]
    for text in said:
        [line] = [line for line in logged if f"“{text}”" in line]
        assert "name mentioned" in line, line


async def test_a_longer_word_goes_to_the_vote(make_harness: MakeHarness) -> None:
    h = await make_harness(names=", ".join(ALIASES), yes_no_vote_count="1", vote_window_seconds="0")
    h.claude.script("no", model=VOTER, times=3)
    await h.say("Finnegan went to the market")
    await h.claude.wait_for_requests(1, model=VOTER)
    await h.say("フィンランドに行きたいな")
    await h.claude.wait_for_requests(2, model=VOTER)
    await h.say("핀란드 여행 어땠어?")
    await h.claude.wait_for_requests(3, model=VOTER)
    assert [r for r in h.claude.requests if r.model != VOTER] == []
