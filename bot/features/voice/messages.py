"""Voice messages in: a member's recording read before the reply (a ``Reader``, bot/core/stages.py, lent
through the feature's registration; bot/reply/pipeline.py ``read_first`` runs it).

The transport marks the attachment a recording (Discord's voice-message flag: bot/discord/flow.py). Until
heard the message stands as ``[voice message]``; it is downloaded (at most ``max_voice_bytes``, within
``voice_timeout``) and transcribed, and its transcript (``[voice] ...``) is what the reply sees and keeps.
Unheard (no speech-to-text backend, or it failed), it is answered, where the answer is certain, with
``voice_unheard_reply``. A spending limit leaves it unheard as ``[voice message]``, for the message path's
gate to refuse as any message, in character.

Voice messages out: a reply posted is said again as a voice message when ``voice_replies`` asks
(``VoiceMessageReplies``, for the Discord side's post observer, bot/discord/voice.py), unless its person ran
/forget_me since their message came; one that begins meanwhile waits for it and deletes what it left (its
usage row, the voice message in their DMs) with the rest (database/privacy.py ``writing_about``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.core.attachments import Attachment, Carried
from bot.core.i18n import language_written, own_line
from bot.core.stages import Incoming
from bot.features.voice.audio import VoiceClip
from bot.features.voice.config import VoiceSettings
from bot.features.voice.speech import (
    UNHEARD_CONTENT,
    Payer,
    VoiceRefused,
    VoiceService,
    VoiceUnavailable,
    transcript_content,
)
from database.privacy import Privacy
from database.style import StyleProfiles

log = logging.getLogger(__name__)


def recording_of(carried: Carried) -> Attachment | None:
    """The recording ``carried`` holds; None for any other message."""
    return next((a for a in carried.attachments if a.recording), None)


def payer_of(msg: Incoming) -> Payer:
    """Whom speech heard in or spoken for ``msg`` is spent for: its author, in its server."""
    return Payer(msg.author_id, None if msg.is_dm else msg.guild_id, msg.channel_id)


class VoiceMessages:
    """The reader of voice messages. ``settings``: the voice section (a reload reaches it)."""

    def __init__(self, settings: VoiceSettings, voice: VoiceService, profiles: StyleProfiles | None = None
                 ) -> None:
        """``profiles``: people's writing profiles, whose language the unheard line is said in."""
        self.settings = settings
        self.voice = voice
        self.profiles = profiles

    def takes(self, carried: Carried, /) -> bool:
        return recording_of(carried) is not None

    def placeholder(self) -> str:
        return UNHEARD_CONTENT

    def can_read(self) -> bool:
        return self.voice.hears

    async def unread_line(self, msg: Incoming, /) -> str:
        # A recording has no words to tell its language: the language the person writes in, if known.
        written = await self.profiles.get(msg.author_id) if self.profiles is not None else None
        return own_line(language_written(written), self.settings.voice_unheard_reply,
                        VoiceSettings.voice_unheard_reply)

    async def read(self, msg: Incoming, carried: Carried, /) -> str | None:
        attachment = recording_of(carried)
        if attachment is None or msg.fetch is None:
            return None
        try:
            audio = await self._download(msg, attachment)
            # the transport's own length of it (Discord's duration_secs) prices the transcription
            return transcript_content(await self.voice.transcribe(
                audio, attachment.filename, attachment.content_type or "audio/ogg", payer_of(msg),
                seconds=attachment.duration))
        except VoiceRefused as exc:  # a spending limit, logged once by the limits
            log.debug("voice message %s not transcribed: %s", msg.message_id, exc)
            return UNHEARD_CONTENT
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # VoiceUnavailable, or the transport's download errors (HTTP, connection)
            log.warning("voice message %s could not be transcribed: %s", msg.message_id, exc)
            return None

    async def _download(self, msg: Incoming, attachment: Attachment) -> bytes:
        """Its audio: at most ``max_voice_bytes`` (the size the transport gave, checked before any byte is
        fetched, and the bytes received), within ``voice_timeout`` seconds."""
        cap, seconds = self.settings.max_voice_bytes, self.settings.voice_timeout
        if attachment.size > cap:
            raise VoiceUnavailable(f"{attachment.size} bytes, more than max_voice_bytes ({cap})")
        assert msg.fetch is not None
        try:
            return await asyncio.wait_for(msg.fetch(attachment, cap), seconds)
        except TimeoutError:
            raise VoiceUnavailable(f"download timed out after {seconds:g}s") from None


class VoiceMessageReplies:
    """A reply said again as a voice message once posted, as a write about its person (the paid call's
    usage row names them; in their DMs the voice message is theirs)."""

    def __init__(self, voice: VoiceService, privacy: Privacy) -> None:
        self.voice = voice
        self.privacy = privacy

    async def say_again(self, msg: Incoming, text: str,
                        send: Callable[[VoiceClip], Awaitable[int]]) -> int | None:
        """``text``, the reply just posted to ``msg``, spoken for its author and sent by ``send`` (its message
        id); None when its author was forgotten since ``msg`` came (nothing is spoken). Raises VoiceRefused
        and VoiceUnavailable as :meth:`VoiceService.speak`."""
        privacy = self.privacy
        async with privacy.writing_about(msg.author_id, privacy.mark_of(msg.message_id)) as allowed:
            if not allowed:
                return None
            # the reply's own language, else (too short to tell) that of the words it answers
            sent = await send(await self.voice.speak(text, payer_of(msg), answering=msg.content))
            if msg.is_dm:
                privacy.posted_in_dm(msg.author_id, sent)
            return sent
