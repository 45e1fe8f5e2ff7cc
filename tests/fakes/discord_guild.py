"""The fake Discord's guild side: roles and permissions, moderation routes, threads, rate limits, audit log.

Mixed into :class:`tests.fakes.discord_lead.FakeDiscord`. It enforces Discord's own rules on these routes,
with
the real API's status codes and JSON error shapes: the bot's permissions are computed from its roles (an
ADMINISTRATOR role grants all; the owner has all), the role hierarchy (no acting on the owner or on someone
whose highest role is at or above the bot's: 403 50013 Missing Permissions), bulk delete only of 2..100
messages none older than 14 days (400 50016 / 50034), timeouts at most 28 days ahead (400 50035), every
X-Audit-Log-Reason recorded, and per-route rate limits answered with 429 and ``retry_after`` (with the
X-RateLimit-* headers discord.py reads, or, for a limit it cannot see coming, without them).
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from aiohttp import web

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (discord.com/developers/docs/topics/permissions)
KICK_MEMBERS = 1 << 1
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38
MODERATE_MEMBERS = 1 << 40
ALL = (1 << 50) - 1

MAX_TIMEOUT = timedelta(days=28)
BULK_MAX_AGE = timedelta(days=14)
NOT_MINE = object()  # a route this module does not serve


def snowflake_time(snowflake: int) -> datetime:
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def error(status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> web.Response:
    """Discord's error body: {"message", "code"} (and "errors" for an invalid form body)."""
    body: dict[str, Any] = {"message": message, "code": code}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def json_response(body: Any, status: int) -> web.Response:
    # discord.py reads a body as JSON only when Content-Type is exactly this (no charset suffix).
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def missing_permissions() -> web.Response:
    return error(403, 50013, "Missing Permissions")


def mention_text(body: dict[str, Any]) -> str:
    """The text whose mentions a post makes: its content and its text displays, nested ones included (in a
    Components V2 message a text display's mentions ping by ``allowed_mentions`` as the content's do)."""
    parts = [str(body.get("content") or "")]
    stack = list(body.get("components") or [])
    while stack:
        component = stack.pop(0)
        if component.get("type") == 10:
            parts.append(str(component.get("content") or ""))
        stack[:0] = list(component.get("components") or [])
    return "\n".join(parts)


@dataclass
class Bucket:
    limit: int
    per: float
    advertise: bool  # send X-RateLimit-* headers (False: a limit discord.py cannot see coming)
    hits: dict[str, list[float]] = field(default_factory=dict)  # major parameter -> request times


# Per-route limits in force by default (Discord publishes none; these are of its usual size).
DEFAULT_LIMITS: dict[str, tuple[int, float]] = {
    "DELETE /guilds/:major/members/:id": (5, 5.0),
    "PATCH /guilds/:major/members/:id": (10, 10.0),
    # The bot's own face in a server: rarely (Kindred keeps to one change per window, under this).
    "PATCH /guilds/:major/members/@me": (2, 600.0),
    "PUT /guilds/:major/bans/:id": (5, 5.0),
    "DELETE /guilds/:major/bans/:id": (5, 5.0),
    "POST /channels/:major/messages/bulk-delete": (5, 5.0),
    "POST /channels/:major/threads": (5, 5.0),
    "POST /channels/:major/messages/:id/threads": (5, 5.0),
    "PATCH /channels/:major/messages/:id": (5, 5.0),  # message edits (a streamed reply's)
}


def route_rule(method: str, parts: list[str]) -> tuple[str, str]:
    """(rule, major parameter) for a path:
    '/guilds/1/members/2' -> ('DELETE /guilds/:major/members/:id', '1')."""
    out, major = [], ""
    for i, part in enumerate(parts):
        if part.isdigit():
            if i == 1 and parts[0] in ("guilds", "channels", "webhooks"):
                out.append(":major")
                major = part
            else:
                out.append(":id")
        else:
            out.append(part)
    return f"{method} /" + "/".join(out), major


