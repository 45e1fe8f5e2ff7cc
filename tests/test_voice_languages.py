"""Voice in the person's language, over the wire: a reply is spoken in the voice of the language it is
written in (what Discord receives is that voice's audio; what the fake speech server is asked names the
voice), and a transcription is told the language to expect and the character's names (what the fake
transcription server receives). ffmpeg and espeak-ng do the real audio work, as in tests/test_voice.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.core.config import load_settings
from bot.core.errors import ConfigError
from bot.core.i18n import language_named, language_written
from bot.features.voice.audio import espeak, to_voice_clip
from bot.features.voice.config import LanguageVoice, parse_tts_voices
from bot.features.voice.speech import spoken_text
from tests.harness import CHANNEL_ID, GUILD_ID, USER_ID, MakeHarness, check, eventually
from tests.test_voice import OGG, needs_audio_tools, speech_requests, voice_posts
from tests.test_voice_talk import in_the_call
from tests.voice_support import speech, voice_harness

SPANISH = "¡Claro que sí! El té de algas estará listo en dos minutos, siéntate y espera un poco."
ENGLISH = "Of course! The kelp tea will be ready in two minutes, sit down and wait a little."
JAPANESE = "もちろん！昆布茶はあと二分でできるよ。座って少し待っていてね。"


async def spoken_as(text: str, voice: str) -> tuple[float, str]:
    """(duration, waveform) of ``text`` read by the espeak-ng voice ``voice``, as a voice message has them."""
    clip = await to_voice_clip(await espeak(spoken_text(text), voice))
    return clip.duration, clip.waveform


def transcriptions(h: object) -> list[dict[str, str]]:
    return [x.fields for x in h.openai.heard if x.path == "/v1/audio/transcriptions"]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- speaking


@needs_audio_tools
async def test_a_reply_spoken_in_spanish_uses_a_spanish_voice(make_harness: MakeHarness) -> None:
    h = await make_harness(voice_replies="always", tts_voice="en-gb+f3")
    h.claude.script(SPANISH, model="claude-test-default")
    await h.say("¿está listo el té?", mention=True)
    text, voice = await h.replies(CHANNEL_ID, 2)
    assert text["content"] == SPANISH
    [attachment] = voice["attachments"]
    heard = (attachment["duration_secs"], attachment["waveform"])
    # What Discord was sent is espeak-ng's Spanish voice, with the character's variant (+f3) kept...
    assert heard == await spoken_as(SPANISH, "es+f3")
    # ...not the character's English voice reading Spanish words.
    assert heard != await spoken_as(SPANISH, "en-gb+f3")
    assert h.openai.heard == []


@needs_audio_tools
async def test_an_english_reply_keeps_the_characters_own_voice(make_harness: MakeHarness) -> None:
    h = await make_harness(voice_replies="always", tts_voice="en-gb+f3")
    h.claude.script(ENGLISH, model="claude-test-default")
    await h.say("is the tea ready?", mention=True)
    _text, voice = await h.replies(CHANNEL_ID, 2)
    [attachment] = voice["attachments"]
    assert (attachment["duration_secs"], attachment["waveform"]) == await spoken_as(ENGLISH, "en-gb+f3")


@needs_audio_tools
async def test_a_voice_per_language_from_tts_voices(make_harness: MakeHarness) -> None:
    """Japanese goes to the speech server the operator named for it; Spanish to the espeak-ng voice named."""
    h = await make_harness(voice_replies="always", tts_model="kokoro",
                           tts_voices="ja=openai:jf_alpha, es=espeak-ng:es-419")
    h.claude.script(JAPANESE, model="claude-test-default")
    await h.say("お茶はまだ？", mention=True)
    await h.replies(CHANNEL_ID, 2)
    [speech] = speech_requests(h)
    assert speech.fields == {"model": "kokoro", "input": JAPANESE, "voice": "jf_alpha",
                             "response_format": "wav"}
    h.claude.script(SPANISH, model="claude-test-default")
    await h.say("¿y el té?", mention=True)
    _text, voice = (await h.replies(CHANNEL_ID, 4))[2:]
    [attachment] = voice["attachments"]
    assert (attachment["duration_secs"], attachment["waveform"]) == await spoken_as(SPANISH, "es-419")
    assert len(speech_requests(h)) == 1  # the Spanish reply was spoken locally


@needs_audio_tools
async def test_japanese_without_a_voice_stays_text_and_says_what_to_set(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    """espeak-ng reads every kanji as "Chinese letter": no voice is better than that one."""
    caplog.set_level(logging.WARNING)
    h = await make_harness(voice_replies="always")
    h.claude.script(JAPANESE, model="claude-test-default")
    await h.say("お茶はまだ？", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == JAPANESE
    await eventually(check(lambda: "tts_voices=ja=openai:VOICE" in caplog.text), "the line of what to set")
    await h.settled()
    assert voice_posts(h, CHANNEL_ID) == [] and h.openai.heard == []


@pytest.mark.parametrize(("language", "written", "answer", "voice"), [
    ("de", ("hallo Finn, wie geht es dir heute?", "ich hätte gern einen Tee mit Honig"), "Ja, gern.",
     "df_anna"),
    ("fr", ("salut Finn, comment vas-tu aujourd'hui ?", "je voudrais bien un thé avec du miel"), "Oui !",
     "ff_siwis"),
])
async def test_a_short_answer_to_a_voice_message_is_said_in_the_persons_language(
        make_harness: MakeHarness, language: str, written: tuple[str, str], answer: str, voice: str) -> None:
    """A reply too short to tell its language ("Ja, gern.", "Oui !") to a voice message too short to tell
    one ("Finn, na?") is said in the voice of the language the person writes in, not the character's own."""
    h = await make_harness(voice_replies="mirror", stt_backend="openai", tts_backend="openai",
                           tts_voice="alloy", tts_voices=f"{language}={voice}")
    for line in written:
        await h.dm(line)
        await h.settled()

    async def known() -> bool | None:
        return language_written(await h.store.style.get(USER_ID), any_known=True) == language or None
    await eventually(known, "the person's language")
    h.openai.transcript = "Finn, na?"
    h.claude.script(answer, model="claude-test-default")
    await h.discord.voice_message(USER_ID, OGG)
    await eventually(check(lambda: speech_requests(h)), "the reply spoken")
    assert [(r.fields["input"], r.fields["voice"]) for r in speech_requests(h)] == [(answer, voice)]


