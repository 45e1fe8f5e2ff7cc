"""The character in voice channels: at most one call per server, joined when a member asks (``/voice join``)
and left when asked (``/voice leave``), when the place is switched off (``/bot deactivate``, ``/bot voice
off``), when nobody else is in it for ``voice_idle_seconds`` (the listening client leaves by itself, told by
each voice state update), when its end-to-end encryption breaks (DAVE: it leaves rather than stay deaf) and
at shutdown.

Whether a server may call it in: ``voice_channels`` (the operator's default) unless the server's admins
switched it (the ``voice`` place switch). It joins only where it can listen: without a speech-to-text
backend the member is told so, in one line, and nothing is joined. The Discord side (connecting, the
listening client, hearing) is ``CallSide``, bot/discord/voicechat/calls.py.

Who may call it in or send it out is the one rule's (bot/operator/reach.py): one it may not talk to there
can do neither. A call others are in is left, or moved away from, only by one of them or a server admin;
in a call it hears only those the rule lets it hear (bot/features/voice/hearing.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from bot.core.i18n import t
from bot.core.reach import Rule, Way, Where
from bot.features.voice.config import VoiceSettings
from bot.features.voice.speech import VoiceService
from bot.operator.places import PlaceControls
from bot.operator.registration import PlaceSwitch

log = logging.getLogger(__name__)

class JoinedCall(Protocol):
    """One joined voice channel."""

    @property
    def channel_id(self) -> int: ...

    def connected(self) -> bool:
        """False once it left (asked to, alone for too long, or the connection failed for good)."""

    async def leave(self) -> None:
        """Out of the call: what it plays stops at once, and it returns within a few seconds whatever
        Discord does (a /voice leave is answered, a shutdown done, within their windows)."""

    def people(self) -> set[int]:
        """The people (not bots) in the call's channel now."""

    def voice_states_changed(self) -> None:
        """Someone joined or left a voice channel of the server: whether the call is empty now (it leaves
        after ``voice_idle_seconds`` alone)."""


class CallSide(Protocol):
    async def join(self, guild_id: int, channel_id: int, settings: VoiceSettings) -> JoinedCall:
        """Connected, listening (``voice_utterance_seconds``) and leaving when alone (``voice_idle_seconds``);
        raises JoinFailed when Discord's voice connection (or DAVE) could not be set up."""


class JoinFailed(Exception):
    """The voice connection could not be made; nothing is left joined."""


@dataclass(frozen=True)
class Caller:
    """Who asks to call the character in or send it out: their roles in the server, and whether they are one
    of its admins (Manage Server, or the bot's)."""

    user_id: int
    roles: Collection[int] = ()
    admin: bool = False