class GuildWorld:
    """Roles, permissions and the moderation/thread routes; the state lives on the FakeDiscord it is
    mixed into."""

    users: dict[int, dict[str, Any]]
    guilds: dict[int, dict[str, Any]]
    channels: dict[int, dict[str, Any]]
    members: dict[int, dict[int, dict[str, Any]]]
    messages: dict[int, dict[str, Any]]
    bots: dict[str, dict[str, Any]]
    application_id: int

    def _init_guild_world(self) -> None:
        self.roles: dict[int, dict[int, dict[str, Any]]] = {}  # guild -> role id -> role
        self.bans: dict[int, dict[int, str | None]] = {}  # guild -> user -> reason
        self.audit_log: list[dict[str, Any]] = []
        self.buckets: dict[str, Bucket] = {
            rule: Bucket(n, per, True) for rule, (n, per) in DEFAULT_LIMITS.items()
        }
        self.rate_limited: list[tuple[str, str, float]] = []  # (method, path, retry_after) of every 429 sent
        self._role_ids = itertools.count(1)
        self.faults: list[tuple[str, int, int, str]] = []  # (pattern, status, code, message), each used once
        self.scheduled_events: dict[int, list[dict[str, Any]]] = {}  # guild -> its scheduled events

    # ------------------------------------------------------------------ world: roles and permissions

    def _make_role(
        self, guild_id: int, name: str, permissions: int, position: int, *, bot_id: int | None = None
    ) -> dict[str, Any]:
        rid = guild_id if name == "@everyone" else (guild_id + 1_000 + next(self._role_ids))
        role = {
            "id": str(rid),
            "name": name,
            "permissions": str(permissions),
            "position": position,
            "color": 0,
            "hoist": False,
            "managed": bot_id is not None,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }
        if bot_id is not None:
            role["tags"] = {"bot_id": str(bot_id)}
        self.roles.setdefault(guild_id, {})[rid] = role
        return role

    def _guild_roles(self, guild_id: int) -> list[dict[str, Any]]:
        return sorted(self.roles.get(guild_id, {}).values(), key=lambda r: r["position"])

    def bot_role_id(self, guild_id: int, bot_id: int | None = None) -> int:
        """The managed role Discord gives a bot when it joins (with the invite's permissions)."""
        bot_id = bot_id or self.application_id
        for role in self.roles.get(guild_id, {}).values():
            if role.get("tags", {}).get("bot_id") == str(bot_id):
                return int(role["id"])
        raise KeyError(f"bot role of {bot_id} in {guild_id}")

    def permissions_of(self, guild_id: int, user_id: int) -> int:
        """A member's server-wide permissions as Discord computes them (channel overwrites aside)."""
        if int(self.guilds[guild_id].get("owner_id") or 0) == user_id:
            return ALL
        member = self.members.get(guild_id, {}).get(user_id)
        if member is None:
            return 0
        roles = self.roles.get(guild_id, {})
        value = int(roles[guild_id]["permissions"]) if guild_id in roles else 0
        for rid in member.get("roles", []):
            value |= int(roles.get(int(rid), {}).get("permissions", 0))
        if member.get("_admin") or value & ADMINISTRATOR:
            return ALL
        return value

    def channel_permissions(self, channel_id: int, user_id: int) -> int:
        """A member's permissions in a channel, as Discord computes them: the server-wide ones (an
        administrator has all), then the channel's overwrites: @everyone's, the member's roles' together
        (deny, then allow), the member's own. A thread takes its parent's."""
        channel = self.channels[channel_id]
        if channel.get("type") in (11, 12) and channel.get("parent_id"):
            channel = self.channels[int(channel["parent_id"])]
        guild_id = int(channel["guild_id"])
        value = self.permissions_of(guild_id, user_id)
        if value == ALL:
            return ALL
        member = self.members.get(guild_id, {}).get(user_id) or {}
        overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites") or []}
        everyone = overwrites.get(str(guild_id))
        if everyone is not None:
            value = (value & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for rid in member.get("roles", []):
            role = overwrites.get(str(rid))
            if role is not None and role.get("type", 0) == 0:
                allow, deny = allow | int(role["allow"]), deny | int(role["deny"])
        value = (value & ~deny) | allow
        own = overwrites.get(str(user_id))
        if own is not None and own.get("type") == 1:
            value = (value & ~int(own["deny"])) | int(own["allow"])
        return value

    def add_scheduled_event(self, guild_id: int, name: str, start: datetime, *, end: datetime | None = None,
                            channel_id: int | None = None, location: str | None = None,
                            description: str | None = None, status: int = 1) -> dict[str, Any]:
        """A scheduled event: in a voice channel (``channel_id``, entity type 2) or somewhere else
        (``location``, entity type 3, which Discord requires an end for). Status 1 scheduled, 2 active,
        3 completed, 4 canceled."""
        if channel_id is None and (location is None or end is None):
            raise ValueError("an external event needs a location and an end")
        event = {"id": str(self.snowflake()), "guild_id": str(guild_id),  # type: ignore[attr-defined]
                 "channel_id": str(channel_id) if channel_id is not None else None,
                 "creator_id": None, "name": name, "description": description,
                 "scheduled_start_time": start.isoformat(),
                 "scheduled_end_time": end.isoformat() if end is not None else None,
                 "privacy_level": 2, "status": status, "entity_type": 2 if channel_id is not None else 3,
                 "entity_id": None,
                 "entity_metadata": {"location": location} if channel_id is None else None, "image": None}
        self.scheduled_events.setdefault(guild_id, []).append(event)
        return event

    def _get_member(self, gid: int, uid: int, bot: dict[str, Any]) -> Any:
        """``GET /guilds/{guild}/members/{user}``: no intent needed; a server the bot is not in is 403
        Missing Access, someone not in it 404 Unknown Member."""
        if gid not in self.guilds:
            return error(404, 10004, "Unknown Guild")
        if int(bot.get("id") or 0) not in self.members.get(gid, {}):
            return error(403, 50001, "Missing Access")
        if uid not in self.members[gid]:
            return error(404, 10007, "Unknown Member")
        return self._member_payload(gid, uid)  # type: ignore[attr-defined]

    def _scheduled_events(self, gid: int, bot: dict[str, Any], query: dict[str, str]) -> Any:
        """``GET /guilds/{guild}/scheduled-events``: those the bot may see, an event in a channel only with
        VIEW_CHANNEL there (``with_user_count`` adds the counts)."""
        if gid not in self.guilds:
            return error(404, 10004, "Unknown Guild")
        me = int(bot.get("id") or 0)
        if me not in self.members.get(gid, {}):
            return error(403, 50001, "Missing Access")
        seen = [dict(e) for e in self.scheduled_events.get(gid, []) if e["channel_id"] is None
                or self.channel_permissions(int(e["channel_id"]), me) & VIEW_CHANNEL]
        if query.get("with_user_count") == "true":
            for event in seen:
                event["user_count"] = 0
        return seen

    def top_position(self, guild_id: int, user_id: int) -> int:
        member = self.members.get(guild_id, {}).get(user_id) or {}
        roles = self.roles.get(guild_id, {})
        return max(
            (int(roles[int(r)]["position"]) for r in member.get("roles", []) if int(r) in roles), default=0
        )

    def _outranks(self, guild_id: int, actor_id: int, target_id: int) -> bool:
        """Discord's hierarchy: nobody acts on the owner; the actor's top role must be above the target's."""
        owner = int(self.guilds[guild_id].get("owner_id") or 0)
        if target_id == owner:
            return False
        if actor_id == owner:
            return True
        return self.top_position(guild_id, actor_id) > self.top_position(guild_id, target_id)

    async def _dispatch_guild(self, event: str, data: dict[str, Any], guild_id: int) -> None:
        if any(s.identified for s in self.sessions):  # type: ignore[attr-defined]
            await self.dispatch(event, data, guild_id=guild_id)  # type: ignore[attr-defined]

    def _mention_into_thread(self, channel_id: int, author: dict[str, Any], body: dict[str, Any]) -> None:
        """Mentioning a role in a private thread adds that role's members, as in Discord, when the mention
        may ping (the role is mentionable, or the author has Mention Everyone) and allowed_mentions lets
        it."""
        thread = self.channels.get(channel_id, {})
        if thread.get("type") != 12:
            return
        gid = int(thread["guild_id"])
        allowed = body.get("allowed_mentions") or {"parse": ["roles"]}
        may_ping = bool(self.permissions_of(gid, int(author.get("id") or 0)) & MENTION_EVERYONE)
        for rid in (int(r) for r in re.findall(r"<@&(\d+)>", mention_text(body))):
            role = self.roles.get(gid, {}).get(rid)
            if role is None or not (role["mentionable"] or may_ping):
                continue
            if "roles" not in allowed.get("parse", []) and str(rid) not in [
                str(r) for r in allowed.get("roles", [])
            ]:
                continue
            thread["_members"].update(u for u, m in self.members[gid].items() if str(rid) in m["roles"])
        thread["member_count"] = len(thread["_members"])

    async def add_role(
        self, guild_id: int, name: str, *, permissions: int = 0, position: int = 1, mentionable: bool = False
    ) -> int:
        """A new role (GUILD_ROLE_CREATE); roles at or above ``position`` move up one, as Discord does."""
        for role in self.roles.get(guild_id, {}).values():
            if role["position"] >= position and int(role["id"]) != guild_id:
                role["position"] += 1
        role = self._make_role(guild_id, name, permissions, position)
        role["mentionable"] = mentionable
        await self._dispatch_guild("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role}, guild_id)
        for other in self.roles[guild_id].values():
            if other is not role and int(other["id"]) != guild_id:
                await self._dispatch_guild(
                    "GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": other}, guild_id
                )
        return int(role["id"])

    async def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> None:
        role = self.roles[guild_id][role_id]
        role["permissions"] = str(permissions)
        await self._dispatch_guild("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role}, guild_id)

    async def update_guild(self, guild_id: int, **fields: Any) -> None:
        """The server changes (GUILD_UPDATE, without the members, channels and threads Discord leaves out of
        it): ``fields`` of its payload, such as ``premium_subscription_count``, ``premium_tier`` or
        ``member_count`` (a server larger than the members the fake holds)."""
        self.guilds[guild_id].update(fields)
        payload = self._guild_payload(guild_id)  # type: ignore[attr-defined]
        for part in ("members", "channels", "threads", "voice_states", "presences"):
            payload.pop(part, None)
        await self._dispatch_guild("GUILD_UPDATE", payload, guild_id)

    async def give_role(self, guild_id: int, user_id: int, role_id: int) -> None:
        member = self.members[guild_id][user_id]
        if str(role_id) not in member["roles"]:
            member["roles"] = [*member["roles"], str(role_id)]
        await self._member_update(guild_id, user_id)

    async def _member_update(self, guild_id: int, user_id: int) -> None:
        member = self.members[guild_id][user_id]
        await self._dispatch_guild(
            "GUILD_MEMBER_UPDATE",
            {
                "guild_id": str(guild_id),
                "user": member["user"],
                "roles": member["roles"],
                "nick": member["nick"],
                "avatar": None,
                "joined_at": member["joined_at"],
                "premium_since": member["premium_since"],
                "pending": False,
                "flags": 0,
                "deaf": False,
                "mute": False,
                "communication_disabled_until": member.get("communication_disabled_until"),
            },
            guild_id,
        )

    def old_message(self, channel_id: int, author_id: int, content: str, age: timedelta) -> dict[str, Any]:
        """A message posted ``age`` ago (already in the channel's history; nothing is dispatched)."""
        message = self._message(channel_id, self.users[author_id], content)  # type: ignore[attr-defined]
        del self.messages[int(message["id"])]
        at = datetime.now(UTC) - age
        mid = ((int(at.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) | next(self._role_ids)
        message.update({"id": str(mid), "timestamp": at.isoformat(), "_user": True})
        self.messages[mid] = message
        return message

    def limit_route(self, rule: str, limit: int, per: float, *, advertise: bool = True) -> None:
        """Set a route's rate limit, e.g. ``limit_route("DELETE /guilds/:major/members/:id", 1, 0.5)``."""
        self.buckets[rule] = Bucket(limit, per, advertise)

    def fail_next(self, pattern: str, status: int, code: int, message: str) -> None:
        """Answer the next request matching ``pattern`` ("METHOD /path", shell wildcards) with this error."""
        self.faults.append((pattern, status, code, message))

    def _fault(self, method: str, path: str) -> web.Response | None:
        for fault in self.faults:
            if fnmatch.fnmatch(f"{method} {path}", fault[0]):
                self.faults.remove(fault)
                return error(fault[1], fault[2], fault[3])
        return None

    def audit_entries(self, guild_id: int, action: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.audit_log if e["guild_id"] == guild_id and action in (None, e["action"])]

    # ------------------------------------------------------------------ interaction data

    def _resolved(self, options: list[dict[str, Any]], guild_id: int | None) -> dict[str, Any]:
        """The ``resolved`` block Discord sends with user, role and channel options."""
        out: dict[str, dict[str, Any]] = {}
        stack = list(options)
        while stack:
            opt = stack.pop()
            stack.extend(opt.get("options") or [])
            value = opt.get("value")
            if opt.get("type") == 6 and value is not None and int(value) in self.users:
                uid = int(value)
                out.setdefault("users", {})[str(uid)] = self.users[uid]
                if guild_id and uid in self.members.get(guild_id, {}):
                    payload = self._member_payload  # type: ignore[attr-defined]
                    out.setdefault("members", {})[str(uid)] = payload(
                        guild_id, uid, with_user=False
                    )
            elif opt.get("type") == 11 and str(value) in self.cdn_attachments:  # type: ignore[attr-defined]
                out.setdefault("attachments", {})[str(value)] = self.cdn_attachments[str(value)]  # type: ignore[attr-defined]
            elif opt.get("type") == 8 and guild_id and int(value or 0) in self.roles.get(guild_id, {}):
                out.setdefault("roles", {})[str(value)] = self.roles[guild_id][int(value)]
            elif opt.get("type") == 7 and int(value or 0) in self.channels:
                channel = self.channels[int(value)]
                out.setdefault("channels", {})[str(value)] = {
                    "id": channel["id"],
                    "name": channel.get("name"),
                    "type": channel["type"],
                    "permissions": str(ALL),
                    "parent_id": channel.get("parent_id"),
                    "guild_id": channel.get("guild_id"),
                }
        return out

    # ------------------------------------------------------------------ rate limits

    def _rate_check(self, method: str, path: str) -> tuple[web.Response | None, dict[str, str]]:
        """(a 429 to send instead, or None; the X-RateLimit-* headers for the answer)."""
        rule, major = route_rule(method, path.strip("/").split("/"))
        bucket = self.buckets.get(rule)
        if bucket is None:
            return None, {}
        now = time.monotonic()
        hits = [t for t in bucket.hits.get(major, []) if now - t < bucket.per]
        bucket.hits[major] = hits
        reset_after = (hits[0] + bucket.per - now) if hits else bucket.per
        headers: dict[str, str] = {}
        if bucket.advertise:
            headers = {
                "X-RateLimit-Limit": str(bucket.limit),
                "X-RateLimit-Remaining": str(max(0, bucket.limit - len(hits) - 1)),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": hashlib.sha1(rule.encode()).hexdigest()[:16],
            }
        if len(hits) >= bucket.limit:
            retry = round(max(reset_after, 0.001), 3)
            self.rate_limited.append((method, path, retry))
            limited = json_response(
                {"message": "You are being rate limited.", "retry_after": retry, "global": False}, 429
            )
            limited.headers.update(
                {
                    **headers,
                    "X-RateLimit-Remaining": "0",
                    "Retry-After": str(int(retry) + 1),
                    "X-RateLimit-Scope": "user" if bucket.advertise else "shared",
                    "Via": "1.1 google",
                }
            )  # discord.py treats a 429 without Via as a ban
            return limited, headers
        hits.append(now)
        return None, headers

    # ------------------------------------------------------------------ routes

    def _audit(
        self,
        guild_id: int,
        action: str,
        target_id: int | None,
        actor: dict[str, Any],
        headers: Mapping[str, str],
        **extra: Any,
    ) -> None:
        raw = headers.get("X-Audit-Log-Reason")
        self.audit_log.append(
            {
                "guild_id": guild_id,
                "action": action,
                "target_id": target_id,
                "user_id": int(actor.get("id") or 0),
                "reason": unquote(raw) if raw else None,
                **extra,
            }
        )

    def _may(self, guild_id: int, bot: dict[str, Any], permission: int) -> bool:
        return bool(self.permissions_of(guild_id, int(bot.get("id") or 0)) & permission)

    async def _guild_route(
        self,
        method: str,
        p: list[str],
        body: dict[str, Any],
        bot: dict[str, Any] | None,
        query: dict[str, str],
        headers: Mapping[str, str],
    ) -> Any:
        bot = bot or {}
        match (method, p):
            case ("GET", ["guilds", gid, "roles"]):
                return self._guild_roles(int(gid))
            case ("GET", ["guilds", gid, "scheduled-events"]):
                return self._scheduled_events(int(gid), bot, query)
            case ("GET", ["guilds", gid, "members"]):
                # List Guild Members: only with the GUILD_MEMBERS intent switched on for the application
                if "guild_members" not in self.enabled_intents:  # type: ignore[attr-defined]
                    return error(403, 50001, "Missing Access")
                after, limit = int(query.get("after", 0)), int(query.get("limit", 1))
                ids = sorted(u for u in self.members[int(gid)] if u > after)[:limit]
                return [self._member_payload(int(gid), u) for u in ids]  # type: ignore[attr-defined]
            case ("DELETE", ["guilds", gid, "members", uid]):
                return await self._kick(int(gid), int(uid), bot, headers)
            case ("PATCH", ["guilds", gid, "members", "@me"]):
                return await self._edit_own_member(int(gid), body, bot)  # type: ignore[attr-defined]
            case ("PATCH", ["guilds", gid, "members", uid]):
                return await self._edit_member(int(gid), int(uid), body, bot, headers)
            case ("GET", ["guilds", gid, "bans"]):
                return [{"user": self.users[u], "reason": r} for u, r in self.bans.get(int(gid), {}).items()]
            case ("GET", ["guilds", gid, "bans", uid]):
                if int(uid) not in self.bans.get(int(gid), {}):
                    return error(404, 10026, "Unknown Ban")
                return {"user": self.users[int(uid)], "reason": self.bans[int(gid)][int(uid)]}
            case ("PUT", ["guilds", gid, "bans", uid]):
                return await self._ban(int(gid), int(uid), {**query, **body}, bot, headers)
            case ("DELETE", ["guilds", gid, "bans", uid]):
                return await self._unban(int(gid), int(uid), bot, headers)
            case ("POST", ["channels", cid, "messages", "bulk-delete"]):
                return await self._bulk_delete(int(cid), body, bot, headers)
            case ("POST", ["channels", cid, "threads"]):
                return await self._create_thread(int(cid), body, bot, headers)
            case ("POST", ["channels", cid, "messages", mid, "threads"]):
                return await self._thread_from_message(int(cid), int(mid), body, bot, headers)
            case ("PUT", ["channels", tid, "thread-members", uid]):
                thread = self.channels[int(tid)]
                if int(uid) not in self.members.get(int(thread["guild_id"]), {}):
                    return error(404, 10007, "Unknown Member")
                thread["_members"].add(int(uid))
                thread["member_count"] = len(thread["_members"])
                return None
            case ("GET", ["channels", tid, "thread-members"]):
                thread = self.channels[int(tid)]
                return [
                    {
                        "id": tid,
                        "user_id": str(u),
                        "join_timestamp": thread["thread_metadata"]["create_timestamp"],
                        "flags": 0,
                    }
                    for u in sorted(thread["_members"])
                ]
            case ("PATCH", ["channels", cid]):
                return await self._edit_channel(int(cid), body, bot, headers)
            case ("DELETE", ["channels", cid]):
                return await self._delete_channel(int(cid), bot, headers)
        return NOT_MINE

    async def _kick(self, gid: int, uid: int, bot: dict[str, Any], headers: Mapping[str, str]) -> Any:
        if not self._may(gid, bot, KICK_MEMBERS):
            return missing_permissions()
        if uid not in self.members.get(gid, {}):
            return error(404, 10007, "Unknown Member")
        if not self._outranks(gid, int(bot["id"]), uid):
            return missing_permissions()
        member = self.members[gid].pop(uid)
        self._audit(gid, "kick", uid, bot, headers)
        await self._dispatch_guild("GUILD_MEMBER_REMOVE", {"guild_id": str(gid), "user": member["user"]}, gid)
        return None

    async def _ban(
        self, gid: int, uid: int, body: dict[str, Any], bot: dict[str, Any], headers: Mapping[str, str]
    ) -> Any:
        if not self._may(gid, bot, BAN_MEMBERS):
            return missing_permissions()
        if uid not in self.users:
            return error(404, 10013, "Unknown User")
        seconds = int(body.get("delete_message_seconds") or 0)
        if not 0 <= seconds <= 604_800:
            return error(
                400,
                50035,
                "Invalid Form Body",
                {
                    "delete_message_seconds": {
                        "_errors": [
                            {
                                "code": "NUMBER_TYPE_MAX",
                                "message": "int value should be less than or equal to 604800.",
                            }
                        ]
                    }
                },
            )
        if uid in self.members.get(gid, {}) and not self._outranks(gid, int(bot["id"]), uid):
            return missing_permissions()
        if uid == int(self.guilds[gid].get("owner_id") or 0):
            return missing_permissions()
        reason = headers.get("X-Audit-Log-Reason")
        self.bans.setdefault(gid, {})[uid] = unquote(reason) if reason else None
        self._audit(gid, "ban", uid, bot, headers, delete_message_seconds=seconds)
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        for message in self.messages.values():
            channel = self.channels.get(int(message["channel_id"]), {})
            if (
                seconds
                and channel.get("guild_id") == str(gid)
                and int(message["author"]["id"]) == uid
                and snowflake_time(int(message["id"])) >= since
            ):
                message["_deleted"] = True
        member = self.members.get(gid, {}).pop(uid, None)
        if member is not None:
            await self._dispatch_guild(
                "GUILD_MEMBER_REMOVE", {"guild_id": str(gid), "user": member["user"]}, gid
            )
        await self._dispatch_guild("GUILD_BAN_ADD", {"guild_id": str(gid), "user": self.users[uid]}, gid)
        return None

    async def _unban(self, gid: int, uid: int, bot: dict[str, Any], headers: Mapping[str, str]) -> Any:
        if not self._may(gid, bot, BAN_MEMBERS):
            return missing_permissions()
        if uid not in self.bans.get(gid, {}):
            return error(404, 10026, "Unknown Ban")
        del self.bans[gid][uid]
        self._audit(gid, "unban", uid, bot, headers)
        await self._dispatch_guild("GUILD_BAN_REMOVE", {"guild_id": str(gid), "user": self.users[uid]}, gid)
        return None

    async def _edit_member(
        self, gid: int, uid: int, body: dict[str, Any], bot: dict[str, Any], headers: Mapping[str, str]
    ) -> Any:
        if uid not in self.members.get(gid, {}):
            return error(404, 10007, "Unknown Member")
        if "communication_disabled_until" in body:
            until_raw = body["communication_disabled_until"]
            if not self._may(gid, bot, MODERATE_MEMBERS) or not self._outranks(gid, int(bot["id"]), uid):
                return missing_permissions()
            if until_raw is not None:
                until = datetime.fromisoformat(str(until_raw).replace("Z", "+00:00"))
                if until > datetime.now(UTC) + MAX_TIMEOUT:
                    return error(
                        400,
                        50035,
                        "Invalid Form Body",
                        {
                            "communication_disabled_until": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_BAD_TIME",
                                        "message": "Timeouts can only be up to 28 days in the future.",
                                    }
                                ]
                            }
                        },
                    )
                if self.permissions_of(gid, uid) & ADMINISTRATOR:
                    return missing_permissions()  # administrators cannot be timed out
            self.members[gid][uid]["communication_disabled_until"] = until_raw
            self._audit(gid, "member_update", uid, bot, headers, communication_disabled_until=until_raw)
        await self._member_update(gid, uid)
        return self._member_payload(gid, uid)  # type: ignore[attr-defined]

    async def _bulk_delete(
        self, cid: int, body: dict[str, Any], bot: dict[str, Any], headers: Mapping[str, str]
    ) -> Any:
        channel = self.channels[cid]
        gid = int(channel["guild_id"])
        if not self._may(gid, bot, MANAGE_MESSAGES):
            return missing_permissions()
        ids = [int(m) for m in body.get("messages") or []]
        if not 2 <= len(ids) <= 100:
            return error(400, 50016, "You must provide at least 2 and fewer than 100 messages to delete.")
        oldest = datetime.now(UTC) - BULK_MAX_AGE
        if any(snowflake_time(m) < oldest for m in ids):
            return error(400, 50034, "You can only bulk delete messages that are under 14 days old.")
        for mid in ids:
            message = self.messages.get(mid)
            if message is None or int(message["channel_id"]) != cid:
                return error(404, 10008, "Unknown Message")
        for mid in ids:
            self.messages[mid]["_deleted"] = True
        self._audit(gid, "message_bulk_delete", None, bot, headers, channel_id=cid, count=len(ids))
        await self._dispatch_guild(
            "MESSAGE_DELETE_BULK",
            {"ids": [str(i) for i in ids], "channel_id": str(cid), "guild_id": str(gid)},
            gid,
        )
        return None

    async def _create_thread(
        self, cid: int, body: dict[str, Any], bot: dict[str, Any], headers: Mapping[str, str]
    ) -> Any:
        parent = self.channels[cid]
        gid = int(parent["guild_id"])
        private = int(body.get("type") or 11) == 12
        if not self._may(gid, bot, CREATE_PRIVATE_THREADS if private else SEND_MESSAGES):
            return missing_permissions()
        tid = self.snowflake()  # type: ignore[attr-defined]
        now = datetime.now(UTC).isoformat()
        thread = {
            "id": str(tid),
            "type": 12 if private else 11,
            "name": str(body.get("name") or "thread")[:100],
            "guild_id": str(gid),
            "parent_id": str(cid),
            "owner_id": str(bot.get("id")),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 0,
            "total_message_sent": 0,
            "flags": 0,
            "_members": set(),
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(body.get("auto_archive_duration") or 4320),
                "archive_timestamp": now,
                "locked": False,
                "invitable": bool(body.get("invitable", True)),
                "create_timestamp": now,
            },
        }
        self.channels[tid] = thread
        self._audit(gid, "thread_create", tid, bot, headers)
        public = {k: v for k, v in thread.items() if not k.startswith("_")}
        await self._dispatch_guild("THREAD_CREATE", {**public, "newly_created": True}, gid)
        return public

    async def _thread_from_message(
        self, cid: int, mid: int, body: dict[str, Any], bot: dict[str, Any], headers: Mapping[str, str]
    ) -> Any:
        """Start Thread from Message, as Discord checks it: a text channel's message (a thread's or a DM's
        cannot: 400 50024), the message in that channel (404 10008 Unknown Message), Create Public Threads
        there (403 50013), a name of 1-100 characters and an auto_archive_duration of 60, 1440, 4320 or 10080
        (400 50035), one thread per message (400 160004). The thread's id is the message's; THREAD_CREATE is
        dispatched."""
        parent = self.channels.get(cid)
        if parent is None:
            return error(404, 10003, "Unknown Channel")
        if parent.get("type") not in (0, 5) or not parent.get("guild_id"):
            return error(400, 50024, "Cannot execute action on this channel type")
        message = self.messages.get(mid)  # type: ignore[attr-defined]
        if message is None or int(message["channel_id"]) != cid or message.get("_deleted"):
            return error(404, 10008, "Unknown Message")
        gid = int(parent["guild_id"])
        if not self.channel_permissions(cid, int(bot.get("id") or 0)) & CREATE_PUBLIC_THREADS:
            return missing_permissions()
        name = str(body.get("name") or "")
        if not 1 <= len(name) <= 100:
            return error(400, 50035, "Invalid Form Body", {"name": {"_errors": [
                {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}]}})
        duration = body.get("auto_archive_duration")
        if duration is not None and int(duration) not in (60, 1440, 4320, 10080):
            return error(400, 50035, "Invalid Form Body", {"auto_archive_duration": {"_errors": [
                {"code": "BASE_TYPE_CHOICES", "message": "Value must be one of {60, 1440, 4320, 10080}."}]}})
        if mid in self.channels or message.get("_thread"):
            return error(400, 160004, "A thread has already been created for this message")
        now = datetime.now(UTC).isoformat()
        thread = {
            "id": str(mid), "type": 11, "name": name, "guild_id": str(gid), "parent_id": str(cid),
            "owner_id": str(bot.get("id")), "last_message_id": None, "rate_limit_per_user": 0,
            "message_count": 0, "member_count": 1, "total_message_sent": 0, "flags": 0,
            "_members": {int(bot.get("id") or 0)},
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": int(duration or parent.get("default_auto_archive_duration") or 1440),
                "archive_timestamp": now, "locked": False, "create_timestamp": now,
            },
        }
        self.channels[mid] = thread
        message["_thread"] = mid
        message["_thread_channel"] = thread  # sent with the message while the thread lasts, as Discord does
        self._audit(gid, "thread_create", mid, bot, headers)
        public = {k: v for k, v in thread.items() if not k.startswith("_")}
        await self._dispatch_guild("THREAD_CREATE", {**public, "newly_created": True}, gid)
        return public

    def thread_of(self, message_id: int) -> dict[str, Any] | None:
        """The thread started from a message, if one was."""
        thread = self.channels.get(message_id)
        return thread if thread is not None and thread.get("type") in (11, 12) else None

    async def archive_thread(self, thread_id: int, *, locked: bool = False) -> None:
        """Discord archives a thread (its duration passed, or a moderator did), locked or not:
        THREAD_UPDATE."""
        thread = self.channels[thread_id]
        thread["thread_metadata"].update(archived=True, locked=locked)
        await self._thread_update(thread)

    async def unarchive_on_post(self, channel_id: int, *, locked_too: bool) -> None:
        """A message posted into an archived thread unarchives it, as Discord does; a locked one only when
        the poster may manage threads (``locked_too``: the bot's posts, which ``_refuse_post`` checked)."""
        thread = self.channels.get(channel_id) or {}
        metadata = thread.get("thread_metadata") or {}
        if metadata.get("archived") and (locked_too or not metadata.get("locked")):
            thread["thread_metadata"]["archived"] = False
            await self._thread_update(thread)

    async def _thread_update(self, thread: dict[str, Any]) -> None:
        public = {k: v for k, v in thread.items() if not k.startswith("_")}
        await self._dispatch_guild("THREAD_UPDATE", public, int(thread["guild_id"]))

    async def delete_thread(self, thread_id: int) -> None:
        """A moderator deletes a thread: gone, THREAD_DELETE dispatched; posting there is 404 10003."""
        thread = self.channels.pop(thread_id)
        thread["_gone"] = True
        gone = {"id": str(thread_id), "guild_id": thread["guild_id"], "parent_id": thread["parent_id"],
                "type": thread["type"]}
        await self._dispatch_guild("THREAD_DELETE", gone, int(thread["guild_id"]))

    async def set_default_archive(self, channel_id: int, minutes: int) -> None:
        """A server admin sets a channel's default auto-archive duration for its new threads:
        CHANNEL_UPDATE."""
        channel = self.channels[channel_id]
        channel["default_auto_archive_duration"] = minutes
        public = {k: v for k, v in channel.items() if not k.startswith("_")}
        await self._dispatch_guild("CHANNEL_UPDATE", public, int(channel["guild_id"]))

    async def set_overwrite(self, channel_id: int, target_id: int, *, allow: int = 0, deny: int = 0,
                            member: bool = False) -> None:
        """A server admin sets a channel's permission overwrite for a role (``member``: a member) in its
        Permissions tab: kept in its payload's ``permission_overwrites`` (what :meth:`channel_permissions`
        counts, as Discord does) and sent in a CHANNEL_UPDATE."""
        channel = self.channels[channel_id]
        if channel["type"] in (11, 12):
            raise ValueError("a thread has no overwrites of its own: Discord reads its parent's")
        kept = [o for o in channel.get("permission_overwrites") or [] if str(o["id"]) != str(target_id)]
        kept.append({"id": str(target_id), "type": 1 if member else 0, "allow": str(allow),
                     "deny": str(deny)})
        channel["permission_overwrites"] = kept
        public = {k: v for k, v in channel.items() if not k.startswith("_")}
        await self._dispatch_guild("CHANNEL_UPDATE", public, int(channel["guild_id"]))

    async def open_thread(self, parent_id: int, user_id: int, name: str) -> int:
        """A member opens a public thread in a channel (as the bot would, with the member's permissions)."""
        made = await self._create_thread(parent_id, {"name": name, "type": 11}, self.users[user_id], {})
        assert isinstance(made, dict), made
        return int(made["id"])

    async def mark_age_restricted(self, channel_id: int, nsfw: bool = True) -> None:
        """A server admin switches a text channel's age restriction (Discord's ``nsfw``): the flag is a
        channel's own, sent in its payload and a CHANNEL_UPDATE; a thread has none (it reads its parent's)."""
        channel = self.channels[channel_id]
        if channel["type"] in (11, 12):
            raise ValueError("a thread has no age restriction of its own: Discord reads its parent's")
        channel["nsfw"] = nsfw
        public = {k: v for k, v in channel.items() if not k.startswith("_")}
        await self._dispatch_guild("CHANNEL_UPDATE", public, int(channel["guild_id"]))

    async def _edit_channel(
        self, cid: int, body: dict[str, Any], bot: dict[str, Any], headers: Mapping[str, str]
    ) -> Any:
        channel = self.channels[cid]
        gid = int(channel["guild_id"])
        if channel["type"] in (11, 12):
            if (
                ("locked" in body or channel["type"] == 12)
                and not self._may(gid, bot, MANAGE_THREADS)
                and channel.get("owner_id") != bot.get("id")
            ):
                return missing_permissions()
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body:
                    channel["thread_metadata"][key] = body[key]
        if "name" in body:
            channel["name"] = body["name"]
        if "nsfw" in body and channel["type"] not in (11, 12):  # a thread's flag is its parent's
            channel["nsfw"] = bool(body["nsfw"])
        self._audit(gid, "channel_update", cid, bot, headers)
        public = {k: v for k, v in channel.items() if not k.startswith("_")}
        await self._dispatch_guild(
            "THREAD_UPDATE" if channel["type"] in (11, 12) else "CHANNEL_UPDATE", public, gid
        )
        return public

    async def _delete_channel(self, cid: int, bot: dict[str, Any], headers: Mapping[str, str]) -> Any:
        channel = self.channels[cid]
        gid = int(channel["guild_id"])
        if not self._may(gid, bot, MANAGE_THREADS if channel["type"] in (11, 12) else 1 << 4):
            return missing_permissions()
        del self.channels[cid]
        channel["_gone"] = True
        self._audit(gid, "channel_delete", cid, bot, headers)
        public = {k: v for k, v in channel.items() if not k.startswith("_")}
        if channel["type"] in (11, 12):
            await self._dispatch_guild(
                "THREAD_DELETE",
                {
                    "id": str(cid),
                    "guild_id": str(gid),
                    "parent_id": channel["parent_id"],
                    "type": channel["type"],
                },
                gid,
            )
        return public