# --------------------------------------------------------------------------- hearing


async def test_a_transcription_is_told_the_speakers_language_and_the_names(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai", names="Fín, フィン")
    for line in ("hola, ¿qué tal estás hoy?", "me gustaría tomar un té de algas contigo"):
        await h.dm(line)
        await h.settled()

    async def spanish() -> bool | None:
        return language_written(await h.store.style.get(USER_ID), any_known=True) == "es" or None
    await eventually(spanish, "Spanish as the person's language")
    await h.discord.voice_message(USER_ID, OGG)
    await eventually(check(lambda: transcriptions(h)), "the transcription request")
    [fields] = transcriptions(h)
    assert fields["language"] == "es" and fields["prompt"] == "Finn, Fín, フィン"


async def test_a_transcription_in_a_server_is_told_its_settings_language(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai")
    await h.store.servers.update(GUILD_ID, language="German")
    await h.discord.voice_message(USER_ID, OGG, channel_id=CHANNEL_ID)
    await eventually(check(lambda: transcriptions(h)), "the transcription request")
    [fields] = transcriptions(h)
    assert fields["language"] == "de" and fields["prompt"] == "Finn"


async def test_with_nothing_known_the_server_guesses(make_harness: MakeHarness) -> None:
    h = await make_harness(stt_backend="openai")
    sent = await h.discord.voice_message(USER_ID, OGG)
    await h.replies(int(sent["channel_id"]))
    [fields] = transcriptions(h)
    assert "language" not in fields and fields["prompt"] == "Finn"


# --------------------------------------------------------------------------- the settings


def test_tts_voices_is_read_and_its_mistakes_named(tmp_path: Path) -> None:
    assert parse_tts_voices(" es=es-419, ja=openai:nova ,zh=espeak-ng:yue") == {
        "es": LanguageVoice("", "es-419"), "ja": LanguageVoice("openai", "nova"),
        "zh": LanguageVoice("espeak-ng", "yue")}
    for bad, said in (("es", "LANGUAGE=VOICE"), ("spanish=es", "not a language code"),
                      ("ja=openai:", "no voice after openai")):
        with pytest.raises(ValueError, match=said):
            parse_tts_voices(bad)
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "character.env").write_text('default_name="Mia"\ncore_prompt="You are Mia."\n'
                                          "tts_voices=klingon=tlh\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="tts_voices"):
        load_settings(folder, None, environ={"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "y"})


def test_a_settings_language_is_a_code() -> None:
    assert [language_named(x, any_known=True) for x in ("Spanish", "german", "ja", "", None, "Klingon",
                                                          "Italian", "Spanish (Spain)")] == [
        "es", "de", "ja", None, None, None, "it", "es"]
    assert language_named("Italian") is None  # Kindred's own lines have no Italian catalog


# --------------------------------------------------------------------------- in a call


async def test_a_spanish_answer_in_a_call_keeps_its_spanish_voice(db_url: str, tmp_path: Path) -> None:
    """Each sentence of a call's answer is spoken as it is written: a short one that tells no language alone
    ("¡Sí!") keeps the voice of the answer's language. The member's words were heard as the server's
    language (Spanish, its /settings) with the character's names."""
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true",
                            tts_backend="openai", tts_voice="alloy", tts_voices="es=ef_dora")
    try:
        await h.store.servers.update(GUILD_ID, language="Spanish")
        h.openai.transcript = "Finn, ¿qué té me vas a preparar?"
        h.claude.script("Te preparo una manzanilla con un poco de miel. ¡Sí!")
        await in_the_call(h, USER_ID)
        voice = h.discord.voice
        assert voice is not None
        await voice.speak(USER_ID, speech("Finn, what tea would you make me?"))
        await voice.wait_for(lambda _: len(speech_requests(h)) >= 2, what="both sentences spoken")
        assert [r.fields["input"] for r in speech_requests(h)] == [
            "Te preparo una manzanilla con un poco de miel.", "¡Sí!"]
        assert [r.fields["voice"] for r in speech_requests(h)] == ["ef_dora", "ef_dora"]
        [heard] = transcriptions(h)
        assert heard["language"] == "es" and heard["prompt"] == "Finn"
    finally:
        await h.close()


@pytest.mark.parametrize(("language", "said", "answer", "voice"), [
    ("de", "Finn, welchen Tee machst du mir heute?",
     ("Ja, gern.", "Ich mache dir einen Kamillentee mit etwas Honig und Zitrone."), "df_anna"),
    ("fr", "Finn, quel thé vas-tu me préparer aujourd'hui ?",
     ("Oui !", "Je te prépare une camomille avec un peu de miel et de citron."), "ff_siwis"),
])
async def test_a_short_first_sentence_in_a_call_is_said_in_the_members_language(
        db_url: str, tmp_path: Path, language: str, said: str, answer: tuple[str, str], voice: str) -> None:
    """An answer's first sentence too short to tell its language ("Ja, gern.", "Oui !") is said in the voice
    of the language the member spoke, not in the character's own (English) voice, then the rest in it too."""
    h = await voice_harness(db_url, tmp_path, dave=False, stt_backend="openai", voice_channels="true",
                            tts_backend="openai", tts_voice="alloy", tts_voices=f"{language}={voice}")
    try:
        h.openai.transcript = said
        h.claude.script(" ".join(answer))
        await in_the_call(h, USER_ID)
        call = h.discord.voice
        assert call is not None
        await call.speak(USER_ID, speech("Finn, what tea would you make me?"))
        await call.wait_for(lambda _: len(speech_requests(h)) >= 2, what="both sentences spoken")
        assert [r.fields["input"] for r in speech_requests(h)] == list(answer)
        assert [r.fields["voice"] for r in speech_requests(h)] == [voice, voice]
    finally:
        await h.close()
