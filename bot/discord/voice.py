"""Discord voice messages in and out, around the reply pipeline (the speech work is bot/runtime/voice.py).

In: a message with the voice-message flag (1 << 13) and an audio attachment is logged (``[voice message]``,
its answer owed when certain) before anything else, then downloaded (at most ``max_voice_bytes``, within
``voice_timeout``) and transcribed; its transcript (``[voice] ...``) replaces the logged text and is what the
engine sees and keeps. Unheard (no speech-to-text backend, or
it failed), it is logged as ``[voice message]`` and, where the character would certainly answer, answered
with one line saying it cannot listen.

Out: with ``voice_replies`` on, the reply also goes out as a voice message. discord.py (2.7) cannot send
one, so the upload is built here: multipart ``payload_json`` with ``flags`` 8192, no content, and one
attachment ``voice-message.ogg`` (Ogg/Opus) carrying ``duration_secs`` and ``waveform``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from typing import TYPE_CHECKING, Protocol

import discord
from discord.http import Route

from bot.core.attachments import NOTHING
from bot.core.stages import Incoming, Outlet, ReplyResult
from bot.discord.media import read_capped
from bot.reply.media import TooLarge
from bot.runtime.voice import UNHEARD_CONTENT, Payer, VoiceRefused, VoiceUnavailable, transcript_content

if TYPE_CHECKING:
    from bot.core.config import Settings, VoiceSettings
    from bot.runtime.audio import VoiceClip
    from bot.runtime.composition import Services

log = logging.getLogger(__name__)


class VoiceBot(Protocol):
    """What hearing and speaking read of the bot (bot/discord/client.py's, which the message flow it serves
    cannot name: client.py builds the flow)."""

    settings: Settings

    @property
    def services(self) -> Services: ...  # the pipeline (the way in) and the voice service among them

    @property
    def user(self) -> discord.ClientUser | None: ...

    @property
    def http(self) -> discord.http.HTTPClient: ...

VOICE_MESSAGE_FLAG = 1 << 13  # IS_VOICE_MESSAGE
VOICE_FILENAME = "voice-message.ogg"


def voice_attachment(message: discord.Message) -> discord.Attachment | None:
    """The audio of a voice message; None for any other message."""
    if not message.flags.value & VOICE_MESSAGE_FLAG:
        return None
    for attachment in message.attachments:
        if attachment.is_voice_message() or (attachment.content_type or "").startswith("audio/"):
            return attachment
    return None


def with_voice_placeholder(msg: Incoming, message: discord.Message) -> Incoming:
    """A voice message has no text: until it is heard it stands in the log as ``[voice message]``."""
    if msg.content.strip() or voice_attachment(message) is None:
        return msg
    return dataclasses.replace(msg, content=UNHEARD_CONTENT, carried=NOTHING)  # the note says it all


async def hear(bot: VoiceBot, msg: Incoming, message: discord.Message, outlet: Outlet) -> Incoming | None:
    """``msg`` with its transcript as content (unchanged when not a voice message, or from someone who may
    not talk to the character: the pipeline asks); None when the voice message could not be heard and has
    been dealt with (logged, and answered with the unheard line)."""
    attachment = voice_attachment(message)
    if attachment is None or (bot.user is not None and message.author.id == bot.user.id):
        return msg  # not a voice message, or our own (whose words we know)

    async def listen() -> str | None:
        try:
            audio = await download(attachment, bot.settings.voice)
            kind = attachment.content_type or "audio/ogg"
            # Discord's own length of it (duration_secs) prices the transcription.
            return transcript_content(await bot.services.voice.transcribe(
                audio, attachment.filename, kind, payer_of(msg), seconds=attachment.duration))
        except VoiceRefused as exc:
            # A spending limit (logged once by the limits): it goes on unheard, for the message path's
            # gate to refuse it as any message, in character.
            log.debug("voice message %s not transcribed: %s", message.id, exc)
            return UNHEARD_CONTENT
        except (discord.HTTPException, VoiceUnavailable) as exc:
            log.warning("voice message %s could not be transcribed: %s", message.id, exc)
            return None

    voice = bot.services.voice
    return await bot.services.pipeline.hear(msg, outlet, listen if voice.hears else None,
                                 bot.settings.voice.voice_unheard_reply)


async def download(attachment: discord.Attachment, settings: VoiceSettings) -> bytes:
    """A voice message's audio: at most ``max_voice_bytes`` (Discord's own size for it, checked before any
    byte is fetched, and the bytes received), within ``voice_timeout`` seconds."""
    cap = settings.max_voice_bytes
    if attachment.size > cap:
        raise VoiceUnavailable(f"{attachment.size} bytes, more than max_voice_bytes ({cap})")
    try:
        return await asyncio.wait_for(read_capped(attachment, cap), settings.voice_timeout)
    except TimeoutError:
        raise VoiceUnavailable(f"download timed out after {settings.voice_timeout:g}s") from None
    except TooLarge:  # the declared size was wrong: the download stopped there
        raise VoiceUnavailable(f"more than max_voice_bytes ({cap}) arrived") from None


def payer_of(msg: Incoming) -> Payer:
    """Whom speech heard in or spoken for ``msg`` is spent for: its author, in its server."""
    return Payer(msg.author_id, None if msg.is_dm else msg.guild_id, msg.channel_id)


async def speak_reply(bot: VoiceBot, msg: Incoming, message_id: int, result: ReplyResult) -> int | None:
    """Send ``result`` again as a voice message, spent for ``msg``'s author; a failure is logged (the text
    reply is already out)."""
    try:
        clip = await bot.services.voice.speak(result.text, payer_of(msg))
        return await send_voice_message(bot.http, msg.channel_id, clip)
    except VoiceRefused as exc:  # a spending limit, logged once by the limits
        log.info("the voice reply to message %s was not sent: %s", message_id, exc)
        return None
    except (VoiceUnavailable, discord.HTTPException) as exc:
        log.warning("the voice reply to message %s was not sent: %s", message_id, exc)
        return None


async def send_voice_message(http: discord.http.HTTPClient, channel_id: int, clip: VoiceClip) -> int:
    """POST one voice message (Discord's rules: flag 8192, no content, one Ogg attachment with duration and
    waveform). Returns its message id."""
    payload = {"content": "", "flags": VOICE_MESSAGE_FLAG, "attachments": [
        {"id": 0, "filename": VOICE_FILENAME, "duration_secs": clip.duration, "waveform": clip.waveform}]}
    file = discord.File(io.BytesIO(clip.ogg), filename=VOICE_FILENAME)  # rewound by discord.py on a retry
    form: list[dict[str, object]] = [{"name": "payload_json", "value": json.dumps(payload)},
            {"name": "files[0]", "value": file.fp, "filename": VOICE_FILENAME, "content_type": "audio/ogg"}]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
    data = await http.request(route, files=[file], form=form)
    return int(data["id"])
