"""Voice messages, transport-free: hearing one (speech-to-text) and speaking a reply (text-to-speech plus
conversion to a Discord voice clip). The Discord side (which message is a voice message, the upload) is
bot/discord/voice.py.

A voice message is answered like text: its transcript, kept as ``[voice] <transcript>``, goes through the
reply pipeline. Without a speech-to-text backend the character says, in one line, that it cannot listen.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from bot.core.config import VoiceSettings
from bot.runtime.audio import AudioError, VoiceClip, espeak, missing_programs, to_call_pcm, to_voice_clip

if TYPE_CHECKING:  # the SDK is imported when a client is first made: it takes seconds
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

VOICE_PREFIX = "[voice]"
UNHEARD_CONTENT = "[voice message]"  # a voice message nobody transcribed, as the log and history keep it
SILENCE = "(nothing could be made out)"
DEFAULT_OPENAI_VOICE = "alloy"
DEFAULT_ESPEAK_VOICE = "en"
MAX_SPOKEN_CHARS = 4000  # a voice message is no audiobook: longer replies are spoken up to here
_MARKUP = re.compile(r"[*_~`>#|]+")


class VoiceUnavailable(Exception):
    """A transcription or a spoken reply failed (server, program or timeout); the text path goes on."""


def transcript_content(transcript: str) -> str:
    """What a heard voice message is kept as: never empty, even for silence."""
    return f"{VOICE_PREFIX} {' '.join(transcript.split()) or SILENCE}"


def spoken_text(text: str) -> str:
    """A reply as it is read aloud: without Markdown marks (roleplay *actions* keep their words)."""
    return " ".join(_MARKUP.sub(" ", text).split())[:MAX_SPOKEN_CHARS]


class VoiceService:
    """The speech-to-text and text-to-speech backends chosen in settings (one per bot). ``voice``: the voice
    section (a reload reaches it); ``base_url`` and ``api_key``: the openai backend's (``openai_base_url``,
    ``openai_api_key``, read at start-up), for a voice server without a URL of its own."""

    def __init__(self, voice: VoiceSettings, *, base_url: str = "", api_key: str = "") -> None:
        self.voice = voice
        self.base_url = base_url
        self.api_key = api_key
        self._clients: dict[str, AsyncOpenAI] = {}  # by base URL
        # Made now: importing the SDK takes seconds, which the first voice message should not wait for.
        if self.hears:
            self._client(voice.stt_base_url)
        if voice.voice_replies != "off" and voice.tts_backend == "openai":
            self._client(voice.tts_base_url)

    @property
    def hears(self) -> bool:
        return self.voice.stt_backend == "openai"

    def speaks_after(self, *, voice_message: bool) -> bool:
        """Whether a reply is also sent as a voice message (``voice_replies``)."""
        mode = self.voice.voice_replies
        return mode == "always" or (mode == "mirror" and voice_message)

    def startup_problems(self) -> list[str]:
        """One clear line per program voice needs and lacks (logged at start-up, returned for tests)."""
        if self.voice.voice_replies == "off":
            return []
        needed = ["ffmpeg"] + (["espeak-ng"] if self.voice.tts_backend == "espeak-ng" else [])
        problems = [f"voice_replies={self.voice.voice_replies} needs {name}, which is not installed "
                    f"(Debian: apt-get install {name}); replies stay text only until it is"
                    for name in missing_programs(*needed)]
        for line in problems:
            log.warning(line)
        return problems

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

    async def transcribe(self, audio: bytes, filename: str, content_type: str) -> str:
        """The words of a voice message (``stt_backend=openai``: POST /audio/transcriptions)."""
        if not self.hears:
            raise VoiceUnavailable("no speech-to-text backend (stt_backend)")
        client = self._client(self.voice.stt_base_url)
        try:
            async with asyncio.timeout(self.voice.voice_timeout):
                result = await client.audio.transcriptions.create(
                    model=self.voice.stt_model, file=(filename, audio, content_type))
        except TimeoutError:
            seconds = self.voice.voice_timeout
            raise VoiceUnavailable(f"transcription timed out after {seconds:g}s") from None
        except Exception as exc:  # the SDK's errors: the server said no, or could not be reached
            raise VoiceUnavailable(f"transcription failed at {client.base_url}: {exc}") from exc
        return str(getattr(result, "text", "") or "")

    async def speak(self, text: str) -> VoiceClip:
        """A reply as a voice clip, in the character's voice (``tts_voice``)."""
        words = spoken_text(text)
        if not words:
            raise VoiceUnavailable("nothing to say aloud")
        try:
            async with asyncio.timeout(self.voice.voice_timeout):
                audio = await self._synthesize(words)
                return await to_voice_clip(audio)
        except TimeoutError:
            raise VoiceUnavailable(f"speech timed out after {self.voice.voice_timeout:g}s") from None
        except AudioError as exc:
            raise VoiceUnavailable(str(exc)) from exc

    async def speak_in_call(self, text: str) -> bytes:
        """A reply as a voice channel plays it (48 kHz 16-bit stereo PCM), in the character's voice."""
        words = spoken_text(text)
        if not words:
            raise VoiceUnavailable("nothing to say aloud")
        try:
            async with asyncio.timeout(self.voice.voice_timeout):
                return await to_call_pcm(await self._synthesize(words))
        except TimeoutError:
            raise VoiceUnavailable(f"speech timed out after {self.voice.voice_timeout:g}s") from None
        except AudioError as exc:
            raise VoiceUnavailable(str(exc)) from exc

    async def _synthesize(self, words: str) -> bytes:
        voice = self.voice.tts_voice
        if self.voice.tts_backend == "espeak-ng":
            return await espeak(words, voice or DEFAULT_ESPEAK_VOICE)
        client = self._client(self.voice.tts_base_url)
        try:
            # WAV: every speech server can make it, and ffmpeg turns it into the Opus Discord wants.
            response = await client.audio.speech.create(
                model=self.voice.tts_model, input=words, voice=voice or DEFAULT_OPENAI_VOICE,
                response_format="wav")
        except Exception as exc:  # the SDK's errors
            raise AudioError(f"speech failed at {client.base_url}: {exc}") from exc
        return bytes(response.content)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()
