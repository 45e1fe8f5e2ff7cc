"""The fake Discord's voice channels: voice states, and the main gateway's side of joining one.

A bot's VOICE_STATE_UPDATE (op 4) is answered as Discord answers it: a VOICE_STATE_UPDATE dispatch with the
bot's new state and its voice session id, then a VOICE_SERVER_UPDATE naming the voice server's endpoint and
a token (tests/fakes/voice_server.py, started with :meth:`start_voice`), which accepts exactly that
session. Leaving (channel null) dispatches the state and ends the voice connection. Members join and leave
calls by :meth:`member_joins_voice` / :meth:`member_leaves_voice`, which the bot sees as they are seen on
Discord: a VOICE_STATE_UPDATE on the main gateway, and CLIENTS_CONNECT / CLIENT_DISCONNECT on the voice
gateway.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_guild import error, missing_permissions
from tests.fakes.voice_server import FakeVoiceServer, Grant

if TYPE_CHECKING:
    from tests.fakes.discord_lead import Session

VOICE_CHANNEL = 2
CONNECT = 1 << 20
SPEAK = 1 << 21
MANAGE_CHANNELS = 1 << 4
SET_VOICE_CHANNEL_STATUS = 1 << 48
MAX_VOICE_STATUS = 500


class VoiceWorld:
    if TYPE_CHECKING:
        channels: dict[int, dict[str, Any]]
        guilds: dict[int, dict[str, Any]]
        bots: dict[str, dict[str, Any]]

        async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None = None,
                           only_token: str | None = None) -> None: ...

        def _member_payload(self, guild_id: int, user_id: int, *,
                            with_user: bool = True) -> dict[str, Any]: ...

        def channel_permissions(self, channel_id: int, user_id: int) -> int: ...

    def _init_voice(self) -> None:
        self.voice: FakeVoiceServer | None = None
        self.voice_states: dict[int, dict[int, dict[str, Any]]] = {}  # guild -> user -> state payload
        self.voice_requests: list[dict[str, Any]] = []  # every op 4 a bot sent
        # every PUT /channels/{id}/voice-status: (channel, the status asked for, the HTTP status answered)
        self.voice_status_requests: list[tuple[int, str | None, int]] = []

    async def start_voice(self, *, dave: bool = True, require_dave: bool = True) -> FakeVoiceServer:
        self.voice = await FakeVoiceServer(dave=dave, require_dave=require_dave).start()
        return self.voice

    async def close_voice(self) -> None:
        if self.voice is not None:
            await self.voice.close()

    def add_voice_channel(self, guild_id: int, channel_id: int, name: str) -> None:
        self.channels[channel_id] = {"id": str(channel_id), "type": VOICE_CHANNEL, "name": name,
                                     "guild_id": str(guild_id), "position": len(self.channels),
                                     "permission_overwrites": [], "nsfw": False, "bitrate": 64000,
                                     "user_limit": 0, "rtc_region": None, "video_quality_mode": 1,
                                     "parent_id": None, "flags": 0, "last_message_id": None,
                                     "rate_limit_per_user": 0}

    def in_voice(self, guild_id: int, user_id: int) -> int | None:
        """The voice channel a user is in on that server, or None."""
        state = self.voice_states.get(guild_id, {}).get(user_id)
        return int(state["channel_id"]) if state else None

    def _voice_state(self, guild_id: int, user_id: int, channel_id: int | None, session_id: str,
                     data: dict[str, Any] | None = None) -> dict[str, Any]:
        data = data or {}
        return {"guild_id": str(guild_id), "channel_id": str(channel_id) if channel_id else None,
                "user_id": str(user_id), "member": self._member_payload(guild_id, user_id),
                "session_id": session_id, "deaf": False, "mute": False,
                "self_deaf": bool(data.get("self_deaf")), "self_mute": bool(data.get("self_mute")),
                "self_video": False, "self_stream": False, "suppress": False,
                "request_to_speak_timestamp": None}

    async def _voice_state_update(self, session: Session, data: dict[str, Any]) -> None:
        """A bot's op 4: join, move or leave. Discord ignores a channel that is not a voice channel of that
        server or that the bot may not connect to (no answer comes)."""
        self.voice_requests.append(data)
        guild_id = int(data["guild_id"])
        user_id = int(self.bots[session.token]["id"])
        raw = data.get("channel_id")
        if raw is None:
            if self.voice_states.get(guild_id, {}).pop(user_id, None) is not None:
                await self.dispatch("VOICE_STATE_UPDATE",
                                    self._voice_state(guild_id, user_id, None, session.session_id),
                                    guild_id=guild_id, only_token=session.token)
            if self.voice is not None:
                await self.voice.revoke(guild_id, user_id)
            return
        channel_id = int(raw)
        channel = self.channels.get(channel_id, {})
        if (channel.get("type") != VOICE_CHANNEL or channel.get("guild_id") != str(guild_id)
                or not self.channel_permissions(channel_id, user_id) & CONNECT or self.voice is None):
            return
        voice_session = secrets.token_hex(16)
        state = self._voice_state(guild_id, user_id, channel_id, voice_session, data)
        self.voice_states.setdefault(guild_id, {})[user_id] = state
        token = secrets.token_hex(8)
        await self.voice.revoke(guild_id, user_id)  # a move ends the old connection
        self.voice.grant(Grant(guild_id, channel_id, user_id, voice_session, token))
        await self.dispatch("VOICE_STATE_UPDATE", state, guild_id=guild_id)
        await self.dispatch("VOICE_SERVER_UPDATE", {"token": token, "guild_id": str(guild_id),
                                                    "endpoint": self.voice.endpoint},
                            guild_id=guild_id, only_token=session.token)

    async def _voice_status(self, channel_id: int, body: dict[str, Any],
                            bot: dict[str, Any]) -> web.Response | None:
        """PUT /channels/{id}/voice-status, by Discord's rules: a voice channel (404 10003 otherwise); the
        caller connected to it and allowed Set Voice Channel Status or Manage Channels there (403 50013
        Missing Permissions); a status of at most 500 characters (400 50035), null or empty to clear it.
        Kept as the channel's ``status``, and VOICE_CHANNEL_STATUS_UPDATE dispatched to the server."""
        status = body.get("status")
        answer = self._voice_status_refusal(channel_id, status, int(bot.get("id") or 0))
        self.voice_status_requests.append((channel_id, status, answer.status if answer is not None else 204))
        if answer is not None:
            return answer
        channel = self.channels[channel_id]
        channel["status"] = shown = status or None
        await self.dispatch("VOICE_CHANNEL_STATUS_UPDATE",
                            {"id": str(channel_id), "guild_id": channel["guild_id"], "status": shown},
                            guild_id=int(channel["guild_id"]))
        return None

    def _voice_status_refusal(self, channel_id: int, status: Any, user_id: int) -> web.Response | None:
        channel = self.channels.get(channel_id)
        if channel is None or channel.get("type") != VOICE_CHANNEL:
            return error(404, 10003, "Unknown Channel")
        if self.in_voice(int(channel["guild_id"]), user_id) != channel_id:
            return missing_permissions()
        if not self.channel_permissions(channel_id, user_id) & (SET_VOICE_CHANNEL_STATUS | MANAGE_CHANNELS):
            return missing_permissions()
        if status is not None and (not isinstance(status, str) or len(status) > MAX_VOICE_STATUS):
            return error(400, 50035, "Invalid Form Body", {"status": {"_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH",
                 "message": f"Must be {MAX_VOICE_STATUS} or fewer in length."}]}})
        return None

    def voice_status(self, channel_id: int) -> str | None:
        """The voice channel's status as members see it (None: none)."""
        return self.channels.get(channel_id, {}).get("status")

    async def member_joins_voice(self, guild_id: int, channel_id: int, user_id: int) -> None:
        state = self._voice_state(guild_id, user_id, channel_id, secrets.token_hex(16))
        self.voice_states.setdefault(guild_id, {})[user_id] = state
        await self.dispatch("VOICE_STATE_UPDATE", state, guild_id=guild_id)
        assert self.voice is not None
        await self.voice.join(user_id, channel_id)

    async def member_leaves_voice(self, guild_id: int, user_id: int, *,
                                  disconnect_lost: bool = False) -> None:
        self.voice_states.get(guild_id, {}).pop(user_id, None)
        await self.dispatch("VOICE_STATE_UPDATE", self._voice_state(guild_id, user_id, None, ""),
                            guild_id=guild_id)
        if self.voice is not None:
            await self.voice.leave(user_id, disconnect_lost=disconnect_lost)