class Calls:
    """``settings``: the voice section (a reload reaches it)."""

    def __init__(self, settings: VoiceSettings, places: PlaceControls, voice: VoiceService, reach: Rule,
                 switched_on: PlaceSwitch, side: CallSide | None = None) -> None:
        """``switched_on``: /bot voice, the server's (a server has one call)."""
        self._reach = reach
        self._switched_on = switched_on
        self._side = side  # the Discord side, handed over by the client once composed (``connect``)
        self._settings = settings
        self._places = places
        self._voice = voice
        self._calls: dict[int, JoinedCall] = {}  # by guild id

    def connect(self, side: CallSide) -> None:
        """The Discord side that joins and hears (bot/discord/voicechat/calls.py), which the client builds
        once the services are composed: no call is joined before."""
        self._side = side

    def current(self, guild_id: int) -> JoinedCall | None:
        call = self._calls.get(guild_id)
        if call is not None and not call.connected():
            del self._calls[guild_id]  # it left by itself (alone too long) or was disconnected
            call = None
        return call

    async def allowed(self, guild_id: int, channel_id: int) -> bool:
        return await self._switched_on.at(channel_id, guild_id)

    async def join(self, guild_id: int, channel_id: int | None, caller: Caller, language: str = "en") -> str:
        """Join ``channel_id`` (the caller's voice channel, None when not in one): what to tell the caller (in
        ``language``, theirs)."""
        if channel_id is None:
            return t(language, "Join a voice channel first, then call me in with /voice join.")
        if not await self.allowed(guild_id, channel_id):
            return t(language, "Voice channels are off in this server (a server admin can turn them on: "
                               "/bot voice on).")
        if not self._voice.hears:
            return t(language, "I can't listen in a voice channel: no speech-to-text backend is set up "
                               "(stt_backend), so I stay out of it.")
        if not await self._places.is_active(channel_id, guild_id):
            return t(language, "I'm not active in that voice channel (an admin can change that: /bot "
                               "activate).")
        refused = await self._reach.refusal(Way.CALL, caller.user_id, Where(guild_id, channel_id),
                                            caller.roles)
        if refused is not None:
            return refused.said(language)
        call = self.current(guild_id)
        if call is not None and call.channel_id == channel_id:
            return t(language, "I'm already in your voice channel.")
        if call is not None and not caller.admin and call.people() - {caller.user_id}:
            return t(language, "I'm in a call with others in {channel}: join us there, or one of them can "
                               "send me out with /voice leave.", channel=f"<#{call.channel_id}>")
        if call is not None:  # one voice channel per server: it moves to the caller's
            await self.leave(guild_id)
        if self._side is None:  # before the client handed its side over: start-up is not done
            return t(language, "I can't join voice channels yet; try again in a moment.")
        try:
            self._calls[guild_id] = await self._side.join(guild_id, channel_id, self._settings)
        except JoinFailed as exc:
            log.warning("could not join voice channel %s in server %s: %s", channel_id, guild_id, exc)
            return t(language, "I couldn't join your voice channel (the voice connection failed); try again "
                               "in a moment.")
        log.info("joined voice channel %s in server %s", channel_id, guild_id)
        return t(language, "I'm in your voice channel, listening.")

    async def send_out(self, guild_id: int, caller: Caller, language: str = "en") -> str:
        """``/voice leave``: leave the server's call when ``caller`` may send the character out; what to tell
        them (in ``language``, theirs)."""
        call = self.current(guild_id)
        if call is None:
            return t(language, "I'm not in a voice channel here.")
        # Sending it out spends nothing: only who may talk to it there is asked (and a place switched off
        # since is no reason to stay).
        refused = await self._reach.closed(Way.CALL, caller.user_id, Where(guild_id, call.channel_id),
                                           caller.roles)
        if refused is not None and refused.kind != "place":
            return refused.said(language)
        if not caller.admin and caller.user_id not in call.people() and call.people():
            return t(language, "Only someone in the call (or a server admin) can send me out of it.")
        await self.leave(guild_id)
        return t(language, "I left the voice channel.")

    async def leave(self, guild_id: int) -> bool:
        """Leave the server's call; False when it was in none."""
        call = self.current(guild_id)
        self._calls.pop(guild_id, None)
        if call is None:
            return False
        await call.leave()
        log.info("left voice channel %s in server %s", call.channel_id, guild_id)
        return True

    def voice_states_changed(self, guild_id: int) -> None:
        """A voice state update in the server (someone joined, left or moved): the call there recounts."""
        call = self.current(guild_id)
        if call is not None:
            call.voice_states_changed()

    async def recheck(self, guild_id: int) -> None:
        """A place switch changed: leave a call where the character may no longer be."""
        call = self.current(guild_id)
        if call is None:
            return
        channel_id = call.channel_id
        allowed = await self.allowed(guild_id, channel_id)
        if not (allowed and await self._places.is_active(channel_id, guild_id)):
            await self.leave(guild_id)

    async def close(self) -> None:
        """Shutdown: every call left, all at once (each leave is bounded: CallSide's ``leave``)."""
        guilds = list(self._calls)
        results = await asyncio.gather(*(self.leave(g) for g in guilds), return_exceptions=True)
        for guild_id, result in zip(guilds, results, strict=True):
            if isinstance(result, Exception):  # one call's failure must not keep the others joined
                log.error("leaving the voice channel of server %s failed", guild_id, exc_info=result)
