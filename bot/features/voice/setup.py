"""Voice channels' set-up, said at start-up: with ``voice_channels`` on, one log line for each thing a call
needs and lacks, so an operator learns it from the log rather than from a member's failed ``/voice join``.

* at once (:func:`call_library_problems`): libopus (every packet said or heard is Opus) and PyNaCl (the
  voice connection's encryption) missing; the programs and the speech-to-text backend are
  ``VoiceService.startup_problems``'s;
* in the background (:func:`check_speech_servers`, never holding start-up): each speech server a call uses
  (speech-to-text, and text-to-speech when it is a server) answers its models list, and lists the
  configured model; a server without a models list must answer one small test request instead (a second
  of silence transcribed, one word spoken: a fraction of a cent, not recorded as usage). Each waits at
  most ``PROBE_SECONDS``. A line names the server by its URL without credentials, and never quotes the
  server's own error text (an API's 401 may echo part of the key).
"""

from __future__ import annotations

import asyncio
import io
import logging
import wave
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from bot.core.config.credentials import source_of
from bot.features.voice.speech import DEFAULT_OPENAI_VOICE, VoiceService

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

PROBE_SECONDS = 5.0  # one speech server's answer at start-up (voice_timeout when that is shorter)
LISTED_SHOWN = 8  # model ids named when the configured one is not listed
KEY = "openai_api_key"  # the key every speech server is sent


def opus_loaded() -> bool:
    """Whether libopus is loaded, or can be (discord.py loads it the same way when a call first needs it)."""
    import discord.opus

    if discord.opus.is_loaded():
        return True
    try:
        return bool(discord.opus._load_default())
    except Exception:  # a broken library is as good as none
        return False


def nacl_installed() -> bool:
    import discord.voice_client

    return bool(discord.voice_client.has_nacl)


def call_library_problems(channels: bool, *, opus: Callable[[], bool] = opus_loaded,
                          nacl: Callable[[], bool] = nacl_installed) -> list[str]:
    """One line per library a call needs and lacks (``channels``: voice_channels is on), logged."""
    if not channels:
        return []
    problems = []
    if not opus():
        problems.append("voice_channels=true needs libopus, which could not be loaded (Debian: apt-get "
                        "install libopus0): in a call the character can neither hear nor speak until it is "
                        "installed")
    if not nacl():
        problems.append("voice_channels=true needs PyNaCl, which is not installed (pip install PyNaCl): "
                        "/voice join cannot connect until it is")
    for line in problems:
        log.warning(line)
    return problems


def shown_url(url: str) -> str:
    """``url`` without what may be a secret (user and password, query, fragment)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class _Server:
    """One speech server a call uses."""

    what: str  # "speech-to-text" | "text-to-speech"
    base_url: str
    model_key: str
    model: str
    test: str  # what the test request is called
    without: str  # what a call lacks while it does not answer


def _servers(service: VoiceService) -> list[_Server]:
    voice = service.voice
    servers = []
    if service.hears:
        servers.append(_Server("speech-to-text", voice.stt_base_url, "stt_model", voice.stt_model,
                               "test transcription", "members are not heard in a call"))
    if voice.tts_backend == "openai":
        servers.append(_Server("text-to-speech", voice.tts_base_url, "tts_model", voice.tts_model,
                               "test speech", "the character's answers in a call are posted, not spoken,"))
    return servers


async def check_speech_servers(service: VoiceService, origins: Mapping[str, str]) -> list[str]:
    """Each speech server a call uses, asked once (see the module's docstring): one line per one that does
    not answer as it should, logged and returned."""
    problems = []
    for server in _servers(service):
        try:
            problem = await _probe(service, server, origins)
        except Exception as exc:  # a check never stops the bot
            problem = f"could not be checked ({type(exc).__name__})"
        if problem:
            client = service.server(server.base_url)
            line = (f"voice_channels=true: the {server.what} server at {shown_url(str(client.base_url))} "
                    f"{problem}; {server.without} until it does")
            log.warning(line)
            problems.append(line)
    return problems


async def _probe(service: VoiceService, server: _Server, origins: Mapping[str, str]) -> str | None:
    import openai

    seconds = min(PROBE_SECONDS, service.voice.voice_timeout)
    client = service.server(server.base_url).with_options(max_retries=0, timeout=seconds)
    try:
        async with asyncio.timeout(seconds):
            page = await client.models.list()
    except TimeoutError:
        return f"did not answer its models list within {seconds:g}s"
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        return f"rejected the API key (HTTP {exc.status_code}; {KEY}: {source_of(KEY, origins)})"
    except openai.APIStatusError as exc:  # no models list here (many local servers): a test request
        tested = await _test_request(client, service, server, seconds)
        if tested is None:
            return None
        return f"answers neither its models list (HTTP {exc.status_code}) nor a {server.test} ({tested})"
    except openai.APIError as exc:  # connection refused, a name that does not resolve, a broken answer
        cause = exc.__cause__
        return f"cannot be reached ({(str(cause) or type(cause).__name__) if cause else type(exc).__name__})"
    listed = [m.id for m in page.data]
    if listed and server.model not in listed:
        shown = ", ".join(listed[:LISTED_SHOWN]) + (", ..." if len(listed) > LISTED_SHOWN else "")
        return f"does not list the model {server.model} ({server.model_key}; it lists {shown})"
    return None


async def _test_request(client: AsyncOpenAI, service: VoiceService, server: _Server,
                        seconds: float) -> str | None:
    """What went wrong with one small request of the server's kind (None: it answered)."""
    import openai

    try:
        async with asyncio.timeout(seconds):
            if server.what == "speech-to-text":
                await client.audio.transcriptions.create(model=server.model,
                                                         file=("check.wav", _silence(), "audio/wav"))
            else:
                await client.audio.speech.create(model=server.model, input="Hello.",
                                                 voice=service.voice.tts_voice or DEFAULT_OPENAI_VOICE,
                                                 response_format="wav")
    except TimeoutError:
        return f"no answer within {seconds:g}s"
    except openai.APIStatusError as exc:
        return f"HTTP {exc.status_code}"
    except openai.APIError as exc:
        return type(exc).__name__
    return None


def _silence(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A WAV of silence, the smallest thing a transcription server takes."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(rate * seconds))
    return out.getvalue()


def start_voice_checks(service: VoiceService, origins: Mapping[str, str]) -> list[str]:
    """Start-up, with voice channels on: the libraries' lines now, the speech servers' checked in the
    background (``service.checks``, cancelled when the service closes). Returns the lines said now."""
    problems = call_library_problems(service.voice.voice_channels)
    if service.voice.voice_channels and _servers(service):
        service.checks = asyncio.get_running_loop().create_task(check_speech_servers(service, origins),
                                                                name="voice-server-check")
    return problems
