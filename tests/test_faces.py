"""A face per server over the wire: ``/bot face`` sets the character's avatar, banner and bio in one server
through ``PATCH /guilds/{guild}/members/@me`` (a data URI the fake validates); a picture is refused by its
declared size and type before any download, and one larger than declared is cut at the limit; a second
change within the route's rate limit is deferred to a durable timer (no second request, no 429, until it
fires; then exactly one), reset sends nulls, and a member who is not a server admin is refused ephemerally."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest.mock import AsyncMock

import discord
import pytest

from bot.features.faces.faces import TIMER, FaceRefused, Faces
from cogs.faces import DiscordFaces
from database.timers import TimerRow
from tests.dbtools import timers_of_kind
from tests.fakes.discord_cdn import padded_png, png_bytes
from tests.harness import GUILD_ID, OWNER_ID, USER_ID, Harness, eventually
from tests.server_support import answer

ROUTE = "PATCH /guilds/:major/members/@me"
ROUTE_PATH = f"PATCH /guilds/{GUILD_ID}/members/@me"  # as the fake's faults match a request


def face(name: str, **options: Any) -> list[dict[str, Any]]:
    """``/bot face <name>`` options as Discord sends them (a subcommand group, then the subcommand)."""
    sub_options = []
    for key, value in options.items():
        if isinstance(value, dict):  # an attachment
            sub_options.append({"name": key, "type": 11, "value": value["id"]})
        else:
            sub_options.append({"name": key, "type": 3, "value": value})
    return [{"type": 2, "name": "face", "options": [{"type": 1, "name": name, "options": sub_options}]}]


async def test_a_face_is_set_deferred_within_the_limit_and_reset(harness: Harness) -> None:
    h = harness
    image = h.discord.attachment("face.png", content_type="image/png", data=png_bytes(4, 4))
    said = await answer(await h.slash("bot", face("avatar", image=image), user=OWNER_ID))
    assert said == "Done: my avatar changed in this server."
    [first] = h.discord.face_edits(GUILD_ID)
    assert first["avatar"].startswith("data:image/png;base64,") and set(first) == {"avatar"}
    assert h.discord.faces[GUILD_ID]["avatar"] is not None

    # A second change within the window waits for its timer: nothing more crosses the wire, no 429.
    said = await answer(await h.slash("bot", face("bio", text="Keeper of the lighthouse."), user=OWNER_ID))
    assert said.startswith("Discord limits how often I may change my face: my bio will change <t:")
    assert len(h.discord.face_edits(GUILD_ID)) == 1 and h.discord.rate_limited == []
    [pending] = await timers_of_kind(h.store, TIMER)
    assert pending.payload == {"guild_id": GUILD_ID, "change": {"bio": "Keeper of the lighthouse."}}

    # The window passes (the fake's bucket empties) and the timer comes due: exactly one request.
    h.discord.buckets[ROUTE].hits.clear()
    assert h.bot is not None
    await h.bot.services.part(Faces).timers.at(TIMER, pending.key, datetime.now(UTC), pending.payload)
    await h.discord.wait_for(lambda d: len(d.face_edits(GUILD_ID)) == 2, what="the deferred edit")

    async def retired() -> bool:
        return await timers_of_kind(h.store, TIMER) == []

    await eventually(retired, "the face timer to retire")
    assert h.discord.face_edits(GUILD_ID)[1] == {"bio": "Keeper of the lighthouse."}
    assert h.discord.faces[GUILD_ID]["bio"] == "Keeper of the lighthouse."

    # Reset (once the window has passed) sends nulls: the global face again.
    h.discord.buckets[ROUTE].hits.clear()
    await h.store.state.delete(f"face_changed:{GUILD_ID}")
    said = await answer(await h.slash("bot", face("reset"), user=OWNER_ID))
    assert said == "Done: my face changed in this server."
    assert h.discord.face_edits(GUILD_ID)[-1] == {"avatar": None, "banner": None, "bio": ""}
    assert h.discord.faces[GUILD_ID] == {"avatar": None, "banner": None, "bio": ""}
    assert len(h.discord.face_edits(GUILD_ID)) == 3 and h.discord.rate_limited == []


async def test_a_face_is_for_server_admins(harness: Harness) -> None:
    h = harness
    refused = await answer(await h.slash("bot", face("bio", text="Not mine to set."), user=USER_ID))
    assert refused == "Only this server's admins (the Manage Server permission) can use this command."
    assert h.discord.face_edits(GUILD_ID) == []



async def test_a_picture_too_large_or_of_the_wrong_kind_is_refused_before_its_download(
        harness: Harness) -> None:
    """The attachment's declared size and type are checked first: a 60 MiB file, or a BMP, is refused
    ephemerally with the reason, and the CDN serves none of it."""
    h = harness
    huge = h.discord.attachment("huge.png", content_type="image/png", size=60 * 1024 * 1024,
                                data=padded_png(4096))
    said = await answer(await h.slash("bot", face("avatar", image=huge), user=OWNER_ID))
    assert said == ("I could not change my avatar: huge.png is 60.0 MiB, over Discord's limit of 10 MiB "
                    "for a profile picture.")
    bmp = h.discord.attachment("face.bmp", content_type="image/bmp", data=b"BM" + bytes(100))
    said = await answer(await h.slash("bot", face("banner", image=bmp), user=OWNER_ID))
    assert said == "I could not change my banner: face.bmp is not a PNG, JPEG, GIF or WebP image."
    assert h.discord.cdn_requests == [] and h.discord.cdn_sent == {}
    assert h.discord.face_edits(GUILD_ID) == []


@pytest.mark.parametrize(("locale", "expected"), [
    ("de", "photo.jpg ist 12,5 MiB groß, über Discords Grenze von 10 MiB für ein Profilbild."),
    ("fr", "fait 12,5 Mio, au-delà de la limite de Discord de 10 Mio pour une image de profil"),
])
async def test_a_picture_too_large_says_its_size_as_the_admins_language_writes_it(
        harness: Harness, locale: str, expected: str) -> None:
    """A phone photo over Discord's 10 MiB: its size is said with the admin's decimal sign and unit ("12,5
    MiB", "12,5 Mio"), never "12.5 MiB" inside a German or French sentence."""
    h = harness
    h.discord.set_locale(OWNER_ID, locale)
    photo = h.discord.attachment("photo.jpg", content_type="image/jpeg", size=int(12.5 * 1024 * 1024),
                                 data=padded_png(4096))
    said = await answer(await h.slash("bot", face("avatar", image=photo), user=OWNER_ID))
    assert expected in said, said
    assert "12.5" not in said and h.discord.cdn_requests == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_picture_larger_than_it_declared_is_cut_at_the_limit(harness: Harness, chunked: bool) -> None:
    """Declared small, really 40 MiB: the download streams and stops at Discord's 10 MiB limit (never read
    whole, with or without a Content-Length), and the admin is told why."""
    h = harness
    h.discord.cdn_chunked = chunked
    data = padded_png(40 * 1024 * 1024)
    liar = h.discord.attachment("face.png", content_type="image/png", size=2048, data=data)
    said = await answer(await h.slash("bot", face("avatar", image=liar), user=OWNER_ID))
    assert said == ("I could not change my avatar: face.png is larger than it said, over Discord's limit of "
                    "10 MiB for a profile picture.")
    assert h.discord.cdn_requests == [int(liar["id"])]
    # Not the 40 MiB: how far past the limit the fake got before the hang-up is the socket buffers' business
    # (several MiB on loopback, more when the machine is loaded), so only the whole is ruled out.
    assert h.discord.cdn_sent[int(liar["id"])] < len(data)
    assert h.discord.face_edits(GUILD_ID) == []


async def test_a_picture_deferred_to_its_timer_is_kept_as_base64(harness: Harness) -> None:
    """A change holds the picture's bytes; one that waits for the window is stored as base64 (JSON) and
    sent as the same picture when its timer fires."""
    h = harness
    first = h.discord.attachment("a.png", content_type="image/png", data=png_bytes(2, 2))
    assert await answer(await h.slash("bot", face("avatar", image=first), user=OWNER_ID)) == \
        "Done: my avatar changed in this server."
    banner = png_bytes(8, 3)
    later = h.discord.attachment("b.png", content_type="image/png", data=banner)
    said = await answer(await h.slash("bot", face("banner", image=later), user=OWNER_ID))
    assert said.startswith("Discord limits how often I may change my face: my banner will change <t:")
    [pending] = await timers_of_kind(h.store, TIMER)
    assert pending.payload["change"] == {"banner": base64.b64encode(banner).decode()}
    h.discord.buckets[ROUTE].hits.clear()
    assert h.bot is not None
    await h.bot.services.part(Faces).timers.at(TIMER, pending.key, datetime.now(UTC), pending.payload)
    await h.discord.wait_for(lambda d: len(d.face_edits(GUILD_ID)) == 2, what="the deferred edit")
    assert h.discord.face_edits(GUILD_ID)[1] == {"banner": "data:image/png;base64,"
                                                 + base64.b64encode(banner).decode()}

async def test_a_change_discord_refuses_for_good_is_dropped_not_retried(
        harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """A deferred change Discord answers with a 403 is logged in one line, without a traceback, and its
    timer retires: not sent again after every lease, for ever."""
    h = harness
    assert h.bot is not None
    caplog.set_level(logging.WARNING)
    h.discord.limit_route(ROUTE, 100, 1.0)  # Kindred's own window defers the second change, not Discord
    said = await answer(await h.slash("bot", face("bio", text="First."), user=OWNER_ID))
    assert said == "Done: my bio changed in this server."
    said = await answer(await h.slash("bot", face("bio", text="Second."), user=OWNER_ID))
    assert said.startswith("Discord limits how often I may change my face")
    [pending] = await timers_of_kind(h.store, TIMER)
    edits = len(h.discord.face_edits(GUILD_ID))
    h.discord.fail_next(ROUTE_PATH, 403, 50013, "Missing Permissions")
    await h.bot.services.part(Faces).timers.at(TIMER, pending.key, datetime.now(UTC), pending.payload)

    async def over() -> tuple[TimerRow | None] | None:
        row = await h.store.timers.get(pending.key)
        return (row,) if row is None or row.last_result.startswith("failed") else None

    assert (await eventually(over, "the face timer's run"))[0] is None  # retired: not taken again
    refused = [r for r in caplog.records if "face" in r.getMessage()]
    assert [(r.name, r.levelname) for r in refused] == [("bot.features.faces.faces", "WARNING")]
    assert refused[0].exc_info is None and "\n" not in refused[0].getMessage()
    assert "403" in refused[0].getMessage() and "Missing Permissions" in refused[0].getMessage()
    assert len(h.discord.face_edits(GUILD_ID)) == edits and h.discord.faces[GUILD_ID]["bio"] == "First."


class Refusing:
    """A guild whose bot member's edit Discord answers with ``status``."""

    def __init__(self, status: int) -> None:
        response = SimpleNamespace(status=status, reason="refused")
        error = {"code": 0, "message": f"status {status}"}
        self.me = SimpleNamespace(edit=AsyncMock(side_effect=discord.HTTPException(response, error)))


@pytest.mark.parametrize(("status", "for_good"), [(400, True), (403, True), (429, False), (503, False)])
async def test_only_a_4xx_other_than_429_is_a_refusal_for_good(status: int, for_good: bool) -> None:
    client = SimpleNamespace(get_guild=lambda _: Refusing(status))
    with pytest.raises(discord.HTTPException if not for_good else FaceRefused) as raised:
        await DiscordFaces(client).write(GUILD_ID, {"bio": "x"})  # type: ignore[arg-type]
    assert isinstance(raised.value, FaceRefused) == for_good
