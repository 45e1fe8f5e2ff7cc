"""A face per server: the character's own avatar, banner and bio in one server (Discord's current-member
route, ``PATCH /guilds/{guild}/members/@me``), set by a server admin and undone on request.

Discord rate-limits that route per server, so a change made within :data:`WINDOW` of the last one is not sent
(and never retried in a loop): it waits in a durable one-shot timer (bot/core/timers.py) due when the window
ends; a later change made meanwhile is merged into the same pending row, so the window ends with exactly one
request. When the last change was made is a state key, so a restart keeps the window.

Which fields a server admin set by hand is a state key too: the character's own face
(bot/features/faces/character_faces.py) never overrides them, until ``/bot face reset`` forgets them. A
picture Discord would refuse (not PNG, JPEG, GIF or WebP, or over :data:`IMAGE_LIMIT`) is refused here with a
clear message, never sent; an attachment is refused by what it declares before a byte of it is read
(:func:`declared_problem`). A change Discord refuses for good all the same (a 4xx other than 429: an image
it will not take, a permission missing) is logged in one line and dropped: sent again only when the face is
changed again. A 429 or a 5xx is passing: a deferred change is taken again after the timers' lease.

A change holds a picture as its bytes, as downloaded: checked and sent without a copy; only a change
deferred to its timer is written as base64 (the timer's payload is JSON).
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.i18n import N_, t
from bot.core.localtime import utc_now
from bot.core.numbers import number
from bot.core.timers import Timers
from database.boundary import JsonObject
from database.state import State
from database.timers import TimerRow

log = logging.getLogger(__name__)

TIMER = "face"  # the one-shot timer kind of a deferred change
# At most one change per server in this long (Discord does not publish the route's limit).
WINDOW = timedelta(minutes=10)
BIO_LIMIT = 190  # characters, as Discord allows for a member's bio
IMAGE_LIMIT = 10 * 1024 * 1024  # bytes of an avatar or banner Discord takes
NOT_AN_IMAGE = N_("not a PNG, JPEG, GIF or WebP image")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what Discord takes for one
# avatar/banner: the image's bytes, or base64 of them as a deferred change stores them (None: back to the
# global one)
FIELDS = ("avatar", "banner", "bio")


class FaceWriteLimited(Exception):
    """Discord answered 429 anyway (another process changed the face, or its window is longer)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after:g}s")
        self.retry_after = retry_after


class FaceRefused(ValueError):
    """Discord refused the change for good (a 4xx other than 429); the message is one line, for the log and
    the admin."""


class FaceWriter(Protocol):
    async def write(self, guild_id: int, change: JsonObject) -> None:
        """Send one current-member edit with the fields of ``change`` (pictures as bytes or base64, None to
        clear)."""


def decode_image(value: object) -> bytes | None:
    """A change's picture as bytes: bytes as they are (no copy), base64 (a deferred change's) decoded."""
    if value is None or isinstance(value, bytes):
        return value
    return base64.b64decode(str(value))


def _mib(size: int, language: str | None) -> str:
    """A file's size in MiB to one decimal, as ``language`` writes a decimal ("12.5" in English, "12,5" in
    German)."""
    return t(language, "{size} MiB", size=number(size / 1024 / 1024, language, places=1))


