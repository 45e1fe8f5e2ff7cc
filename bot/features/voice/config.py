"""The voice feature's section of config.env, voice messages and calls (named in its ``FEATURE``; read as
``settings.section(VoiceSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key, parsed_by
from bot.core.i18n import N_
from bot.core.language import NAMES

BACKENDS = ("espeak-ng", "openai")


@dataclass(frozen=True)
class LanguageVoice:
    """The voice of replies in one language (``tts_voices``): ``backend`` "" is tts_backend's."""

    backend: str
    name: str


def parse_tts_voices(text: str) -> dict[str, LanguageVoice]:
    """``es=es-419, ja=openai:nova`` as {language: voice}; ValueError naming what is wrong."""
    voices: dict[str, LanguageVoice] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        language, sep, voice = (piece.strip() for piece in item.partition("="))
        language = language.lower()
        if not sep or not voice:
            raise ValueError(f"expected LANGUAGE=VOICE, got {item!r}")
        if language not in NAMES:
            raise ValueError(f"not a language code Kindred tells apart: {language!r} (one of "
                             f"{', '.join(sorted(NAMES))})")
        backend, colon, name = voice.partition(":")
        if colon and backend.lower() in BACKENDS:
            if not name.strip():
                raise ValueError(f"no voice after {backend}: in {item!r}")
            voices[language] = LanguageVoice(backend.lower(), name.strip())
        else:
            voices[language] = LanguageVoice("", voice)
    return voices


@dataclass(frozen=True)
class VoiceSettings:
    """Voice messages heard and spoken, and calls in voice channels (bot/features/voice/)."""

    TITLE: ClassVar[str] = "Voice messages and calls"
    stt_backend: str = key(
        "", "Speech-to-text for received voice messages: openai (an OpenAI-compatible /audio/transcriptions "
        "server, e.g. a local whisper server) or empty (the character says it cannot listen).",
        choices=("", "openai"))
    stt_base_url: str = key("", "Base URL of the transcription server; empty: openai_base_url.")
    stt_model: str = key("whisper-1", "Transcription model.")
    stt_usd_per_minute: float = key(
        0.006, "Price of transcription (USD per minute of audio heard: voice messages and members' speech in "
        "a voice channel), recorded with each call and counted by the daily spend caps; 0 for a free, local "
        "server.", min=0)
    voice_replies: str = key(
        "off", "Also send replies as Discord voice messages: off, mirror (only in answer to a voice message) "
        "or always.", choices=("off", "mirror", "always"))
    tts_backend: str = key(
        "espeak-ng", "Text-to-speech for voice replies: espeak-ng (local, Debian package) or openai (an "
        "OpenAI-compatible /audio/speech server).", choices=("espeak-ng", "openai"))
    tts_base_url: str = key("", "Base URL of the speech server; empty: openai_base_url.")
    tts_model: str = key("tts-1", "Speech model (openai tts_backend).")
    tts_usd_per_million_chars: float = key(
        15.0, "Price of speech (USD per million characters spoken, openai tts_backend), recorded with each "
        "call and counted by the daily spend caps; 0 for a free, local server (espeak-ng is never "
        "charged).", min=0)
    tts_voice: str = key(
        "", "The character's voice (set it in character.env): an openai voice name (empty: alloy) or an "
        "espeak-ng voice (empty: en). On espeak-ng a reply in another language is read by that language's "
        "espeak-ng voice, with this voice's variant (+f3...).")
    tts_voices: str = key(
        "", "Comma-separated LANGUAGE=VOICE: the voice of a reply written in that language (a two-letter "
        "code, e.g. es=es-419, ja=openai:nova). VOICE is a voice of tts_backend, or openai:NAME for the "
        "speech server (tts_base_url, tts_model) or espeak-ng:NAME, whatever tts_backend is. Japanese needs "
        "one: espeak-ng cannot read kanji.", check=parsed_by(parse_tts_voices))
    voice_timeout: float = key(
        30.0, "Seconds for one voice message's download, one transcription, or one spoken reply (synthesis "
        "and conversion).", above=0)
    max_voice_bytes: int = key(
        25 * 1024 * 1024, "Largest voice message (bytes) downloaded to be transcribed (25 MB: OpenAI's limit "
        "for one transcription); a larger one is not heard.", above=0)
    voice_unheard_reply: str = key(
        N_("*{name} tilts their head.* I can't listen to voice messages, sorry. Could you type it?"),
        "What the character says to a voice message it cannot transcribe ({name} is the character's "
        "name). Unset, it is said in the language the person writes in; set, as written.")
    voice_channels: bool = key(
        False, "Let people call the character into a voice channel (/voice join); server admins may turn "
        "it on or off for their server (/bot voice). It listens only with a speech-to-text backend "
        "(stt_backend).")
    voice_idle_seconds: float = key(
        60.0, "Seconds the character stays in a voice channel nobody else is in before it leaves.",
        above=0)
    voice_utterance_seconds: float = key(
        15.0, "Longest stretch of one member's speech in a voice channel transcribed as one message.",
        above=0)
