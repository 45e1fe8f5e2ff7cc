"""The fake Discord's current-member route, ``PATCH /guilds/{guild}/members/@me``: the bot's own nick, avatar,
banner and bio in one server, with Discord's rules. Only a member of the server may edit itself (404 10004
Unknown Guild otherwise); images are data URIs of PNG, JPEG, GIF or WebP (``data:image/png;base64,...``,
the bytes that image: Discord decodes them) of at most 10 MiB, or null to go back to the global one; a bio
is at most 190 characters, a nick at most 32; unknown fields are ignored, as Discord does. Anything else is
400 code 50035 with the field's error. The route is rate-limited per server (the fake's bucket
``PATCH /guilds/:major/members/@me``, tests/fakes/discord_guild.py); :meth:`ProfileWorld.bot_joins` invites
the bot to a new server while it is connected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any

from tests.fakes.discord_guild import error

DATA_URI = re.compile(r"data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/=]+)")
IMAGE_LIMIT = 10 * 1024 * 1024  # bytes of an avatar or banner
BIO_LIMIT = 190
NICK_LIMIT = 32


SIGNATURES = {"png": (b"\x89PNG\r\n\x1a\n",), "jpeg": (b"\xff\xd8\xff",), "gif": (b"GIF87a", b"GIF89a")}


def _is_image(kind: str, data: bytes) -> bool:
    if kind == "webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(SIGNATURES[kind])


def _field_error(field: str, code: str, message: str) -> dict[str, Any]:
    return {field: {"_errors": [{"code": code, "message": message}]}}


class ProfileWorld:
    members: dict[int, dict[int, dict[str, Any]]]

    def _init_profiles(self) -> None:
        self.profile_edits: list[tuple[int, dict[str, Any]]] = []  # (guild, body) of every accepted edit
        self.faces: dict[int, dict[str, Any]] = {}  # guild -> the bot's avatar/banner hash and bio there

    def _bad_profile(self, body: dict[str, Any]) -> dict[str, Any] | None:
        for field in ("avatar", "banner"):
            value = body.get(field)
            if value is None:
                continue
            match = DATA_URI.fullmatch(str(value))
            if match is None:
                return _field_error(field, "IMAGE_INVALID", "Invalid image data")
            try:
                data = base64.b64decode(match.group(2), validate=True)
            except binascii.Error:
                return _field_error(field, "IMAGE_INVALID", "Invalid image data")
            if not _is_image(match.group(1), data):  # Discord decodes it: the bytes must be that image
                return _field_error(field, "IMAGE_INVALID", "Invalid image data")
            if len(data) > IMAGE_LIMIT:
                return _field_error(field, "BINARY_TYPE_MAX_SIZE", "File cannot be larger than 10240.0 kb.")
        bio = body.get("bio")
        if bio is not None and (not isinstance(bio, str) or len(bio) > BIO_LIMIT):
            return _field_error("bio", "BASE_TYPE_MAX_LENGTH", f"Must be {BIO_LIMIT} or fewer in length.")
        nick = body.get("nick")
        if nick is not None and (not isinstance(nick, str) or len(nick) > NICK_LIMIT):
            return _field_error("nick", "BASE_TYPE_MAX_LENGTH", f"Must be {NICK_LIMIT} or fewer in length.")
        return None

    async def _edit_own_member(self, gid: int, body: dict[str, Any], bot: dict[str, Any]) -> Any:
        uid = int(bot.get("id") or 0)
        if uid not in self.members.get(gid, {}):
            return error(404, 10004, "Unknown Guild")
        bad = self._bad_profile(body)
        if bad is not None:
            return error(400, 50035, "Invalid Form Body", bad)
        self.profile_edits.append((gid, dict(body)))
        face = self.faces.setdefault(gid, {"avatar": None, "banner": None, "bio": ""})
        for field in ("avatar", "banner"):
            if field in body:
                value = body[field]
                face[field] = None if value is None else hashlib.md5(str(value).encode()).hexdigest()
        if "bio" in body:
            face["bio"] = body["bio"] or ""
        if "nick" in body:
            self.members[gid][uid]["nick"] = body["nick"] or None
        payload = self._member_payload(gid, uid)  # type: ignore[attr-defined]
        return {**payload, "avatar": face["avatar"], "banner": face["banner"], "bio": face["bio"]}

    async def bot_joins(self, guild_id: int, name: str, channel_id: int) -> None:
        """The bot is invited to a new server while connected: GUILD_CREATE on the gateway."""
        self.add_guild(guild_id, name, channels=[(channel_id, "welcome")])  # type: ignore[attr-defined]
        payload = self._guild_payload(guild_id)  # type: ignore[attr-defined]
        # A join's GUILD_CREATE carries no "unavailable" (false: an outage ended, which is no join).
        payload.pop("unavailable", None)
        await self.dispatch("GUILD_CREATE", payload, guild_id=guild_id)  # type: ignore[attr-defined]

    def face_edits(self, guild_id: int) -> list[dict[str, Any]]:
        return [body for gid, body in self.profile_edits if gid == guild_id]

