"""Discord voice messages, the Discord side of the voice feature (bot/features/voice/: the speech work).

In: a message with the voice-message flag (1 << 13) and an audio attachment: that attachment is marked a
recording (bot/discord/flow.py ``carried_by``), which the feature's reader hears before the reply
(bot/features/voice/messages.py).

Out: with ``voice_replies`` on, the reply also goes out as a voice message (:class:`VoiceReplies`, a post
observer, connected by cogs/voice.py). discord.py (2.7) cannot send
one, so the upload is built here: multipart ``payload_json`` with ``flags`` 8192, no content, and one
attachment ``voice-message.ogg`` (Ogg/Opus) carrying ``duration_secs`` and ``waveform``.
"""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING, Protocol

import discord
from discord.http import Route

from bot.core.stages import Incoming, ReplyResult
from bot.discord.flow import VOICE_MESSAGE_FLAG, AfterPost
from bot.features.voice.messages import VoiceMessageReplies
from bot.features.voice.speech import VoiceRefused, VoiceService, VoiceUnavailable

if TYPE_CHECKING:
    from bot.core.config import Settings
    from bot.features.voice.audio import VoiceClip
    from bot.runtime.composition import Services

log = logging.getLogger(__name__)


class VoiceBot(Protocol):
    """What speaking reads of the bot (bot/discord/client.py's, which builds the post observers and so cannot
    be named here)."""

    settings: Settings

    @property
    def services(self) -> Services: ...  # the pipeline (the way in) and the voice service among them

    @property
    def user(self) -> discord.ClientUser | None: ...

    @property
    def http(self) -> discord.http.HTTPClient: ...

VOICE_FILENAME = "voice-message.ogg"


class VoiceReplies:
    """A post observer: the main character's reply also sent as a voice message when ``voice_replies`` asks
    (``always``, or ``mirror`` in answer to a voice message)."""

    def __init__(self, bot: VoiceBot) -> None:
        self.bot = bot

    async def before(self, msg: Incoming, /) -> AfterPost:
        async def after(results: list[ReplyResult], message: discord.Message) -> None:
            main = self.bot.services.pipeline.character_key
            spoken = [r for r in results if r.speaker == main]
            voice_message = bool(message.attachments) and voice_attachment(message) is not None
            if spoken and self.bot.services.part(VoiceService).speaks_after(voice_message=voice_message):
                await speak_reply(self.bot, msg, message.id, spoken[0])
        return after


def voice_attachment(message: discord.Message) -> discord.Attachment | None:
    """The audio of a voice message; None for any other message."""
    if not message.flags.value & VOICE_MESSAGE_FLAG:
        return None
    for attachment in message.attachments:
        if attachment.is_voice_message() or (attachment.content_type or "").startswith("audio/"):
            return attachment
    return None


async def speak_reply(bot: VoiceBot, msg: Incoming, message_id: int, result: ReplyResult) -> int | None:
    """Send ``result`` again as a voice message, spent for ``msg``'s author (not when they were forgotten
    since: the feature's ``VoiceMessageReplies``); a failure is logged (the text reply is already out)."""
    try:
        return await bot.services.part(VoiceMessageReplies).say_again(
            msg, result.text, lambda clip: send_voice_message(bot.http, msg.channel_id, clip))
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
