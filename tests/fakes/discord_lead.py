"""A fake Discord: REST under /api/v10 and the gateway websocket, on 127.0.0.1, for the real discord.py.

It keeps a small world (users, guilds, channels, messages, webhooks, application commands), speaks the
gateway protocol (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME, dispatches; shards; Discord's
session-start rules: one IDENTIFY per bucket per five seconds, a faster one answered with an invalid session,
and the daily session starts counted and told in GET /gateway/bot), and
echoes every message a bot posts back as MESSAGE_CREATE, as Discord does. Tests act as users through
``user_message`` / ``dm_message`` / ``interaction_*`` and read what the bot did from the records.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes import EVENT_WAIT, serve_local
from tests.fakes.discord_cdn import CdnWorld
from tests.fakes.discord_commands import refuse_commands
from tests.fakes.discord_components import (
    SERVED_WINDOW,
    V2_FLAG,
    refuse_callback,
    refuse_components,
    refuse_token_use,
    refuse_v2_edit,
    walk_components,
    webhook_components,
)
from tests.fakes.discord_edits import refuse_edit, refuse_webhook_edit, refuse_webhook_thread, too_long
from tests.fakes.discord_faults import Reliability
from tests.fakes.discord_guild import (
    ADD_REACTIONS,
    ADMINISTRATOR,
    MANAGE_THREADS,
    NOT_MINE,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    VIEW_CHANNEL,
    GuildWorld,
    mention_text,
)
from tests.fakes.discord_profile import ProfileWorld
from tests.fakes.discord_voice import VoiceWorld

DISCORD_EPOCH_MS = 1420070400000
API = "/api/v10"
IDENTIFY_WINDOW = 5.0  # seconds: one IDENTIFY per bucket in this long
ALL_PERMISSIONS = str((1 << 50) - 1)
VOICE_MESSAGE_FLAG = 1 << 13  # IS_VOICE_MESSAGE
# Events of a DM (no guild): Discord sends them to shard 0 only.
DM_EVENTS = frozenset({"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_REACTION_ADD",
                       "MESSAGE_REACTION_REMOVE", "TYPING_START", "CHANNEL_CREATE", "CHANNEL_PINS_UPDATE",
                       "INTERACTION_CREATE"})
# view/send/embed/attach/history
# Privileged gateway intents (IDENTIFY's bit -> the application flag set when it is on in the developer
# portal, the "limited" flag of a bot in fewer than 100 servers): asking for one that is off closes with 4014.
PRIVILEGED_INTENTS = {"guild_members": (1 << 1, 1 << 15), "guild_presences": (1 << 8, 1 << 13),
                      "message_content": (1 << 15, 1 << 19)}
# Gateway intents that decide which reaction events a session gets (Discord sends none without them).
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGE_REACTIONS = 1 << 13
MEMBER_PERMISSIONS = str(0x400 | 0x800 | 0x4000 | 0x8000 | 0x10000 | 0x40 | 0x80000000)


@dataclass
class Session:
    ws: web.WebSocketResponse
    session_id: str
    token: str
    shard: tuple[int, int]
    seq: int = 0
    intents: int = 0  # as asked for in IDENTIFY
    identified: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)  # dispatched payloads, for RESUME replay
    resumable: bool = True  # False after a close or op 9 that ends it (tests/fakes/discord_faults.py)
    closed_by_server: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    headers: dict[str, str] = field(default_factory=dict)

# Discord's locales (its Reference, "Locales"): what an interaction's ``locale`` may be.
DISCORD_LOCALES = frozenset({
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl", "no", "pl",
    "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th", "zh-CN", "ja",
    "zh-TW", "ko"})


class FakeDiscord(GuildWorld, CdnWorld, Reliability, ProfileWorld, VoiceWorld):
    def __init__(self, *, heartbeat_interval_ms: int = 45_000) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.users: dict[int, dict[str, Any]] = {}
        # each person's Discord client language, sent as every interaction's ``locale`` (en-US unless set)
        self.locales: dict[int, str] = {}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[int, dict[str, Any]]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> payloads
        self.bots: dict[str, dict[str, Any]] = {}  # token -> bot user
        self.application_id = 0
        self.owner_id = 0
        self.team: dict[str, Any] | None = None
        # The privileged intents switched on for the application in the developer portal.
        self.enabled_intents: set[str] = set(PRIVILEGED_INTENTS)
        self.sessions: list[Session] = []
        self.dead_sessions: dict[str, Session] = {}
        self.ack_delays: list[float] = []  # seconds to hold back each next heartbeat ACK (a slow gateway)
        self.requests: list[Recorded] = []
        self.gateway_log: list[tuple[str, Any]] = []
        # Discord's session-start rules: max_concurrency IDENTIFYs per five seconds, one per bucket
        # (shard_id % max_concurrency), a faster one answered with an invalid session; and so many session
        # starts a day, past which the bot's sessions end and its token is reset.
        self.max_concurrency = 16
        self.session_start_total = 1000
        self.session_start_reset_after = 24 * 3600.0  # seconds until the day's starts come back
        self.session_starts: dict[str, int] = {}  # bot token -> session starts spent today
        self.identified_at: dict[tuple[str, int], float] = {}  # (token, bucket) -> when it last IDENTIFYed
        self.too_early_identifies = 0  # IDENTIFYs inside their bucket's window (answered with op 9)
        # Discord's REST limits per bot: so many requests a second (a global 429 past it), and the invalid
        # requests (401, 403, 429) counted, as Cloudflare counts them.
        self.global_limit = 50
        self._global_counts: dict[str, tuple[int, int]] = {}  # token -> (second, requests in it)
        self.busiest_second: dict[str, int] = {}  # token -> the most requests it sent in one second
        self.global_limited = 0  # requests answered with a global 429
        self.invalid_requests = 0
        self.interactions: dict[int, dict[str, Any]] = {}  # id -> {"payload", "callbacks", "followups"}
        # seconds an interaction's first response may take: SERVED_WINDOW for a loaded test machine, or
        # Discord's own 3 s (RESPONSE_WINDOW) for a test of a command that must answer in time
        self.response_window = SERVED_WINDOW
        self.cdn_requests: list[int] = []  # attachment ids whose files were downloaded
        self.cdn_stall: asyncio.Event | None = None  # a test's stalled CDN: downloads wait for it
        self.presences: list[dict[str, Any]] = []  # every PRESENCE_UPDATE (op 3) a bot sent, in order
        self.reactions: list[dict[str, Any]] = []  # every reaction a bot added: channel, message, emoji, user
        self._typing: dict[int, list[float]] = {}
        self._snow = itertools.count(1)
        self.time_offset = 0.0
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._init_guild_world()  # roles, bans, audit log, rate limits (tests/fakes/discord_guild.py)
        self._init_cdn()  # attachment files (tests/fakes/discord_cdn.py)
        self._init_profiles()  # the bot's own face per server (tests/fakes/discord_profile.py)
        self._init_reliability()  # nonces, 429s and gateway faults on demand (tests/fakes/discord_faults.py)
        self._init_voice()  # voice channels and the voice server (tests/fakes/discord_voice.py)
        self.add_bot("fake-discord-token", 800_000_000_000_000_001, "Kindred")

    # ------------------------------------------------------------------ world model

    def snowflake(self) -> int:
        # ``time_offset``: seconds a benchmark's virtual clock runs ahead (a person's pauses, not slept)
        ms = int((time.time() + self.time_offset) * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._snow) & 0x3FFFFF)

    def add_bot(self, token: str, user_id: int, username: str) -> dict[str, Any]:
        """A bot account; several may connect at once (one process per character)."""
        user = self.add_user(user_id, username, bot=True)
        self.bots[token] = user
        if not self.application_id:
            self.application_id = user_id
        return user

    @property
    def application_flags(self) -> int:
        return sum(flag for name, (_, flag) in PRIVILEGED_INTENTS.items() if name in self.enabled_intents)

    def add_user(self, user_id: int, username: str, *, bot: bool = False) -> dict[str, Any]:
        user = {"id": str(user_id), "username": username, "global_name": None, "discriminator": "0",
                "avatar": None, "bot": bot, "public_flags": 0}
        self.users[user_id] = user
        return user

    def set_locale(self, user_id: int, locale: str) -> None:
        """The language ``user_id``'s Discord client is set to: one of Discord's locales (ja, es-ES...)."""
        assert locale in DISCORD_LOCALES, f"{locale!r} is not one of Discord's locales"
        self.locales[user_id] = locale

    def set_application_owner(self, user_id: int) -> None:
        self.owner_id = user_id

    def set_application_team(self, owner_id: int, members: list[tuple[int, str, int]]) -> None:
        """The application belongs to a team (as Discord sends it: ``owner`` is then the team's own user,
        the owner a member): ``members`` as (user id, role: admin | developer | read_only, membership state:
        1 invited, 2 accepted)."""
        team_id = 900_000_000_000_009_999
        self.team = {"id": str(team_id), "icon": None, "name": "Kindred team", "owner_user_id": str(owner_id),
                     "members": [{"membership_state": state, "team_id": str(team_id), "permissions": ["*"],
                                  "role": role, "user": self.users[uid]} for uid, role, state in members]}

    def add_guild(self, guild_id: int, name: str, *, channels: list[tuple[int, str]],
                  owner_id: int = 0) -> None:
        self.guilds[guild_id] = {"id": str(guild_id), "name": name, "owner_id": str(owner_id)}
        self.members.setdefault(guild_id, {})
        self._make_role(guild_id, "@everyone", int(MEMBER_PERMISSIONS), 0)
        for position, (cid, cname) in enumerate(channels):
            self.channels[cid] = {"id": str(cid), "type": 0, "name": cname, "guild_id": str(guild_id),
                                  "position": position, "permission_overwrites": [], "nsfw": False,
                                  "topic": None, "last_message_id": None, "rate_limit_per_user": 0,
                                  "parent_id": None, "flags": 0}
        for position, bot in enumerate(self.bots.values(), 1):
            # Each bot gets its managed role (administrator unless a test narrows it), as an invite gives.
            role = self._make_role(guild_id, str(bot["username"]), ADMINISTRATOR, position,
                                   bot_id=int(bot["id"]))
            self.add_member(guild_id, int(bot["id"]))
            self.members[guild_id][int(bot["id"])]["roles"] = [role["id"]]

    def add_emoji(self, guild_id: int, name: str, *, animated: bool = False) -> int:
        """A custom emoji of the guild (sent in GUILD_CREATE; reactions with it are accepted)."""
        emoji_id = self.snowflake()
        self.guilds[guild_id].setdefault("emojis", []).append(
            {"id": str(emoji_id), "name": name, "roles": [], "require_colons": True, "managed": False,
             "animated": animated, "available": True})
        return emoji_id

    def custom_status(self) -> str | None:
        """The custom status (activity type 4) of the latest presence update, if it had one."""
        if not self.presences:
            return None
        custom = [a for a in self.presences[-1].get("activities") or [] if a.get("type") == 4]
        return str(custom[0].get("state")) if custom else None

    def add_member(self, guild_id: int, user_id: int, *, admin: bool = False) -> None:
        self.members[guild_id][user_id] = {"user": self.users[user_id], "roles": [], "nick": None,
                                           "avatar": None,
                                           "joined_at": _iso(), "deaf": False, "mute": False, "flags": 0,
                                           "pending": False, "premium_since": None, "_admin": admin,
                                           "communication_disabled_until": None}

    def _member_payload(self, guild_id: int, user_id: int, *, with_user: bool = True) -> dict[str, Any]:
        member = dict(self.members[guild_id][user_id])
        member.pop("_admin")
        member["permissions"] = str(self.permissions_of(guild_id, user_id))
        if not with_user:
            member.pop("user")
        return member

    def _guild_payload(self, guild_id: int) -> dict[str, Any]:
        guild = self.guilds[guild_id]
        return {
            **guild, "unavailable": False, "icon": None, "splash": None, "discovery_splash": None,
            "features": [], "emojis": list(guild.get("emojis", [])), "stickers": [],
            "roles": self._guild_roles(guild_id),
            "channels": [c for c in self.channels.values() if c.get("guild_id") == guild["id"]
                         and c["type"] not in (11, 12)],
            "members": [self._member_payload(guild_id, uid) for uid in self.members[guild_id]],
            "member_count": guild.get("member_count", len(self.members[guild_id])), "large": False,
            "presences": [],
            "threads": [{k: v for k, v in c.items() if not k.startswith("_")} for c in self.channels.values()
                        if c.get("guild_id") == guild["id"] and c["type"] in (11, 12)
                        and not c["thread_metadata"]["archived"]],
            "voice_states": [{k: v for k, v in state.items() if k != "member"}
                             for state in self.voice_states.get(guild_id, {}).values()],
            "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
            "joined_at": _iso(), "verification_level": 0, "default_message_notifications": 0, "mfa_level": 0,
            "explicit_content_filter": 0, "premium_tier": guild.get("premium_tier", 0),
            "system_channel_flags": 0, "preferred_locale": guild.get("preferred_locale", "en-US"),
            "nsfw_level": 0, "application_id": None, "afk_channel_id": None, "afk_timeout": 300,
            "system_channel_id": None, "rules_channel_id": None, "public_updates_channel_id": None,
            "premium_progress_bar_enabled": False, "vanity_url_code": None, "description": None,
            "banner": None,
        }

    def dm_channel_for(self, user_id: int, bot_id: int | None = None) -> int:
        """The DM channel between a user and a bot (created on first use, stable afterwards)."""
        bot_id = bot_id or int(next(iter(self.bots.values()))["id"])
        for cid, ch in self.channels.items():
            if (ch["type"] == 1 and {int(r["id"]) for r in ch["recipients"]} == {user_id}
                    and ch["_bot"] == bot_id):
                return cid
        cid = self.snowflake()
        self.channels[cid] = {"id": str(cid), "type": 1, "recipients": [self.users[user_id]],
                              "last_message_id": None, "_bot": bot_id}
        return cid

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_ws)
        app.router.add_get("/cdn/attachments/{aid}/{filename}", self._cdn)
        self.add_cdn_routes(app)
        app.router.add_route("*", API + "/{tail:.*}", self._rest)
        self._runner, self.port = await serve_local(app)
        return self

    async def close(self) -> None:
        await self.close_voice()
        for s in list(self.sessions):
            await s.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def wait_for(self, predicate: Callable[[FakeDiscord], Any], timeout: float = EVENT_WAIT,
                       what: str = "condition") -> Any:
        """Poll ``predicate`` until it is truthy (polling keeps this usable from any event loop)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate(self)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.002)

    # ------------------------------------------------------------------ gateway

    async def _gateway_ws(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse_connect()
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                                      "s": None, "t": None}))
        session: Session | None = None
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            op, data = payload.get("op"), payload.get("d")
            self.gateway_log.append((str(op), data if op != 2 else {**data, "token": "***"}))
            if op == 1:
                if self.ack_delays:  # at least that long: uvloop's timers keep to the millisecond, and may
                    await asyncio.sleep(self.ack_delays.pop(0) + 0.002)  # fire a fraction of one early
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                session = await self._identify(ws, data)
            elif op == 6:
                session = await self._resume(ws, data)
            elif op == 3:
                self.presences.append(data)
            elif op == 4 and session is not None:
                await self._voice_state_update(session, data)
        if session is not None and session in self.sessions and session.ws is ws:  # not resumed elsewhere
            self.sessions.remove(session)
            if ws.close_code in (1000, 1001) and not session.closed_by_server:
                session.resumable = False  # Discord: a client closing with 1000 or 1001 ends its session
            if session.resumable:  # events sent until it resumes are kept for the replay
                self.dead_sessions[session.session_id] = session
        return ws

    async def request_heartbeat(self) -> None:
        """Ask every connected session for a heartbeat now (op 1), as Discord may at any time."""
        for session in list(self.sessions):
            if not session.ws.closed:
                await session.ws.send_str(json.dumps({"op": 1, "d": None, "s": None, "t": None}))

    def identify_windows_pass(self) -> None:
        """As if every bucket's IDENTIFY window had run out: a bot process started again after one stopped
        takes longer than the window (its model loaded, its database opened), which a test need not wait."""
        for bucket, at in self.identified_at.items():
            self.identified_at[bucket] = at - IDENTIFY_WINDOW

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        token = str(data.get("token", "")).removeprefix("Bot ")
        user = self.bots.get(token)
        if user is None:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        asked = int(data.get("intents") or 0)
        if any(asked & bit and name not in self.enabled_intents
               for name, (bit, _) in PRIVILEGED_INTENTS.items()):
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = tuple(data.get("shard") or (0, 1))
        bucket = (token, int(shard[0]) % self.max_concurrency)
        now = time.monotonic()
        if now - self.identified_at.get(bucket, -IDENTIFY_WINDOW) < IDENTIFY_WINDOW:
            self.too_early_identifies += 1
            await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return None
        if self.session_starts.get(token, 0) >= self.session_start_total:
            await ws.close(code=4004, message=b"Authentication failed.")  # Discord resets the token
            return None
        self.identified_at[bucket] = now
        self.session_starts[token] = self.session_starts.get(token, 0) + 1
        session = Session(ws, f"session-{self.snowflake()}", token, (int(shard[0]), int(shard[1])),
                          intents=asked)
        self.sessions.append(session)
        guilds = [g for g in self.guilds if self._on_shard(g, session.shard)]
        await self._send(session, "READY", {
            "v": 10, "user": {**user, "verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds], "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url, "shard": list(session.shard),
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [], "presences": [], "user_settings": {}, "guild_join_requests": [],
            "geo_ordered_rtc_regions": [], "auth_session_id_hash": "x"})
        for g in guilds:
            await self._send(session, "GUILD_CREATE", self._guild_payload(g))
        session.identified = True
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> Session | None:
        old = self.dead_sessions.pop(str(data.get("session_id")), None)
        if old is None:  # its old connection may still be closing: Discord lets the client resume at once
            old = next((s for s in self.sessions if s.session_id == data.get("session_id") and s.ws is not ws
                        and s.resumable and s.token == str(data.get("token", "")).removeprefix("Bot ")),
                       None)
            if old is not None:
                self.sessions.remove(old)
        if old is None:
            await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))  # invalid session
            return None
        old.ws = ws
        old.closed_by_server = False
        self.sessions.append(old)
        for payload in [p for p in old.sent if p["s"] > int(data.get("seq") or 0)]:
            await ws.send_str(json.dumps(payload))
        await self._send(old, "RESUMED", {})
        return old

    @staticmethod
    def _on_shard(guild_id: int, shard: tuple[int, int]) -> bool:
        return (guild_id >> 22) % shard[1] == shard[0]

    async def _send(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.sent.append(payload)
        if not session.ws.closed:
            await session.ws.send_str(json.dumps(payload))

    async def dispatch(self, event: str, data: dict[str, Any], *, guild_id: int | None = None,
                       only_token: str | None = None, intent: int = 0) -> None:
        """Send an event to every connected session that should see it (by shard, by bot, and by
        ``intent``: a bit the session must have asked for, when the event needs one)."""
        # A session that may still RESUME counts: what it misses meanwhile is replayed (see _resume).
        await self.wait_for(lambda d: any(s.identified for s in [*d.sessions, *d.dead_sessions.values()]),
                            timeout=10, what="a gateway session")
        for session in [*self.sessions, *self.dead_sessions.values()]:  # a resumable one gets them on RESUME
            if only_token is not None and session.token != only_token:
                continue
            if intent and not session.intents & intent:
                continue
            if guild_id is not None and not self._on_shard(guild_id, session.shard):
                continue
            if guild_id is None and event in DM_EVENTS and session.shard[0] != 0:
                continue  # Discord sends direct messages (and what happens in them) to shard 0 only
            if guild_id is None and event == "MESSAGE_CREATE" and not self._sees_dm(session, data):
                continue
            await self._send(session, event, data)

    def _sees_dm(self, session: Session, message: dict[str, Any]) -> bool:
        channel = self.channels.get(int(message["channel_id"]), {})
        return channel.get("_bot") in (None, int(self.bots[session.token]["id"]))

    async def force_reconnect(self) -> None:
        """Drop every connection with a resumable close code: clients RESUME and get missed events."""
        for session in list(self.sessions):
            session.closed_by_server = True  # the client's answering close frame does not end the session
            await session.ws.close(code=4000, message=b"Unknown error")

    # ------------------------------------------------------------------ messages

    def _message(self, channel_id: int, author: dict[str, Any], content: str, *,
                 mentions: list[int] | None = None,
                 reply_to: int | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        channel = self.channels[channel_id]
        mid = self.snowflake()
        message: dict[str, Any] = {
            "id": str(mid), "channel_id": str(channel_id), "author": author, "content": content,
            "timestamp": _iso(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [self.users[u] for u in (mentions or []) if u in self.users], "mention_roles": [],
            "attachments": [], "embeds": [], "pinned": False, "type": 0, "flags": 0, "components": [],
        }
        if channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
            uid = int(author["id"])
            if uid in self.members.get(int(channel["guild_id"]), {}):
                message["member"] = self._member_payload(int(channel["guild_id"]), uid, with_user=False)
        if reply_to is not None:
            ref = self.messages.get(reply_to)
            message["type"] = 19
            message["message_reference"] = {"message_id": str(reply_to), "channel_id": str(channel_id),
                                            **({"guild_id": channel["guild_id"]} if channel.get("guild_id")
                                               else {})}
            message["referenced_message"] = ref
        message.update(extra or {})
        message["_at"] = time.perf_counter()
        self.messages[mid] = message
        return message

    @staticmethod
    def _public(message: dict[str, Any]) -> dict[str, Any]:
        """The payload as Discord would send it: without the fake's own bookkeeping keys."""
        out = {k: v for k, v in message.items() if not k.startswith("_")}
        if out.get("attachments"):
            out["attachments"] = [{k: v for k, v in a.items() if not k.startswith("_")}
                                  for a in out["attachments"]]
        if isinstance(out.get("referenced_message"), dict):  # it may carry attachments (files) too
            out["referenced_message"] = FakeDiscord._public(out["referenced_message"])
        thread = message.get("_thread_channel")  # the thread started from it, while it lasts
        if isinstance(thread, dict) and not thread.get("_gone"):
            out["thread"] = {k: v for k, v in thread.items() if not k.startswith("_")}
        return out

    def sticker(self, name: str, *, format_type: int = 1) -> dict[str, Any]:
        """A sticker item as a message carries it (``sticker_items``): format 1 PNG, 2 APNG, 3 Lottie."""
        return {"id": str(self.snowflake()), "name": name, "format_type": format_type}

    def forward(self, content: str = "", *, attachments: list[dict[str, Any]] | None = None,
                stickers: list[dict[str, Any]] | None = None,
                embeds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A forwarded message (for ``forwarded=``): Discord sends its copy as a snapshot, and the forwarding
        message has no content of its own."""
        return {"message": {"type": 0, "content": content, "embeds": list(embeds or []),
                            "attachments": list(attachments or []), "sticker_items": list(stickers or []),
                            "timestamp": _iso(), "edited_timestamp": None, "flags": 0, "mentions": [],
                            "mention_roles": [], "components": []}}

    def _carried(self, attachments: list[dict[str, Any]] | None, stickers: list[dict[str, Any]] | None,
                 embeds: list[dict[str, Any]] | None, forwarded: dict[str, Any] | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"attachments": list(attachments or []), "embeds": list(embeds or [])}
        if stickers:
            extra["sticker_items"] = list(stickers)
        if forwarded is not None:  # a reference of type 1 (forward) to a message elsewhere, and its snapshot
            extra["message_reference"] = {"type": 1, "message_id": str(self.snowflake()),
                                          "channel_id": str(self.snowflake())}
            extra["message_snapshots"] = [forwarded]
        return extra

    async def user_message(self, channel_id: int, author_id: int, content: str, *,
                           mentions: list[int] | None = None,
                           reply_to: int | None = None, attachments: list[dict[str, Any]] | None = None,
                           stickers: list[dict[str, Any]] | None = None,
                           embeds: list[dict[str, Any]] | None = None,
                           forwarded: dict[str, Any] | None = None) -> dict[str, Any]:
        """A user (or another bot) posts in a guild channel: MESSAGE_CREATE to the bot(s). ``attachments``
        (see :meth:`attachment`), ``stickers`` (see :meth:`sticker`), ``embeds`` (embed objects) and
        ``forwarded`` (see :meth:`forward`) come with it."""
        message = self._message(channel_id, self.users[author_id], content, mentions=mentions,
                                reply_to=reply_to,
                                extra=self._carried(attachments, stickers, embeds, forwarded))
        message["_user"] = True
        await self.unarchive_on_post(channel_id, locked_too=False)
        guild_id = self.channels[channel_id].get("guild_id")
        await self.dispatch("MESSAGE_CREATE", self._public(message),
                            guild_id=int(guild_id) if guild_id else None)
        return message

    async def webhook_message(self, channel_id: int, content: str, *, creator: int,
                              name: str = "Announcements") -> dict[str, Any]:
        """Another integration's webhook (made by user ``creator``, not by a bot here) posts in a channel:
        MESSAGE_CREATE with ``webhook_id``, the webhook as author (``bot`` true), as Discord sends it."""
        hook = self._create_webhook(channel_id, {"name": name}, self.users[creator])
        return await self._webhook_execute(int(hook["id"]), hook["token"], {"content": content}, [],
                                           {"wait": "true"})

    async def dm_message(self, author_id: int, content: str, *, bot_token: str | None = None,
                         attachments: list[dict[str, Any]] | None = None,
                         stickers: list[dict[str, Any]] | None = None,
                         embeds: list[dict[str, Any]] | None = None,
                         forwarded: dict[str, Any] | None = None) -> dict[str, Any]:
        """A user DMs a bot (with what it carries, as in :meth:`user_message`)."""
        bot = self.bots[bot_token] if bot_token else next(iter(self.bots.values()))
        cid = self.dm_channel_for(author_id, int(bot["id"]))
        message = self._message(cid, self.users[author_id], content,
                                extra=self._carried(attachments, stickers, embeds, forwarded))
        message["_user"] = True
        await self.dispatch("MESSAGE_CREATE", self._public(message))
        return message

    async def user_reaction(self, message: dict[str, Any], user_id: int, emoji: str, *,
                            remove: bool = False, burst: bool = False,
                            emoji_id: int | None = None) -> None:
        """A user adds (or ``remove``s) a reaction to ``message``: MESSAGE_REACTION_ADD / _REMOVE as
        Discord sends it, only to sessions with the guild (or direct) message reactions intent. ``emoji``:
        a unicode emoji, or a custom emoji's name with ``emoji_id``."""
        channel_id = int(message["channel_id"])
        guild_id = self.channels[channel_id].get("guild_id")
        if user_id not in self.users:
            self.add_user(user_id, f"reactor{user_id % 100_000}")
        data: dict[str, Any] = {
            "user_id": str(user_id), "channel_id": str(channel_id), "message_id": str(message["id"]),
            "emoji": {"id": str(emoji_id) if emoji_id else None, "name": emoji},
            "burst": burst, "type": 1 if burst else 0}
        if guild_id:
            data["guild_id"] = str(guild_id)
        if not remove:
            data["message_author_id"] = str(message["author"]["id"])
            data["burst_colors"] = ["#ff0000"] if burst else []
            if guild_id:
                gid = int(guild_id)
                if user_id not in self.members.get(gid, {}):
                    self.add_member(gid, user_id)
                data["member"] = self._member_payload(gid, user_id)
        await self.dispatch("MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD", data,
                            guild_id=int(guild_id) if guild_id else None,
                            intent=GUILD_MESSAGE_REACTIONS if guild_id else DIRECT_MESSAGE_REACTIONS)

    async def voice_message(self, author_id: int, audio: bytes, *, channel_id: int | None = None,
                            duration: float = 1.5, waveform: bytes = bytes([16, 128, 255, 128, 16]),
                            reply_to: int | None = None) -> dict[str, Any]:
        """A user sends a voice message (in ``channel_id``, else a DM to the bot): no content, flag 8192, one
        Ogg attachment with ``duration_secs`` and ``waveform``, its file served by this fake's CDN."""
        cid = channel_id if channel_id is not None else self.dm_channel_for(author_id)
        aid = self.snowflake()
        url = f"http://127.0.0.1:{self.port}/cdn/attachments/{aid}/voice-message.ogg"
        attachment = {"id": str(aid), "filename": "voice-message.ogg", "size": len(audio), "url": url,
                      "proxy_url": url, "content_type": "audio/ogg", "duration_secs": duration,
                      "waveform": base64.b64encode(waveform).decode(), "_data": audio}
        message = self._message(cid, self.users[author_id], "", reply_to=reply_to,
                                extra={"attachments": [attachment], "flags": VOICE_MESSAGE_FLAG})
        message["_user"] = True
        guild_id = self.channels[cid].get("guild_id")
        await self.dispatch("MESSAGE_CREATE", self._public(message),
                            guild_id=int(guild_id) if guild_id else None)
        return message

    async def _cdn(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["aid"])
        for message in self.messages.values():
            for attachment in message.get("attachments") or []:
                if int(attachment["id"]) == aid and "_data" in attachment:
                    self.cdn_requests.append(aid)
                    if self.cdn_stall is not None:
                        await self.cdn_stall.wait()
                    kind = attachment.get("content_type") or "application/octet-stream"
                    return web.Response(body=attachment["_data"], content_type=kind)
        return web.Response(status=404)

    def posted(self, channel_id: int | None = None) -> list[dict[str, Any]]:
        """Messages bots (and their webhooks) posted, oldest first; ephemeral replies are not messages."""
        return [m for m in self.messages.values() if not m.get("_user") and not m.get("_deleted")
                and (channel_id is None or int(m["channel_id"]) == channel_id)]

    def typing(self, channel_id: int) -> list[float]:
        return list(self._typing.get(channel_id, []))

    async def wait_for_messages(self, channel_id: int, count: int,
                                timeout: float = EVENT_WAIT) -> list[dict[str, Any]]:
        return await self.wait_for(lambda d: len(d.posted(channel_id)) >= count and d.posted(channel_id),
                                   timeout, what=f"{count} bot message(s) in channel {channel_id}")

    # ------------------------------------------------------------------ interactions

    def _interaction_base(self, itype: int, user_id: int, channel_id: int | None, guild_id: int | None,
                          data: dict[str, Any] | None,
                          message: dict[str, Any] | None = None) -> dict[str, Any]:
        iid = self.snowflake()
        token = f"itoken-{iid}"
        if channel_id is None:
            channel_id = self.dm_channel_for(user_id)
        channel = {k: v for k, v in self.channels[channel_id].items() if not k.startswith("_")}
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.application_id), "type": itype, "token": token,
            "version": 1,
            "channel_id": str(channel_id), "channel": channel, "locale": self.locales.get(user_id, "en-US"),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": str(user_id)},
            "context": 0 if guild_id else 1, "attachment_size_limit": 8_388_608,
            "app_permissions": (str(self.permissions_of(guild_id, self.application_id)) if guild_id
                                else ALL_PERMISSIONS),
        }
        if data is not None:
            payload["data"] = data
        if guild_id:
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["member"] = self._member_payload(guild_id, user_id)
        else:
            payload["user"] = self.users[user_id]
        if message is not None:
            payload["message"] = self._public(message)
        self.interactions[iid] = {"payload": payload, "callbacks": [], "followups": [], "token": token,
                                  "created": time.monotonic()}
        return payload

    async def interaction_command(self, name: str, options: list[dict[str, Any]], *, user_id: int,
                                  channel_id: int | None, guild_id: int | None,
                                  command_type: int = 1) -> Interaction:
        """Invoke a registered slash command (options as Discord sends them, subcommands included)."""
        command = self._find_command(name, guild_id)
        data = {"id": command["id"] if command else str(self.snowflake()), "name": name, "type": command_type,
                "options": options}
        if guild_id:
            data["guild_id"] = str(guild_id)
        resolved = self._resolved(options, guild_id)  # users, members, roles, channels named in options
        if resolved:
            data["resolved"] = resolved
        payload = self._interaction_base(2, user_id, channel_id, guild_id, data)
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return Interaction(self, int(payload["id"]))

    async def interaction_autocomplete(self, name: str, options: list[dict[str, Any]], *, user_id: int,
                                       channel_id: int | None, guild_id: int | None) -> Interaction:
        """Options must contain one with ``"focused": True``."""
        command = self._find_command(name, guild_id)
        data = {"id": command["id"] if command else "0", "name": name, "type": 1, "options": options}
        payload = self._interaction_base(4, user_id, channel_id, guild_id, data)
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return Interaction(self, int(payload["id"]))

    async def interaction_component(self, message: dict[str, Any], custom_id: str, *, user_id: int,
                                    values: list[str] | None = None) -> Interaction:
        """Click a button (or choose in a select menu) on a message the bot sent."""
        current = self.messages.get(int(message["id"]), message)
        component_type = 2
        for comp in walk_components(current.get("components") or []):  # nested in a V2 layout too
            if comp.get("custom_id") == custom_id:
                component_type = comp.get("type", 2)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        channel = self.channels[int(current["channel_id"])]
        guild_id = int(channel["guild_id"]) if channel.get("guild_id") else None
        payload = self._interaction_base(3, user_id, int(current["channel_id"]), guild_id, data, current)
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        return Interaction(self, int(payload["id"]))

    # ------------------------------------------------------------------ user installs

    def add_outside_channel(self, channel_id: int, *, guild_id: int | None = None,
                            recipients: tuple[int, ...] = ()) -> None:
        """A place the bot was never invited to, where a person who installed the app can still use it: a
        channel of a server the bot is not in (``guild_id``; the guild is never sent to the bot), or a group
        DM (type 3) of ``recipients``."""
        if guild_id is not None:
            assert guild_id not in self.guilds, "the bot is in every guild of add_guild"
            self.channels[channel_id] = {"id": str(channel_id), "type": 0, "name": "elsewhere",
                                         "guild_id": str(guild_id), "position": 0,
                                         "permission_overwrites": [], "nsfw": False, "topic": None,
                                         "last_message_id": None,
                                         "rate_limit_per_user": 0, "parent_id": None, "flags": 0,
                                         "_outside": True}
        else:
            self.channels[channel_id] = {"id": str(channel_id), "type": 3, "name": None, "owner_id":
                                         str(recipients[0]) if recipients else None, "last_message_id": None,
                                         "recipients": [self.users[u] for u in recipients], "_outside": True}

    def message_from_before(self, channel_id: int, author_id: int, content: str) -> dict[str, Any]:
        """A message already in a channel, posted while no bot was connected: stored (history and fetches find
        it), never sent to a gateway."""
        return self._public(self._message(channel_id, self.users[author_id], content))

    def post_outside(self, channel_id: int, author_id: int, content: str) -> dict[str, Any]:
        """A message in a place the bot is not in: stored, never sent to the bot's gateway."""
        message = self._message(channel_id, self.users[author_id], content)
        message.pop("member", None)
        return self._public(message)

    async def interaction_installed(self, name: str, options: list[dict[str, Any]] | None = None, *,
                                    user_id: int, channel_id: int, guild_id: int | None = None,
                                    user_install: bool = True, target: dict[str, Any] | None = None,
                                    external_apps_allowed: bool = True) -> Interaction:
        """A command of an app installed to a person (``user_install``), used where it is installed: in a
        guild the bot is not in (``guild_id``: context 0, a guild the bot was never sent), in a group DM
        (no guild: context 2) or in the bot's DM. As Discord does, a guild's interaction carries the invoker
        as a ``member`` (with their permissions) and only a partial ``guild``; elsewhere a ``user``.
        ``target``: the message a message menu (type 3) was used on. Where the server disables external
        apps (``external_apps_allowed`` False) the app may not send messages and Discord forces its responses
        ephemeral."""
        channel = {k: v for k, v in self.channels[channel_id].items() if not k.startswith("_")}
        command = self._find_command(name, None)
        data: dict[str, Any] = {"id": command["id"] if command else str(self.snowflake()), "name": name,
                                "type": 3 if target is not None else 1}
        if target is not None:
            data["target_id"] = target["id"]
            data["resolved"] = {"messages": {target["id"]: target}}
        else:
            data["options"] = options or []
        context = 0 if guild_id else (2 if channel["type"] == 3 else 1)
        iid = self.snowflake()
        permissions = int(MEMBER_PERMISSIONS) & ~(0 if external_apps_allowed else SEND_MESSAGES)
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(self.application_id), "type": 2, "token": f"itoken-{iid}",
            "version": 1, "data": data, "channel_id": str(channel_id), "channel": channel,
            "locale": self.locales.get(user_id, "en-US"),
            "entitlements": [], "context": context, "attachment_size_limit": 8_388_608,
            "authorizing_integration_owners": ({"1": str(user_id)} if user_install
                                               else {"0": str(guild_id)}),
            "app_permissions": str(permissions),
        }
        if guild_id:  # as Discord sends it in any guild: the invoker as a member, the guild only partial
            payload["guild_id"] = str(guild_id)
            payload["guild_locale"] = "en-US"
            payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
            payload["member"] = {"user": self.users[user_id], "roles": [], "joined_at": _iso(), "deaf": False,
                                 "mute": False, "flags": 0, "pending": False, "nick": None, "avatar": None,
                                 "permissions": MEMBER_PERMISSIONS}
        else:
            payload["user"] = self.users[user_id]
        self.interactions[iid] = {"payload": payload, "callbacks": [], "followups": [],
                                  "token": f"itoken-{iid}", "created": time.monotonic(),
                                  "forced_ephemeral": not external_apps_allowed}
        await self.dispatch("INTERACTION_CREATE", payload, guild_id=None)
        return Interaction(self, iid)

    def _find_command(self, name: str, guild_id: int | None) -> dict[str, Any] | None:
        for scope in ([str(guild_id)] if guild_id else []) + ["global"]:
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        return None

    def registered_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return list(self.commands.get(str(guild_id) if guild_id else "global", []))

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        response = await self._rest_answer(request)
        if response.status in (401, 403, 429) and response.headers.get("X-RateLimit-Scope") != "shared":
            self.invalid_requests += 1  # what Cloudflare bans an address for at 10,000 in ten minutes
        return response

    def _global_limit(self, token: str, path: str) -> web.Response | None:
        """Discord's global limit: ``global_limit`` requests a second per bot (interactions and webhooks
        aside), more answered with a global 429."""
        if not token or path.startswith(("/interactions/", "/webhooks/")):
            return None
        now = time.time()
        second = int(now)
        counted = self._global_counts.get(token)
        count = counted[1] + 1 if counted is not None and counted[0] == second else 1
        self._global_counts[token] = (second, count)
        self.busiest_second[token] = max(self.busiest_second.get(token, 0), count)
        if count <= self.global_limit:
            return None
        self.global_limited += 1
        retry = round(max(second + 1 - now, 0.001), 3)
        limited = _json({"message": "You are being rate limited.", "retry_after": retry, "global": True}, 429)
        # As Discord sends it: discord.py takes a 429 without Via for a Cloudflare ban and gives up, and
        # with it waits retry_after (holding every request of the process) and sends the request again.
        limited.headers.update({"Retry-After": "1", "X-RateLimit-Global": "true",
                                "X-RateLimit-Scope": "global", "Via": "1.1 google"})
        return limited

    async def _rest_answer(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: list[dict[str, Any]] = []
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type.startswith("multipart/"):
            body, files = await _read_multipart(request)
            if sum(len(f["data"]) for f in files) > UPLOAD_LIMIT:  # Discord refuses the whole request
                return _json({"message": "Request entity too large", "code": 40005}, 413)
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-")}
        self.requests.append(Recorded(request.method, path, dict(request.query), body, time.perf_counter(),
                                      headers))
        token = request.headers.get("Authorization", "").removeprefix("Bot ")
        fault = (self._global_limit(token, path) or self._limit_fault(request.method, path)
                 or self._fault(request.method, path))
        if fault is not None:
            return fault
        limited, limit_headers = self._rate_check(request.method, path)
        if limited is not None:
            return limited
        try:
            result = await self._route(request.method, path, body or {}, files, token, dict(request.query),
                                       request.headers)
        except KeyError as exc:
            return _json({"message": f"Unknown {exc}", "code": 10003}, 404)
        if result is None:
            response: web.StreamResponse = web.Response(status=204)
        elif isinstance(result, web.StreamResponse):
            response = result
        else:
            response = _json(result)
        response.headers.update(limit_headers)
        return response

    async def _route(self, method: str, path: str, body: dict[str, Any], files: list[dict[str, Any]],
                     token: str, query: dict[str, str], headers: Any = None) -> Any:
        p = path.strip("/").split("/")
        bot = self.bots.get(token)
        match (method, p):
            case ("GET", ["users", "@me"]):
                return bot or self._unauthorized()
            case ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]):
                spent = self.session_starts.get(token, 0)
                return {"url": self.gateway_url, "shards": 1,
                        "session_start_limit": {"total": self.session_start_total,
                                                "remaining": max(0, self.session_start_total - spent),
                                                "reset_after": int(self.session_start_reset_after * 1000),
                                                "max_concurrency": self.max_concurrency}}
            case ("GET", ["oauth2", "applications", "@me"]) | ("GET", ["applications", "@me"]):
                owner = self.users.get(self.owner_id) or bot
                if self.team is not None:  # the team's pseudo-user (flags: TEAM_USER)
                    owner = {"id": self.team["id"], "username": f"team{self.team['id']}",
                             "discriminator": "0", "avatar": None, "flags": 1024, "global_name": None}
                return {"id": str(self.application_id), "name": "Kindred", "icon": None, "description": "",
                        "bot_public": True, "bot_require_code_grant": False, "owner": owner,
                        "team": self.team,
                        "verify_key": "0" * 64, "flags": self.application_flags, "summary": "",
                        "rpc_origins": []}
            case ("GET", ["users", uid]):
                return self.users[int(uid)]
            case ("POST", ["users", "@me", "channels"]):
                cid = self.dm_channel_for(int(body["recipient_id"]), int(bot["id"]) if bot else None)
                return self._public(self.channels[cid])
            case ("GET", ["channels", cid]):
                return self._public(self.channels[int(cid)])
            case ("POST", ["channels", cid, "typing"]):
                self._typing.setdefault(int(cid), []).append(time.perf_counter())
                return None
            case ("POST", ["channels", cid, "messages"]):
                return await self._bot_post(int(cid), bot or {}, body, files)
            case ("GET", ["channels", cid, "messages"]):
                limit = int(query.get("limit", 50))
                # Ephemeral interaction answers are not channel messages; newest first, as Discord answers.
                msgs = sorted((self._public(m) for m in self.messages.values()
                               if int(m["channel_id"]) == int(cid) and not m.get("_deleted")
                               and not m.get("_ephemeral")), key=lambda m: int(m["id"]))
                if "before" in query:
                    msgs = [m for m in msgs if int(m["id"]) < int(query["before"])]
                if "after" in query:  # the oldest ``limit`` after it, still sent newest first
                    return list(reversed([m for m in msgs if int(m["id"]) > int(query["after"])][:limit]))
                return list(reversed(msgs))[:limit]
            case ("GET", ["channels", cid, "messages", mid]):
                return self._public(self.messages[int(mid)])
            case ("PATCH", ["channels", cid, "messages", mid]):
                refused = refuse_edit(self.messages.get(int(mid)), int(cid), bot, body) \
                    or refuse_v2_edit(self.messages.get(int(mid)), body) or refuse_components(body)
                return refused if refused is not None else await self._edit(int(mid), body, files)
            case ("DELETE", ["channels", cid, "messages", mid]):
                return await self._delete(int(mid))
            case ("PUT", ["channels", cid, "messages", mid, "reactions", emoji, "@me"]):
                return self._react(int(cid), int(mid), emoji, bot or {})
            case ("PUT" | "DELETE", ["channels", cid, "messages", mid, "reactions", *_]):
                return None
            case ("GET", ["guilds", gid]):
                return {k: v for k, v in self._guild_payload(int(gid)).items() if k != "members"}
            case ("GET", ["guilds", gid, "members", uid]) if uid.isdigit():
                return self._get_member(int(gid), int(uid), bot or {})
            case ("GET", ["guilds", gid, "channels"]):
                return self._guild_payload(int(gid))["channels"]
            case ("PUT", ["applications", _, "commands"]):
                return self._put_commands("global", body)
            case ("PUT", ["applications", _, "guilds", gid, "commands"]):
                return self._put_commands(gid, body)
            case ("GET", ["applications", _, "commands"]):
                return self.commands.get("global", [])
            case ("GET", ["applications", _, "guilds", gid, "commands"]):
                return self.commands.get(gid, [])
            case ("POST", ["interactions", iid, _, "callback"]):
                return self._callback(int(iid), body, files)
            case ("POST", ["webhooks", _, itoken]) if itoken.startswith("itoken-"):
                return self._followup(itoken, body, files)
            case ("GET" | "PATCH" | "DELETE",
                  ["webhooks", _, itoken, "messages", which]) if itoken.startswith("itoken-"):
                return await self._interaction_message(method, itoken, which, body, files)
            case ("POST", ["channels", cid, "webhooks"]):
                return self._create_webhook(int(cid), body, bot or {})
            case ("GET", ["channels", cid, "webhooks"]):
                return [w for w in self.webhooks.values() if w["channel_id"] == cid]
            case ("GET", ["webhooks", wid]):
                return self.webhooks[int(wid)]
            case ("POST", ["webhooks", wid, wtoken]):
                return await self._webhook_execute(int(wid), wtoken, body, files, query)
            case ("PATCH", ["webhooks", wid, wtoken, "messages", mid]):
                hook = self.webhooks.get(int(wid))
                body, refused = webhook_components(hook, body, query) if hook else (body, None)
                refused = (refused or refuse_webhook_edit(self.messages.get(int(mid)), hook, wtoken, body,
                                                          query.get("thread_id"))
                           or refuse_v2_edit(self.messages.get(int(mid)), body))
                return refused if refused is not None else await self._edit(int(mid), body, files)
            case ("DELETE", ["webhooks", wid, wtoken, "messages", mid]):
                hook = self.webhooks.get(int(wid))
                refused = refuse_webhook_edit(self.messages.get(int(mid)), hook, wtoken, {},
                                              query.get("thread_id"))
                return refused if refused is not None else await self._delete(int(mid))
        if method == "PUT" and len(p) == 3 and p[0] == "channels" and p[2] == "voice-status":
            return await self._voice_status(int(p[1]), body, bot or {})
        result = await self._guild_route(method, p, body, bot, query, headers or {})
        if result is not NOT_MINE:
            return result
        self.requests[-1].body = {"unknown_route": True, "body": body}
        raise KeyError(f"route {method} {path}")

    def _react(self, channel_id: int, message_id: int, emoji: str,
               bot: dict[str, Any]) -> web.Response | None:
        """Discord's checks: in a server, View Channel and Read Message History in the channel (403 50001
        Missing Access, 403 50013 Missing Permissions), and Add Reactions unless someone already reacted
        with that emoji; the message exists; a custom emoji (name:id) must be one the bot can use,
        anything else must be a unicode emoji (400, code 10014 "Unknown Emoji", otherwise)."""
        channel = self.channels.get(channel_id)
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        if channel.get("guild_id"):
            allowed = self.channel_permissions(channel_id, int(bot.get("id") or 0))
            if not allowed & VIEW_CHANNEL:
                return _json({"message": "Missing Access", "code": 50001}, 403)
            taken = any(r["message_id"] == message_id and r["emoji"] == emoji for r in self.reactions)
            if not allowed & READ_MESSAGE_HISTORY or not (taken or allowed & ADD_REACTIONS):
                return _json({"message": "Missing Permissions", "code": 50013}, 403)
        if message_id not in self.messages or int(self.messages[message_id]["channel_id"]) != channel_id:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        custom = re.fullmatch(r"(\w+):(\d+)", emoji)
        known = {e["id"] for g in self.guilds.values() for e in g.get("emojis", [])}
        if (custom and custom.group(2) not in known) or (not custom and (not emoji or emoji.isascii())):
            return _json({"message": "Unknown Emoji", "code": 10014}, 400)
        self.reactions.append({"channel_id": channel_id, "message_id": message_id, "emoji": emoji,
                               "user_id": int(bot.get("id", 0))})
        return None

    @staticmethod
    def _unauthorized() -> web.Response:
        return _json({"message": "401: Unauthorized", "code": 0}, 401)

    @staticmethod
    def pings_of(body: dict[str, Any]) -> dict[str, Any] | web.Response:
        """Who a post pings, by Discord's rules for ``allowed_mentions``: without it every mention in the
        text pings (@everyone and @here included); with it only what ``parse`` names or the ``users`` /
        ``roles`` lists hold. ``parse: [users]`` beside a ``users`` list is refused, as Discord does."""
        text = mention_text(body)
        allowed = body.get("allowed_mentions")
        parse = {"everyone", "users", "roles"} if allowed is None else set(allowed.get("parse") or [])
        listed_users = {str(u) for u in (allowed or {}).get("users") or []}
        listed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
        if ("users" in parse and listed_users) or ("roles" in parse and listed_roles):
            return _json({"message": "Invalid Form Body", "code": 50035, "errors": {"allowed_mentions": {
                "_errors": [{"code": "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                             "message": "parse and users/roles are mutually exclusive"}]}}}, 400)
        users = [int(u) for u in dict.fromkeys(re.findall(r"<@!?(\d+)>", text))
                 if "users" in parse or u in listed_users]
        roles = [int(r) for r in dict.fromkeys(re.findall(r"<@&(\d+)>", text))
                 if "roles" in parse or r in listed_roles]
        everyone = "everyone" in parse and ("@everyone" in text or "@here" in text)
        return {"everyone": everyone, "users": users, "roles": roles}

    def _content_fields(self, body: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
        attachments = [{"id": str(self.snowflake()), "filename": f["filename"], "size": len(f["data"]),
                        "url": f"https://cdn.fake/{f['filename']}", "proxy_url": f"https://cdn.fake/{f['filename']}",
                        "content_type": f.get("content_type"), "_data": f["data"]} for f in files]
        return {"content": body.get("content") or "", "embeds": body.get("embeds") or [],
                "components": body.get("components") or [], "attachments": attachments,
                "flags": int(body.get("flags") or 0)}

    async def _bot_post(self, channel_id: int, author: dict[str, Any], body: dict[str, Any],
                        files: list[dict[str, Any]]) -> dict[str, Any] | web.Response:
        refused = too_long(body) or refuse_components(body) or self._refuse_post(channel_id, author)
        if refused is not None:
            return refused
        checked = self._check_post(author, body)  # the nonce: a re-sent post is the same message
        if checked is not None:
            return checked
        ref = body.get("message_reference")
        mentions = [int(m) for m in re.findall(r"<@!?(\d+)>", mention_text(body))]
        pings = self.pings_of(body)
        if isinstance(pings, web.Response):
            return pings
        fields = {**self._content_fields(body, files), "_pings": pings}
        if fields["flags"] & VOICE_MESSAGE_FLAG:
            refused = _voice_refusal(body, files)
            if refused is not None:
                return _json({"message": refused[1], "code": refused[0]}, 400)
            meta = body["attachments"][0]
            fields["attachments"][0].update(duration_secs=meta["duration_secs"], waveform=meta["waveform"])
        message = self._message(channel_id, author, "", mentions=mentions,
                                reply_to=int(ref["message_id"]) if ref else None, extra=fields)
        message["mention_roles"] = [str(r) for r in pings["roles"]]  # the roles it mentions, as Discord lists
        self._mention_into_thread(channel_id, author, body)
        await self.unarchive_on_post(channel_id, locked_too=True)
        self._remember_nonce(author, body, message)
        await self._echo(message)
        await self._maybe_stall()
        return self._public(message)

    def _refuse_post(self, channel_id: int, author: dict[str, Any]) -> web.Response | None:
        """Discord's checks of a post in a server: View Channel (403 50001 Missing Access), then Send
        Messages, or Send Messages in Threads in a thread (403 50013 Missing Permissions)."""
        channel = self.channels.get(channel_id)
        if channel is None:  # a thread deleted under the poster, say
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        if not channel.get("guild_id"):
            return None
        allowed = self.channel_permissions(channel_id, int(author.get("id") or 0))
        if not allowed & VIEW_CHANNEL:
            return _json({"message": "Missing Access", "code": 50001}, 403)
        needed = SEND_MESSAGES_IN_THREADS if channel.get("type") in (10, 11, 12) else SEND_MESSAGES
        if not allowed & needed:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        # An archived thread: a post unarchives it, but a locked one only for who may manage threads.
        metadata = channel.get("thread_metadata") or {}
        if metadata.get("archived") and metadata.get("locked") and not allowed & MANAGE_THREADS:
            return _json({"message": "Thread is archived", "code": 50083}, 400)
        return None

    async def _echo(self, message: dict[str, Any]) -> None:
        channel = self.channels[int(message["channel_id"])]
        guild_id = int(channel["guild_id"]) if channel.get("guild_id") else None
        await self.dispatch("MESSAGE_CREATE", self._public(message), guild_id=guild_id)

    async def _edit(self, mid: int, body: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
        message = self.messages[mid]
        for key in ("content", "embeds", "components", "flags"):
            if key in body:
                message[key] = body[key]
        if files:
            message["attachments"] = self._content_fields({}, files)["attachments"]
        message["edited_timestamp"] = _iso()
        if not message.get("_ephemeral"):
            channel = self.channels[int(message["channel_id"])]
            await self.dispatch("MESSAGE_UPDATE", self._public(message),
                                guild_id=int(channel["guild_id"]) if channel.get("guild_id") else None)
        return self._public(message)

    async def _delete(self, mid: int) -> None:
        message = self.messages[mid]
        message["_deleted"] = True
        channel = self.channels[int(message["channel_id"])]
        gid = channel.get("guild_id")
        await self.dispatch("MESSAGE_DELETE", {"id": str(mid), "channel_id": message["channel_id"],
                                               **({"guild_id": gid} if gid else {})},
                            guild_id=int(gid) if gid else None)

    def _put_commands(self, scope: str, body: Any) -> list[dict[str, Any]] | web.Response:
        refused = refuse_commands(body)  # Discord's rules for names, descriptions and their localizations
        if refused is not None:
            return refused
        existing = {c["name"]: c["id"] for c in self.commands.get(scope, [])}
        out = []
        for cmd in body or []:
            out.append({**cmd, "id": existing.get(cmd["name"], str(self.snowflake())),
                        "application_id": str(self.application_id), "version": str(self.snowflake()),
                        "default_member_permissions": cmd.get("default_member_permissions"),
                        # Discord answers every command with a description: "" for a context menu's
                        "description": cmd.get("description", ""), "type": cmd.get("type", 1),
                        **({"guild_id": scope} if scope != "global" else {})})
        self.commands[scope] = out
        return out

    # interaction responses

    def _interaction_for_token(self, token: str) -> dict[str, Any]:
        for record in self.interactions.values():
            if record["token"] == token:
                return record
        raise KeyError(f"interaction token {token}")

    def _callback(self, iid: int, body: dict[str, Any],
                  files: list[dict[str, Any]]) -> dict[str, Any] | web.Response:
        record = self.interactions[iid]
        refused = (refuse_callback(record, self.response_window) or too_long(body.get("data") or {}, "data")
                   or refuse_components(body.get("data") or {}))
        if refused is None and int(body.get("type", 0)) == 7:  # an update edits the component's message
            refused = refuse_v2_edit(self.messages.get(int(record["payload"]["message"]["id"])),
                                     body.get("data") or {})
        if refused is not None:
            return refused
        record["acknowledged"] = True
        payload = record["payload"]
        rtype = int(body.get("type", 0))
        data = body.get("data") or {}
        entry: dict[str, Any] = {"type": rtype, "data": data, "at": time.perf_counter()}
        result: dict[str, Any] = {"interaction": {"id": str(iid), "type": payload["type"]}}
        if rtype in (4, 5):  # a (deferred) message response creates the original message
            fields = self._content_fields(data, files)
            if record.get("forced_ephemeral"):  # a server that disables external apps: Discord forces it
                fields["flags"] |= 64
            ephemeral = bool(fields["flags"] & 64)
            message = self._message(int(payload["channel_id"]), self.users[self.application_id], "",
                                    extra={**fields, "interaction_metadata": {
                                        "id": str(iid), "type": payload["type"],
                                        "user": ((payload.get("member") or {}).get("user")
                                                 or payload.get("user")),
                                        "authorizing_integration_owners":
                                            payload["authorizing_integration_owners"]},
                                           "webhook_id": str(self.application_id)})
            message["_ephemeral"] = ephemeral
            message["_interaction"] = iid
            message["_user"] = ephemeral  # ephemeral messages are not channel messages
            record["original"] = int(message["id"])
            entry["message"] = message
            result["interaction"].update({"response_message_id": message["id"],
                                          "response_message_loading": rtype == 5,
                                          "response_message_ephemeral": ephemeral})
            result["resource"] = {"type": rtype, "message": self._public(message)}
        elif rtype == 7:  # update the message the component belongs to
            mid = int(payload["message"]["id"])
            record["original"] = mid  # a component interaction's @original is the message it belongs to
            message = self.messages[mid]
            fields = self._content_fields(data, files)
            for key in ("content", "embeds", "components", "flags"):  # an edit may make it a V2 message
                if key in data:
                    message[key] = fields[key]
            if fields["flags"] & V2_FLAG:  # a message may be edited into Components V2 (never out of it)
                message["flags"] = int(message.get("flags") or 0) | V2_FLAG
            entry["message"] = message
            result["resource"] = {"type": rtype, "message": self._public(message)}
        elif rtype == 6 and "message" in payload:
            # Deferred update: later edits go to the component's message.
            record["original"] = int(payload["message"]["id"])
        elif rtype == 8:  # autocomplete choices
            entry["choices"] = data.get("choices", [])
        record["callbacks"].append(entry)
        return result

    def _followup(self, token: str, body: dict[str, Any],
                  files: list[dict[str, Any]]) -> dict[str, Any] | web.Response:
        record = self._interaction_for_token(token)
        refused = refuse_token_use(record) or too_long(body) or refuse_components(body)
        if refused is not None:
            return refused
        payload = record["payload"]
        fields = self._content_fields(body, files)
        if record.get("forced_ephemeral"):
            fields["flags"] |= 64
        message = self._message(int(payload["channel_id"]), self.users[self.application_id], "",
                                extra={**fields, "webhook_id": str(self.application_id)})
        message["_ephemeral"] = bool(fields["flags"] & 64)
        message["_user"] = message["_ephemeral"]
        message["_interaction"] = int(payload["id"])
        record["followups"].append(message)
        return self._public(message)

    async def _interaction_message(self, method: str, token: str, which: str, body: dict[str, Any],
                                   files: list[dict[str, Any]]) -> Any:
        record = self._interaction_for_token(token)
        refused = refuse_token_use(record) or too_long(body) or refuse_components(body)
        if refused is not None:
            return refused
        mid = record.get("original") if which == "@original" else int(which)
        if mid is None:
            raise KeyError("original response")
        if method == "PATCH":
            refused = refuse_v2_edit(self.messages.get(mid), body)
            if refused is not None:
                return refused
        if method == "GET":
            return self._public(self.messages[mid])
        if method == "DELETE":
            self.messages[mid]["_deleted"] = True
            return None
        return await self._edit(mid, body, files)

    # channel webhooks

    def _create_webhook(self, channel_id: int, body: dict[str, Any], bot: dict[str, Any]) -> dict[str, Any]:
        wid = self.snowflake()
        channel = self.channels[channel_id]
        hook = {"id": str(wid), "type": 1, "token": f"wtoken-{wid}", "name": body.get("name") or "Webhook",
                "avatar": "fakeavatarhash" if body.get("avatar") else None, "channel_id": str(channel_id),
                "guild_id": channel.get("guild_id"), "user": bot,
                # A bot's webhook belongs to its application (its buttons' clicks come to the bot).
                "application_id": str(self.application_id) if bot.get("bot") else None,
                "_avatar_data": body.get("avatar")}
        self.webhooks[wid] = hook
        return {k: v for k, v in hook.items() if not k.startswith("_")}

    async def _webhook_execute(self, wid: int, wtoken: str, body: dict[str, Any], files: list[dict[str, Any]],
                               query: dict[str, str]) -> Any:
        hook = self.webhooks[wid]
        if hook["token"] != wtoken:
            raise KeyError("webhook token")
        body, refused = webhook_components(hook, body, query)
        refused = refused or too_long(body)
        if refused is not None:
            return refused
        where = int(hook["channel_id"])
        if query.get("thread_id"):  # a thread of the webhook's channel; an archived one is unarchived
            where = int(query["thread_id"])
            refused = refuse_webhook_thread(self.channels.get(where), hook)
            if refused is not None:
                return refused
            await self.unarchive_on_post(where, locked_too=False)  # type: ignore[attr-defined]
        author = {"id": str(wid), "username": body.get("username") or hook["name"], "avatar": hook["avatar"],
                  "discriminator": "0000", "bot": True, "global_name": None}
        message = self._message(where, author, "",
                                extra={**self._content_fields(body, files), "webhook_id": str(wid),
                                       "_avatar_url": body.get("avatar_url")})
        await self._echo(message)
        return self._public(message) if query.get("wait") in ("true", "1", "True") else None


def panel_texts(message: dict[str, Any]) -> list[str]:
    """The text displays of a Components V2 message, nested ones included, in order."""
    return [c.get("content") or "" for c in walk_components(message.get("components") or [])
            if c.get("type") == 10]


class Interaction:
    """What a test holds after firing an interaction: its callbacks and followups as they arrive."""

    def __init__(self, fake: FakeDiscord, interaction_id: int) -> None:
        self.fake = fake
        self.id = interaction_id

    @property
    def record(self) -> dict[str, Any]:
        return self.fake.interactions[self.id]

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        return self.record["callbacks"]

    @property
    def followups(self) -> list[dict[str, Any]]:
        return self.record["followups"]

    async def response(self, timeout: float = EVENT_WAIT) -> dict[str, Any]:
        """The first callback (type 4 message, 5 defer, 7 update, 8 autocomplete ...)."""
        await self.fake.wait_for(lambda d: self.callbacks, timeout,
                                 what=f"a response to interaction {self.id}")
        return self.callbacks[0]

    async def message(self, timeout: float = EVENT_WAIT) -> dict[str, Any]:
        """The message the response created or updated, as it is now (edits included)."""
        cb = await self.response(timeout)
        if "message" not in cb:
            raise AssertionError(f"interaction response type {cb['type']} has no message")
        if cb["type"] == 5:  # a deferred "thinking…" placeholder: what the user reads is its first edit
            await self.fake.wait_for(lambda d: cb["message"].get("edited_timestamp"), timeout,
                                     what=f"the deferred answer to interaction {self.id}")
        return cb["message"]

    async def followup(self, n: int = 1, timeout: float = EVENT_WAIT) -> dict[str, Any]:
        await self.fake.wait_for(lambda d: len(self.followups) >= n, timeout, what=f"followup {n}")
        return self.followups[n - 1]

    async def text(self, timeout: float = EVENT_WAIT) -> str:
        """All text the bot showed in answer so far: response content/embeds and followups."""
        cb = await self.response(timeout)
        parts: list[dict[str, Any]] = [cb.get("message") or cb.get("data") or {}, *self.followups]
        out = []
        for part in parts:
            out.append(part.get("content") or "")
            for embed in part.get("embeds") or []:
                out.append(json.dumps(embed))
            out += panel_texts(part)
        return "\n".join(out)


def _voice_refusal(body: dict[str, Any], files: list[dict[str, Any]]) -> tuple[int, str] | None:
    """Discord's rules for a voice message (flag 8192), as (error code, message) when one is broken: no
    content or embeds, exactly one Ogg audio file, and its ``attachments`` entry with ``duration_secs`` and a
    base64 ``waveform`` of at most 256 bytes."""
    if body.get("content") or body.get("embeds") or body.get("sticker_ids") or body.get("poll"):
        return 50159, "Voice messages do not support additional content."
    if len(files) != 1:
        return 50160, "Voice messages must have a single audio attachment."
    file = files[0]
    if (not str(file.get("filename", "")).endswith(".ogg") or file.get("content_type") != "audio/ogg"
            or not bytes(file["data"]).startswith(b"OggS")):
        return 50160, "Voice messages must have a single audio attachment (Ogg)."
    meta = body.get("attachments")
    if not isinstance(meta, list) or len(meta) != 1 or str(meta[0].get("id")) != "0":
        return 50161, "Voice messages must have supporting metadata."
    duration = meta[0].get("duration_secs")
    try:
        wave = base64.b64decode(str(meta[0].get("waveform")), validate=True)
    except (binascii.Error, ValueError):
        wave = b""
    if not isinstance(duration, int | float) or duration <= 0 or not 1 <= len(wave) <= 256:
        return 50161, "Voice messages must have supporting metadata."
    return None


UPLOAD_LIMIT = 10 * 1024 * 1024  # a bot's files in one message, outside boosted servers (Discord: 10 MiB)


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reader = await request.multipart()
    body: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    while True:
        part = await reader.next()
        if part is None:
            break
        if part.name == "payload_json":  # type: ignore[union-attr]
            body = json.loads(await part.text())  # type: ignore[union-attr]
        else:
            files.append({"filename": part.filename, "data": await part.read(),  # type: ignore[union-attr]
                          "content_type": part.headers.get("Content-Type")})  # type: ignore[union-attr]
    return body, files


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly this (no charset suffix).
    return web.Response(body=json.dumps(data, default=str).encode(), status=status,
                        headers={"Content-Type": "application/json"})


def _iso() -> str:
    return datetime.now(UTC).isoformat()
