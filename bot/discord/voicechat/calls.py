"""The Discord side of the character's calls (bot/features/voice/calls.py's ``CallSide``): a voice channel
joined with a listening client (client.py), whose utterances go to ``Hearing`` (hearing.py) and on to what the
bot does with a member's words (``on_heard``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import discord

from bot.core.reach import Way, Where
from bot.discord.line_language import place_language
from bot.discord.voicechat.client import ListeningVoiceClient, listening
from bot.discord.voicechat.status import ChannelStatus
from bot.features.voice.calls import JoinFailed
from bot.features.voice.config import VoiceSettings
from bot.features.voice.hearing import Hearing, SpokenTurn
from bot.features.voice.segmenter import Utterance
from bot.features.voice.speech import VoiceService

if TYPE_CHECKING:
    from bot.runtime.composition import Services

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0  # discord.py's own default for a voice connection (gateway, UDP, DAVE)
# A pause after which what was said is transcribed at once, and its answer begun if it ends a sentence (None:
# only the full end-of-silence wait ends a turn). The answer is speculative (hearing.py's ``SpokenTurn``): a
# member who goes on before its first audio withdraws it unseen and unheard, and one who goes on after has it
# stopped and their words heard with the earlier ones, so a short pause costs a cancelled model request, not a
# member cut off (docs/performance.md has the figures). The answer is said once the silence reached
# ANSWER_SECONDS, and not before: begun at the shorter pause, the time it takes to be ready (the
# transcription, the model's first sentence, its speech) is spent within that wait rather than after it.
# 0.3 s: the first audio some 420 ms after the last word; a member it cuts off (between two sentences) stops
# it by speaking on, and is heard whole.
PAUSE_SECONDS: float | None = 0.1
ANSWER_SECONDS = 0.3

# (the call, the member, their words as kept: "[voice] ...", the utterance, the turn they make)
OnHeard = Callable[["DiscordCall", int, str, Utterance, SpokenTurn], Awaitable[None]]


class CallsBot(Protocol):
    @property
    def services(self) -> Services: ...  # the voice service among them

    def get_channel(self, channel_id: int, /) -> object: ...


class DiscordCall:
    """One joined voice channel: its listening client, its hearing, and the channel's status while in it."""

    def __init__(self, guild_id: int, channel: discord.VoiceChannel, hearing: Hearing,
                 status: ChannelStatus) -> None:
        self.guild_id = guild_id
        self.channel = channel
        self.hearing = hearing
        self.client: ListeningVoiceClient | None = None
        self._status = status
        self._shown = False  # the channel's status says the character listens

    @property
    def channel_id(self) -> int:
        return self.channel.id

    def connected(self) -> bool:
        return self.client is not None and self.client.is_connected()

    def people(self) -> set[int]:
        return {m.id for m in self.channel.members if not m.bot}

    def voice_states_changed(self) -> None:
        if self.client is not None:
            self.client.voice_states_changed()

    async def show_status(self) -> None:
        self._shown = await self._status.show(self.channel)

    async def clear_status(self) -> None:
        """Before the disconnect: Discord lets only a member of the call change the status."""
        if self._shown:
            self._shown = False
            await self._status.clear(self.channel)

    async def leave(self) -> None:
        """Bounded: the playback stops at once, the status is cleared and Discord's confirmation waited for
        a moment only (status.py's ``STATUS_SECONDS``, client.py's ``disconnect``)."""
        client, self.client = self.client, None
        if client is not None:
            client.stop()
            await self.clear_status()
            await client.disconnect(force=True)
        await self.hearing.close()


class DiscordCalls:
    """``on_heard``: each member's transcribed words (None: heard and dropped, until wired)."""

    def __init__(self, bot: CallsBot, on_heard: OnHeard | None = None) -> None:
        self._bot = bot
        self.on_heard = on_heard
        self._status = ChannelStatus(lambda: bot.services.pipeline.persona.name,
                                     lambda guild_id: place_language(bot, guild_id))

    async def join(self, guild_id: int, channel_id: int, settings: VoiceSettings) -> DiscordCall:
        channel = self._bot.get_channel(channel_id)
        if not isinstance(channel, discord.VoiceChannel):
            raise JoinFailed(f"{channel_id} is not a voice channel I can see")
        call: DiscordCall

        async def heard(user_id: int, content: str, utterance: Utterance, turn: SpokenTurn) -> None:
            if self.on_heard is not None:
                await self.on_heard(call, user_id, content, utterance, turn)

        def is_bot(user_id: int) -> bool:  # (or a member the cache does not know: not heard as a person)
            member = channel.guild.get_member(user_id)
            return member is None or member.bot

        async def listens(user_id: int) -> bool:
            member = channel.guild.get_member(user_id)
            roles = [r.id for r in member.roles] if member is not None else []
            refused = await self._bot.services.reach.refusal(Way.HEAR, user_id, Where(guild_id, channel_id),
                                                             roles)
            if refused is not None:
                log.debug("voice of user %s in channel %s not heard: %s", user_id, channel_id,
                          refused.reason.english())
            return refused is None

        voice = self._bot.services.part(VoiceService)
        call = DiscordCall(guild_id, channel, Hearing(voice, None, guild_id=guild_id,
                                                      channel_id=channel.id, is_bot=is_bot, listens=listens,
                                                      on_turn=heard,
                                                      hold_seconds=ANSWER_SECONDS - (PAUSE_SECONDS or 0.0)),
                           self._status)
        make = listening(call.hearing.utterance, max_seconds=settings.voice_utterance_seconds,
                         idle_seconds=settings.voice_idle_seconds, barge_in=True, pause_seconds=PAUSE_SECONDS)
        try:
            # reconnect: discord.py resumes a dropped voice connection itself
            client = await channel.connect(cls=make, timeout=CONNECT_TIMEOUT, reconnect=True, self_deaf=False)
        except (TimeoutError, discord.ClientException, discord.ConnectionClosed, OSError) as exc:
            await call.hearing.close()
            await _disconnect_leftover(channel.guild)
            raise JoinFailed(str(exc) or type(exc).__name__) from exc
        assert isinstance(client, ListeningVoiceClient)
        call.client = client
        # a sentence heard at a pause begins its answer; said, it ends the turn there; gone on, withdrawn
        call.hearing.conclude = client.receiver.conclude
        call.hearing.paused = client.receiver.paused
        client.receiver.on_resume = call.hearing.resumed
        client.before_leaving = call.clear_status  # alone too long, or DAVE failed: cleared as it goes
        client.on_left = call.hearing.close  # and nothing more is heard
        await call.show_status()
        return call


async def _disconnect_leftover(guild: discord.Guild) -> None:
    """A connection that failed half-way (a DAVE failure) leaves nothing joined."""
    client = guild.voice_client
    if client is not None:
        try:
            await asyncio.wait_for(client.disconnect(force=True), CONNECT_TIMEOUT)
        except (TimeoutError, discord.ClientException):
            log.debug("a failed voice connection in server %s did not close cleanly", guild.id)
