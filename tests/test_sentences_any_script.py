"""Replies in any script are cut into sentences where their writers end them (bot/core/text.py
SENTENCE_END): a Japanese or Chinese 。！？ ends a sentence with no space after it, as ". " does in
English, so a Japanese reply is split, streamed and spoken a sentence at a time like an English one; and
an emote glued to CJK text is still an emote (bot/alive/emotes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.alive.emotes import Emote, EmoteSet, render
from bot.core.text import cut_at_sentence
from bot.discord.voicechat.talk import sentences
from bot.reply.delivery import complete_sentences
from bot.reply.splitting import split_message
from tests.fakes.claude_server import Reply
from tests.harness import CHANNEL_ID, USER_ID, Harness
from tests.test_voice import needs_audio_tools, speech_requests
from tests.test_voice_talk import in_the_call
from tests.voice_support import VOICE_ID, speech, voice_harness

REPLY_MODEL = "claude-test-default"

# One reply of three sentences, in each language as its writers punctuate it.
THREE = {
    "en": ["Hello there.", "How are you?", "The tea is ready!"],
    "es": ["Hola.", "¿Qué tal?", "¡El té está listo!"],
    "de": ["Hallo.", "Wie geht's?", "Der Tee ist fertig!"],
    "ru": ["Привет.", "Как дела?", "Чай готов!"],
    "ko": ["안녕하세요.", "잘 지내요?", "차가 준비됐어요!"],
    "ja": ["こんにちは。", "元気ですか？", "お茶ができましたよ！"],
    "zh": ["你好。", "你好吗？", "茶准备好了！"],
}


def joined(lang: str) -> str:
    return ("" if lang in ("ja", "zh") else " ").join(THREE[lang])


@pytest.mark.parametrize("lang", THREE)
def test_a_reply_is_spoken_a_sentence_at_a_time_in_any_language(lang: str) -> None:
    assert sentences(joined(lang)) == THREE[lang]


@pytest.mark.parametrize("lang", THREE)
def test_a_streamed_reply_shows_its_complete_sentences_in_any_language(lang: str) -> None:
    text = joined(lang)
    half = text[:-3]  # the last sentence still being written
    assert complete_sentences(half) == ("" if lang in ("ja", "zh") else " ").join(THREE[lang][:2])


@pytest.mark.parametrize("lang", THREE)
def test_a_long_reply_is_split_at_sentences_in_any_language(lang: str) -> None:
    text = (" " if lang not in ("ja", "zh") else "").join([joined(lang)] * 200)
    parts = split_message(text, 500)
    assert len(parts) > 1 and all(len(p) <= 500 for p in parts)
    assert all(p.endswith((".", "?", "!", "。", "？", "！")) for p in parts), [p[-5:] for p in parts]
    assert cut_at_sentence(text, 100).endswith((".", "?", "!", "。", "？", "！"))


def test_a_quote_a_particle_goes_on_from_is_not_a_sentence_end() -> None:
    assert sentences("「元気？」と聞いた。そうだね") == ["「元気？」と聞いた。", "そうだね"]
    assert sentences("「元気？」今日は晴れ。") == ["「元気？」", "今日は晴れ。"]
    assert sentences("*waves.* Hi there.") == ["*waves.*", "Hi there."]
    assert sentences("3.14 is pi. 元気?今日は") == ["3.14 is pi.", "元気?", "今日は"]
    assert complete_sentences("そうか……今日は雨") == ""  # an ellipsis inside a Japanese sentence


def test_an_emote_glued_to_cjk_text_is_still_an_emote() -> None:
    server = EmoteSet([Emote("pog", 123), Emote("finnwave", 456, animated=True)])
    assert render("ありがとう:heart:", server) == "ありがとう❤️"
    assert render("元気？:pog:", server) == "元気？<:pog:123>"
    assert render("你好:finnwave:朋友", server) == "你好<a:finnwave:456>朋友"
    assert render("좋아요:smile:", server) == "좋아요😄"
    assert render("わーい<:pog:123>", server) == "わーい<:pog:123>"
    assert render("漢字:nope:です", server) == "漢字です"  # unknown: dropped, as in English
    # Still not an emote inside a Latin word or a time.
    assert render("word:smile:x at 10:30:00", server) == "word:smile:x at 10:30:00"
    assert render("Hola :smile: amigo", server) == "Hola 😄 amigo"


# --------------------------------------------------------------------------- over the wire

JAPANESE = ("潮だまりは夜明けが一番きれいです。" * 3 + "濡れてもいい靴を持ってきてね！" * 3
            + "カニたちが先にいたんだから。" * 3)


async def test_a_japanese_reply_is_streamed_a_sentence_first(make_harness: Any) -> None:
    h: Harness = await make_harness(reply_delivery="streamed", stream_edit_interval=0.2)
    h.claude.chunk_size = 7
    h.claude.script(Reply(JAPANESE, stream_delay=0.01), model=REPLY_MODEL)
    await h.say("Finnさん、潮だまりってどう？")
    [reply] = await h.replies(CHANNEL_ID)
    await h.discord.wait_for(lambda d: d.messages[int(reply["id"])]["content"] == JAPANESE,
                             what="the final edit")
    first = next(r for r in h.discord.requests if r.method == "POST" and r.path.endswith("/messages")
                 and r.body and "潮" in str(r.body.get("content", "")))
    shown_first = first.body["content"]
    assert JAPANESE.startswith(shown_first) and len(shown_first) < len(JAPANESE)
    assert shown_first.endswith(("。", "！"))  # whole sentences, posted before the rest was written


@pytest.fixture
async def calls(db_url: str, tmp_path: Path) -> AsyncIterator[list[Harness]]:
    made: list[Harness] = []
    yield made
    for h in made:
        await h.close()


@needs_audio_tools
async def test_a_japanese_answer_in_a_call_is_spoken_a_sentence_at_a_time(
        calls: list[Harness], db_url: str, tmp_path: Path) -> None:
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true",
                            tts_backend="openai")
    calls.append(h)
    assert h.discord.voice is not None and h.bot is not None
    answer = joined("ja")
    h.claude.script(answer)
    await in_the_call(h, USER_ID)
    await h.discord.voice.speak(USER_ID, speech("Finn, what tea would you make me?"))
    [posted] = await h.discord.wait_for_messages(VOICE_ID, 1)
    await h.discord.wait_for(lambda _: posted["content"] == answer, what="the answer posted whole")
    await h.bot.in_flight.drain()
    assert [x.fields["input"] for x in speech_requests(h)] == THREE["ja"]  # a speech call per sentence

