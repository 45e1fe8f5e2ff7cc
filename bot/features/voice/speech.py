"""Voice messages, transport-free: hearing one (speech-to-text) and speaking a reply (text-to-speech plus
conversion to a Discord voice clip). The Discord side (which message is a voice message, the upload) is
bot/discord/voice.py.

A voice message is answered like text: its transcript, kept as ``[voice] <transcript>``, goes through the
reply pipeline. Without a speech-to-text backend the character says, in one line, that it cannot listen.

Every call to a speech server is paid for like a model call, and this service is its one owner: it asks the
spending limits first (past the whole bot's or the server's daily spend cap, or the person's token budget,
the call is not made: :class:`VoiceRefused`), then records it as an ``api_calls`` row (purpose
``transcription`` or ``speech``, the model, the person and server it was spent for, its cost, latency and
outcome) and tells the limits what it cost. Transcription is priced by the minute of audio
(``stt_usd_per_minute``), speech by the character spoken (``tts_usd_per_million_chars``). espeak-ng speaks
on this machine for nothing: it is neither asked about nor recorded.

A reply is spoken in the voice of its language (:meth:`VoiceService.voice_for`), told by bot/core/language.py
from the reply itself (or, when a short one does not tell, from what it answers, else from the language the
person's speech is expected in: :meth:`VoiceService.answered_language`): the operator's voice for
that language (``tts_voices``), else the character's own (``tts_voice``) where it speaks that language, else
on espeak-ng that language's espeak-ng voice with the character's variant (``+f3``...). espeak-ng reads
Chinese (``cmn``) but not Japanese kanji (it says "Chinese letter" for each): a Japanese reply is spoken only
by a voice the operator gave Japanese (a speech server's, ``ja=openai:NAME``), and stays text otherwise.

A transcription is told what to expect where the backend takes it (OpenAI-compatible servers: ``language``
and ``prompt``): the speaker's language (the one they write in, from their style profile) or the place's
(its /settings language), and the character's names, so a short clip is not heard as another language and
"Niña" or "ハナ" are spelled as the card spells them (:class:`Expectations`, the feature's).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from bot.core.language import detect
from bot.core.language import name as language_name
from bot.core.metrics import Metrics
from bot.features.voice.audio import (
    AudioError,
    VoiceClip,
    audio_seconds,
    espeak,
    missing_programs,
    to_call_pcm,
    to_voice_clip,
)
from bot.features.voice.config import LanguageVoice, VoiceSettings, parse_tts_voices

if TYPE_CHECKING:  # the SDK is imported when a client is first made: it takes seconds
    from openai import AsyncOpenAI

    from database.privacy import Privacy
    from database.usage import UsageLog

log = logging.getLogger(__name__)

VOICE_PREFIX = "[voice]"
UNHEARD_CONTENT = "[voice message]"  # a voice message nobody transcribed, as the log and history keep it
SILENCE = "(nothing could be made out)"
DEFAULT_OPENAI_VOICE = "alloy"
DEFAULT_ESPEAK_VOICE = "en"
# espeak-ng's voice for each language bot/core/language.py tells apart (``espeak-ng --voices``); Brazilian
# Portuguese, as Discord's pt locale is. Japanese has none: espeak-ng's ja reads kana and calls each kanji a
# "Chinese letter".
ESPEAK_VOICES = {"en": "en", "es": "es", "pt": "pt-br", "de": "de", "fr": "fr", "ru": "ru", "pl": "pl",
                 "tr": "tr", "ko": "ko", "zh": "cmn", "it": "it", "nl": "nl", "uk": "uk", "sv": "sv",
                 "cs": "cs", "id": "id", "vi": "vi", "ar": "ar"}
_ESPEAK_LANGUAGE = {"cmn": "zh", "yue": "zh", "hak": "zh"}  # espeak-ng voices named other than the language
MAX_SPOKEN_CHARS = 4000  # a voice message is no audiobook: longer replies are spoken up to here
TRANSCRIPTION = "transcription"  # the purposes of voice's api_calls rows
SPEECH = "speech"
_MARKUP = re.compile(r"[*_~`>#|]+")
# A roleplay action: *waves*, *sips her tea.* (one line; never a bold's ** nor a product's 2*3*4). Linear:
# a span starts only at a lone asterisk and its text holds none.
_ACTION = re.compile(r"(?<![\w*])\*(?![\s*])[^*\n]+\*(?![\w*])")
T = TypeVar("T")
# What goes without a program voice needs, by the setting that needs it.
_WITHOUT = {"voice_replies": "replies stay text only",
            "voice_channels": "answers in a call are posted, not spoken,"}


class VoiceUnavailable(Exception):
    """A transcription or a spoken reply failed (server, program or timeout); the text path goes on."""


class VoiceRefused(VoiceUnavailable):
    """A spending limit stopped a paid speech call before it was made (the limits log why, once a window)."""


class Expecting(Protocol):
    """What a transcription is told to expect (bot/features/voice/expecting.py's ``Expectations``)."""

    async def language(self, payer: Payer) -> str | None:
        """The language ``payer``'s speech is likely in (a two-letter code), or None: the server guesses."""

    def names(self) -> str:
        """The character's names, as a transcription prompt ("" for none)."""


class VoiceSpending(Protocol):
    """What voice asks of the spending limits (bot/operator/limits.py's SpendingLimits)."""

    async def paid_call_refusal(self, user_id: int | None, guild_id: int | None, place: int, *,
                                what: str) -> str | None:
        """Why a paid speech call (``what``) for ``user_id`` in ``guild_id`` (None: a DM), heard or spoken
        in channel ``place``, is not made; None: it may be."""

    def add_spend(self, guild_id: int | None, usd: float) -> None:
        """A call just cost ``usd`` for ``guild_id``."""


@dataclass(frozen=True)
class Payer:
    """Whom a speech call is spent for: the person (the one heard, or the one answered aloud), the server
    (None: a DM) and the channel (where a limit reached is noted, once)."""

    user_id: int | None = None
    guild_id: int | None = None
    channel_id: int = 0


NOBODY = Payer()  # a call made for no one in particular (a test's, a tool's): the whole bot's caps only


def transcript_content(transcript: str) -> str:
    """What a heard voice message is kept as: never empty, even for silence."""
    return f"{VOICE_PREFIX} {' '.join(transcript.split()) or SILENCE}"


def without_actions(text: str) -> str:
    """``text`` without its roleplay *actions*: what the character does is shown, never said."""
    return _ACTION.sub(" ", text)


def spoken_text(text: str) -> str:
    """A reply as it is read aloud: without its roleplay *actions* (a voice saying "waves" would read the
    stage directions out) and without Markdown marks ("" when nothing is left to say)."""
    return " ".join(_MARKUP.sub(" ", without_actions(text)).split())[:MAX_SPOKEN_CHARS]


class VoiceService:
    """The speech-to-text and text-to-speech backends chosen in settings (one per bot). ``voice``: the voice
    section (a reload reaches it); ``base_url`` and ``api_key``: the openai backend's (``openai_base_url``,
    ``openai_api_key``, read at start-up), for a voice server without a URL of its own. ``usage``: where
    each call is recorded; ``spending``: the limits asked before each call (None: neither, e.g. a tool's)."""

    def __init__(self, voice: VoiceSettings, *, base_url: str = "", api_key: str = "",
                 usage: UsageLog | None = None, spending: VoiceSpending | None = None,
                 metrics: Metrics | None = None, expecting: Expecting | None = None,
                 privacy: Privacy | None = None) -> None:
        """``privacy``: asked before a call's usage row names its person (None: always named)."""
        self.voice = voice
        self.privacy = privacy
        self.expecting = expecting  # what transcriptions are told to expect (None: nothing)
        self._voices: tuple[str, dict[str, LanguageVoice]] = ("", {})  # tts_voices, parsed once per value
        self.metrics = metrics  # each speech call's latency and cost, when metrics_port asks
        self.base_url = base_url
        self.api_key = api_key
        self.usage = usage
        self.spending = spending
        self._clients: dict[str, AsyncOpenAI] = {}  # by base URL
        self.checks: asyncio.Task[list[str]] | None = None  # start-up's check of the speech servers
        # Made now: importing the SDK takes seconds, which the first voice message should not wait for.
        if self.hears:
            self._client(voice.stt_base_url)
        if voice.voice_replies != "off" and (voice.tts_backend == "openai" or any(
                v.backend == "openai" for v in self.language_voices().values())):
            self._client(voice.tts_base_url)

    @property
    def hears(self) -> bool:
        return self.voice.stt_backend == "openai"

    def speaks_after(self, *, voice_message: bool) -> bool:
        """Whether a reply is also sent as a voice message (``voice_replies``)."""
        mode = self.voice.voice_replies
        return mode == "always" or (mode == "mirror" and voice_message)

    def startup_problems(self) -> list[str]:
        """One clear line per thing voice needs and lacks (logged at start-up, returned for tests): the
        programs voice replies and calls speak with, and, with voice channels on, a speech-to-text backend
        (bot/features/voice/setup.py says the rest a call needs)."""
        voice = self.voice
        needs: dict[str, list[str]] = {}  # program -> the settings that need it
        espeaks = voice.tts_backend == "espeak-ng" or any(
            v.backend == "espeak-ng" for v in self.language_voices().values())
        if voice.voice_replies != "off":
            for name in ["ffmpeg"] + (["espeak-ng"] if espeaks else []):
                needs.setdefault(name, []).append(f"voice_replies={voice.voice_replies}")
        if voice.voice_channels:
            # every answer said in a call is converted by ffmpeg, whoever synthesised it
            for name in ["ffmpeg"] + (["espeak-ng"] if espeaks else []):
                needs.setdefault(name, []).append("voice_channels=true")
        problems = []
        if voice.voice_channels and not self.hears:
            problems.append("voice_channels=true but stt_backend is empty: the character cannot listen in a "
                            "voice channel, so /voice join refuses to join; set stt_backend=openai and a "
                            "transcription server (stt_base_url)")
        for name in missing_programs(*needs):
            who = needs[name]
            verb = "needs" if len(who) == 1 else "need"
            without = " and ".join(_WITHOUT[setting.split("=")[0]] for setting in who)
            problems.append(f"{' and '.join(who)} {verb} {name}, which is not installed (Debian: apt-get "
                            f"install {name}); {without} until it is")
        for line in problems:
            log.warning(line)
        return problems

    def server(self, base_url: str) -> AsyncOpenAI:
        """The client of a speech server (``base_url`` empty: openai_base_url's), made once."""
        return self._client(base_url)

    def _client(self, base_url: str) -> AsyncOpenAI:
        url = base_url or self.base_url
        client = self._clients.get(url)
        if client is None:
            from openai import AsyncOpenAI

            client = AsyncOpenAI(api_key=self.api_key or "not-needed",
                                 base_url=url or None, max_retries=1,
                                 timeout=self.voice.voice_timeout)
            self._clients[url] = client
        return client

    async def transcribe(self, audio: bytes, filename: str, content_type: str, payer: Payer = NOBODY, *,
                         seconds: float | None = None) -> str:
        """The words of a voice message (``stt_backend=openai``: POST /audio/transcriptions), heard for
        ``payer``. ``seconds``: how long the audio lasts, when known (else read from it, for the price)."""
        if not self.hears:
            raise VoiceUnavailable("no speech-to-text backend (stt_backend)")
        mark = self._mark()
        await self._allowed(payer, "speech-to-text")
        client = self._client(self.voice.stt_base_url)
        model = self.voice.stt_model
        from openai import omit  # (the SDK is imported by now: the client is made)

        # What the server is told to expect, where something is known (omitted, it guesses).
        language, names = (await self.expecting.language(payer), self.expecting.names()) \
            if self.expecting is not None else (None, "")
        try:
            async with asyncio.timeout(self.voice.voice_timeout):
                result = await self._metered(TRANSCRIPTION, model, payer, mark,
                                             client.audio.transcriptions.create(
                                                 model=model, file=(filename, audio, content_type),
                                                 language=language or omit, prompt=names or omit))
        except TimeoutError:
            seconds = self.voice.voice_timeout
            raise VoiceUnavailable(f"transcription timed out after {seconds:g}s") from None
        except Exception as exc:  # the SDK's errors: the server said no, or could not be reached
            raise VoiceUnavailable(f"transcription failed at {client.base_url}: {exc}") from exc
        value, latency = result
        if seconds is None:
            seconds = await audio_seconds(audio)
            if seconds is None:
                log.warning("the length of a transcribed %s is unknown: the call is recorded unpriced",
                            content_type)
        minutes = (seconds or 0.0) / 60
        await self._record(TRANSCRIPTION, model, payer, mark, latency,
                           cost=minutes * self.voice.stt_usd_per_minute)
        return str(getattr(value, "text", "") or "")

    def language_voices(self) -> dict[str, LanguageVoice]:
        """``tts_voices`` by language (read again when a reload changed it)."""
        raw = self.voice.tts_voices
        if raw != self._voices[0]:
            self._voices = (raw, parse_tts_voices(raw))
        return self._voices[1]

    def voice_for(self, language: str | None) -> tuple[str, str]:
        """(backend, voice) of a reply in ``language`` (None: one that does not tell). VoiceUnavailable when
        nothing configured speaks it (Japanese on espeak-ng without a voice of its own)."""
        settings = self.voice
        chosen = self.language_voices().get(language) if language else None
        if chosen is not None:
            return chosen.backend or settings.tts_backend, chosen.name
        if settings.tts_backend == "openai":  # a speech server's voices speak the languages its model does
            return "openai", settings.tts_voice or DEFAULT_OPENAI_VOICE
        own = settings.tts_voice or DEFAULT_ESPEAK_VOICE
        base, plus, variant = own.partition("+")
        if language is None or espeak_language(base) == language:
            return "espeak-ng", own
        voice = ESPEAK_VOICES.get(language)
        if voice is None:
            raise VoiceUnavailable(
                f"a reply in {language_name(language) or language} is not spoken: espeak-ng has no voice "
                f"that reads it; give it one of a speech server (tts_voices={language}=openai:VOICE)")
        return "espeak-ng", voice + plus + variant

    async def speak(self, text: str, payer: Payer = NOBODY, *, answering: str = "") -> VoiceClip:
        """A reply as a voice clip, in the character's voice for the reply's language, spoken for ``payer``.
        ``answering``: the words it answers, whose language is taken when the reply is too short to tell."""
        words = spoken_text(text)
        if not words:
            raise VoiceUnavailable("nothing to say aloud")
        voice = self.voice_for(detect(words) or await self.answered_language(answering, payer))
        try:
            async with asyncio.timeout(self.voice.voice_timeout):
                audio = await self._synthesize(words, payer, voice)
                return await to_voice_clip(audio)
        except TimeoutError:
            raise VoiceUnavailable(f"speech timed out after {self.voice.voice_timeout:g}s") from None
        except AudioError as exc:
            raise VoiceUnavailable(str(exc)) from exc

    async def answered_language(self, answering: str, payer: Payer) -> str | None:
        """The language of a reply too short to tell its own ("Ja, gern.", "Oui !"): that of the words it
        answers (a transcript without its ``[voice]`` mark), else the one ``payer``'s speech is expected in
        (their writing's, the place's /settings language); None: the character's own voice."""
        if (code := detect(spoken_text(answering.removeprefix(VOICE_PREFIX)))) is not None:
            return code
        return await self.expecting.language(payer) if self.expecting is not None else None

    async def speak_in_call(self, text: str, payer: Payer = NOBODY, *, language: str | None = None) -> bytes:
        """A reply as a voice channel plays it (48 kHz 16-bit stereo PCM), in the character's voice for
        ``language`` (None: the language ``text`` is written in)."""
        words = spoken_text(text)
        if not words:
            raise VoiceUnavailable("nothing to say aloud")
        voice = self.voice_for(language or detect(words))
        try:
            async with asyncio.timeout(self.voice.voice_timeout):
                return await to_call_pcm(await self._synthesize(words, payer, voice))
        except TimeoutError:
            raise VoiceUnavailable(f"speech timed out after {self.voice.voice_timeout:g}s") from None
        except AudioError as exc:
            raise VoiceUnavailable(str(exc)) from exc

    async def _synthesize(self, words: str, payer: Payer, chosen: tuple[str, str]) -> bytes:
        backend, voice = chosen
        if backend == "espeak-ng":
            return await espeak(words, voice)  # local and free: not metered
        mark = self._mark()
        await self._allowed(payer, "text-to-speech")
        client = self._client(self.voice.tts_base_url)
        model = self.voice.tts_model
        try:
            # WAV: every speech server can make it, and ffmpeg turns it into the Opus Discord wants.
            response, latency = await self._metered(SPEECH, model, payer, mark, client.audio.speech.create(
                model=model, input=words, voice=voice, response_format="wav"))
        except Exception as exc:  # the SDK's errors
            raise AudioError(f"speech failed at {client.base_url}: {exc}") from exc
        await self._record(SPEECH, model, payer, mark, latency,
                           cost=len(words) * self.voice.tts_usd_per_million_chars / 1_000_000)
        return bytes(response.content)

    # -- metering

    async def _allowed(self, payer: Payer, what: str) -> None:
        """Raises VoiceRefused when the spending limits stop a call for ``payer``."""
        if self.spending is None:
            return
        reason = await self.spending.paid_call_refusal(payer.user_id, payer.guild_id, payer.channel_id,
                                                       what=what)
        if reason is not None:
            raise VoiceRefused(f"{what} not called: {reason}")

    def _mark(self) -> int | None:
        """Taken as a call begins: a /forget_me of its person after it, and its usage row names no one."""
        return self.privacy.mark() if self.privacy is not None else None

    async def _metered(self, purpose: str, model: str, payer: Payer, mark: int | None,
                       request: Awaitable[T]) -> tuple[T, float]:
        """``request``'s answer and how long it took (ms); a failed one (an error, a timeout) is recorded
        here, unpriced (a successful one by the caller, once its price is known)."""
        started = time.perf_counter()
        try:
            value = await request
        except asyncio.CancelledError:  # voice_timeout ran out (or the bot is stopping)
            await self._record(purpose, model, payer, mark, _since(started), error="timed out or cancelled")
            raise
        except Exception as exc:
            await self._record(purpose, model, payer, mark, _since(started),
                               error=str(exc) or type(exc).__name__)
            raise
        return value, _since(started)

    async def _record(self, purpose: str, model: str, payer: Payer, mark: int | None, latency: float, *,
                      cost: float = 0.0, error: str = "") -> None:
        """One speech call as an api_calls row (no tokens: its price is its cost), and its cost told to the
        limits' running sums. A failure to record is only logged: accounting never stops a voice. Written
        about its person (database/privacy.py ``writing_about``, ``mark``: taken as the call began): a
        /forget_me begun since leaves the cost in the totals and no id on it; one that begins while the row
        is written waits for it, then takes the id off with the rest."""
        if self.usage is not None:
            usage = self.usage

            async def write(user_id: int | None) -> None:
                await usage.record(user_id=user_id, guild_id=payer.guild_id, purpose=purpose, model=model,
                                   input_tokens=0, output_tokens=0, cache_creation_tokens=0,
                                   cache_read_tokens=0, cost=cost, latency_ms=latency, ok=not error,
                                   error=error)

            try:
                if self.privacy is None or payer.user_id is None or mark is None:
                    await write(payer.user_id)
                else:
                    async with self.privacy.writing_about(payer.user_id, mark) as named:
                        await write(payer.user_id if named else None)
            except Exception:
                log.exception("could not record a %s call's usage", purpose)
        if cost and self.spending is not None:
            self.spending.add_spend(payer.guild_id, cost)
        if self.metrics is not None:
            self.metrics.voice_call(purpose=purpose, model=model, latency_ms=latency, cost=cost, error=error)

    async def close(self) -> None:
        if self.checks is not None:
            self.checks.cancel()
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def espeak_language(voice: str) -> str:
    """The language an espeak-ng voice speaks, as bot/core/language.py codes it (``en-gb`` → en)."""
    code = voice.strip().lower().split("-")[0]
    return _ESPEAK_LANGUAGE.get(code, code)


def _since(started: float) -> float:
    """Milliseconds from ``started`` (a perf_counter reading) to now."""
    return (time.perf_counter() - started) * 1000