def too_large(size: int, language: str | None = None) -> str:
    return t(language, "{size}, over Discord's limit of {limit} MiB for a profile picture",
             size=_mib(size, language), limit=number(IMAGE_LIMIT // 1024 // 1024, language))


def declared_problem(content_type: str | None, size: int, language: str | None = None) -> str:
    """Why Discord would refuse an attachment as an avatar or banner, by what the attachment declares ("" when
    it may do): checked before downloading it, so a 60 MiB file costs no memory."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind not in IMAGE_TYPES:
        return t(language, NOT_AN_IMAGE)
    if size > IMAGE_LIMIT:
        return too_large(size, language)
    return ""


def image_problem(data: bytes) -> str:
    """Why Discord would refuse ``data`` as an avatar or banner ("" when it would take it)."""
    webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if not (data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")) or webp):
        return NOT_AN_IMAGE
    if len(data) > IMAGE_LIMIT:
        return too_large(len(data))
    return ""


def check_change(change: JsonObject) -> None:
    """Raise ValueError, saying why, for a change Discord would refuse."""
    unknown = set(change) - set(FIELDS)
    if unknown:
        raise ValueError(f"not a face field: {sorted(unknown)}")
    bio = change.get("bio")
    if isinstance(bio, str) and len(bio) > BIO_LIMIT:
        raise ValueError(f"a bio is at most {BIO_LIMIT} characters")
    for field in ("avatar", "banner"):
        data = decode_image(change.get(field))
        if data is not None and (problem := image_problem(data)):
            raise ValueError(f"the {field} is {problem}")


class Faces:
    """A face per server. Discord's side of the edit (its ``FaceWriter``) is connected by the faces' cog as it
    loads (cogs/faces.py): the character's own face is shown once connected, after the cogs load."""

    def __init__(self, timers: Timers, state: State, writer: FaceWriter | None = None, *,
                 window: timedelta = WINDOW) -> None:
        self.timers = timers
        self.state = state
        self.writer = writer
        self.window = window

    def connect(self, writer: FaceWriter | None) -> None:
        """Discord's side of the edit (None: the cog unloaded)."""
        self.writer = writer

    @staticmethod
    def _key(guild_id: int) -> str:
        return f"face:{guild_id}"

    async def _last_change(self, guild_id: int) -> datetime | None:
        raw = await self.state.get(f"face_changed:{guild_id}")
        return datetime.fromisoformat(raw) if raw else None

    async def admin_fields(self, guild_id: int) -> set[str]:
        """The fields a server admin set by hand in this server (the character's face leaves them be)."""
        return {f for f in (await self.state.get(f"face_admin:{guild_id}")).split(",") if f}

    async def forget_admin(self, guild_id: int) -> None:
        await self.state.delete(f"face_admin:{guild_id}")

    async def change(self, guild_id: int, change: JsonObject, *, by_admin: bool = True) -> datetime | None:
        """Apply ``change`` now, or defer it; returns when a deferred change will be sent (None: sent now).
        ``by_admin``: a server admin's, which the character's own face then leaves be."""
        check_change(change)
        due = await self._apply(guild_id, change)
        if by_admin:  # once sent or waiting: a refused change marks nothing
            fields = sorted(await self.admin_fields(guild_id) | set(change))
            await self.state.set(f"face_admin:{guild_id}", ",".join(fields))
        return due

    async def _apply(self, guild_id: int, change: JsonObject) -> datetime | None:
        now = utc_now()
        pending = await self.timers.rows.get(self._key(guild_id))
        last = await self._last_change(guild_id)
        if pending is not None or (last is not None and now < last + self.window):
            earlier: JsonObject = {}
            if pending is not None:
                due, earlier = pending.due, dict(pending.payload.get("change") or {})
            else:
                assert last is not None
                due = last + self.window
            return await self._defer(guild_id, {**earlier, **change}, max(due, now))
        try:
            await self._send(guild_id, change)
        except FaceWriteLimited as limited:
            return await self._defer(guild_id, change, now + timedelta(seconds=limited.retry_after))
        return None

    async def _defer(self, guild_id: int, change: JsonObject, due: datetime) -> datetime:
        change = {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in change.items()}
        await self.timers.at(TIMER, self._key(guild_id), due, {"guild_id": guild_id, "change": change})
        return due

    async def _send(self, guild_id: int, change: JsonObject) -> None:
        if self.writer is None:  # not connected: a change waits in its timer, a server admin is told
            raise LookupError("the faces' Discord side is not connected")
        await self.writer.write(guild_id, change)
        await self.state.set(f"face_changed:{guild_id}", utc_now().isoformat())

    async def apply_due(self, row: TimerRow) -> str:
        """The timer's handler: the pending change, sent once. A 429 here raises, so the row is taken again
        after the timers' lease, not at once."""
        guild_id = int(str(row.payload["guild_id"]))
        change = row.payload.get("change") or {}
        try:
            await self._send(guild_id, dict(change))
        except FaceRefused as refused:  # for good: retried, it would fail every lease, for ever
            log.warning("the face change in server %s was refused by Discord (%s): dropped, until the face "
                        "is changed again", guild_id, refused)
            return f"face change in server {guild_id} refused: {refused}"
        return f"face changed in server {guild_id}"
