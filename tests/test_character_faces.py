"""The character's own face per server over the wire: a card's picture, banner and bio are shown in each
server the bot is in (once: a restart sends nothing more) and in a server it joins; the evolution stage
reached in one server changes that server's face only; a field a server admin set by hand wins over the
stage until ``/bot face reset``, which returns to the character's face; a picture Discord would refuse is
left out and said so, never sent; a stage's missing picture or a bio too long stops the load, named. The
fake Discord refuses the bodies Discord refuses."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.errors import ConfigError
from bot.core.persona.loader import load_persona
from bot.core.persona.png import embed_card_png, placeholder_png
from tests.fakes.discord_cdn import padded_png, png_bytes
from tests.harness import CHANNEL_ID, GUILD_ID, OWNER_ID, Harness, eventually
from tests.server_support import answer
from tests.test_faces import ROUTE, face

OTHER_GUILD, OTHER_GUILD_CHANNEL = 880_000_000_000_000_001, 880_000_000_000_000_002
NEW_GUILD, NEW_GUILD_CHANNEL = 880_000_000_000_000_003, 880_000_000_000_000_004
BIO = "Keeps the tide tables."
FRIEND_BIO = "An old friend of this place now."
ANSWER = "*Wren checks the tide.* Aye."


def wren(tmp_path: Path, *, banner: bytes | None = None) -> Path:
    """A V2 card in a PNG (its picture is the avatar), a banner, a bio, and a stage after two interactions
    with an avatar and a bio of its own."""
    card = {
        "name": "Wren", "description": "{{char}} keeps a harbour's tide tables.", "personality": "steady",
        "scenario": "", "first_mes": "", "mes_example": "", "creator_notes": "", "system_prompt": "",
        "post_history_instructions": "", "alternate_greetings": [], "tags": [], "creator": "tests",
        "character_version": "1",
        "extensions": {"kindred": {"bio": BIO},
                       "evolution_stages": [{"milestone": 2, "name": "Friend", "unlocks": {"tone": "warm"},
                                             "avatar": "friend.png", "bio": FRIEND_BIO}]},
    }
    folder = tmp_path / "wren"
    folder.mkdir(parents=True, exist_ok=True)
    payload = base64.b64encode(json.dumps({"spec": "chara_card_v2", "spec_version": "2.0",
                                           "data": card}).encode()).decode()
    (folder / "card.png").write_bytes(embed_card_png(placeholder_png(), {"chara": payload}))
    (folder / "banner.png").write_bytes(banner if banner is not None else png_bytes(8, 2))
    (folder / "friend.png").write_bytes(png_bytes(3, 3))
    return folder


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


async def window_passed(h: Harness, guild_id: int) -> None:
    """The route's window in a server is over (once the change under way is recorded): the fake's bucket
    empties, and Kindred's record of the last change goes (what ten minutes would do)."""
    await h.settled()
    h.discord.buckets[ROUTE].hits.clear()
    await h.store.state.delete(f"face_changed:{guild_id}")


@pytest.fixture
async def two_servers(db_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=wren(tmp_path))
    await h.start_world(other_guild=(OTHER_GUILD, OTHER_GUILD_CHANNEL))
    try:
        await h.start_bot()
        yield h
    finally:
        await h.close()


async def talk(h: Harness, n: int) -> None:
    """``n`` answered interactions in the first server's channel."""
    for i in range(n):
        h.claude.script(ANSWER)
        await h.say(f"Wren, the tide? ({i})", mention=True)
        await h.replies(CHANNEL_ID, i + 1)
    await h.settled()


async def test_the_cards_face_is_shown_once_in_each_server_and_on_joining(two_servers: Harness) -> None:
    h = two_servers
    d = h.discord
    folder = h.character_dir
    card_face = {"avatar": data_uri((folder / "card.png").read_bytes()),
                 "banner": data_uri((folder / "banner.png").read_bytes()), "bio": BIO}
    for guild in (GUILD_ID, OTHER_GUILD):
        await d.wait_for(lambda fake, g=guild: fake.face_edits(g), what="the card's face")
    await h.settled()
    assert d.face_edits(GUILD_ID) == [card_face] and d.face_edits(OTHER_GUILD) == [card_face]
    assert d.faces[GUILD_ID]["bio"] == BIO and d.faces[GUILD_ID]["avatar"] is not None

    # A restart finds the same face applied: nothing crosses the wire again.
    await h.restart()
    await h.settled()
    assert len(d.face_edits(GUILD_ID)) == 1 and len(d.face_edits(OTHER_GUILD)) == 1

    # A server the bot joins gets the face at once.
    await d.bot_joins(NEW_GUILD, "New Harbour", NEW_GUILD_CHANNEL)
    await d.wait_for(lambda fake: fake.face_edits(NEW_GUILD), what="the face on joining")
    assert d.face_edits(NEW_GUILD) == [card_face] and d.rate_limited == []


async def test_a_stage_reached_in_one_server_changes_that_servers_face(two_servers: Harness) -> None:
    h = two_servers
    d = h.discord
    for guild in (GUILD_ID, OTHER_GUILD):
        await d.wait_for(lambda fake, g=guild: fake.face_edits(g), what="the card's face")
    await window_passed(h, GUILD_ID)
    await talk(h, 1)
    assert len(d.face_edits(GUILD_ID)) == 1  # no stage yet
    await talk(h, 1)  # the second interaction here: the Friend stage, in this server
    await d.wait_for(lambda fake: len(fake.face_edits(GUILD_ID)) == 2, what="the stage's face")
    friend = d.face_edits(GUILD_ID)[-1]
    assert friend["avatar"] == data_uri((h.character_dir / "friend.png").read_bytes())
    assert friend["bio"] == FRIEND_BIO
    assert friend["banner"] == data_uri((h.character_dir / "banner.png").read_bytes())  # kept from the card
    assert len(d.face_edits(OTHER_GUILD)) == 1 and d.faces[OTHER_GUILD]["bio"] == BIO  # the other server's
    assert d.rate_limited == []


async def test_an_admins_face_wins_over_the_stage_until_reset(two_servers: Harness) -> None:
    h = two_servers
    d = h.discord
    await d.wait_for(lambda fake: fake.face_edits(GUILD_ID), what="the card's face")
    await window_passed(h, GUILD_ID)
    said = await answer(await h.slash("bot", face("bio", text="The harbour's own."), user=OWNER_ID))
    assert said == "Done: my bio changed in this server."

    await window_passed(h, GUILD_ID)
    await talk(h, 2)  # the Friend stage: its avatar, not its bio (the admin's stays)
    await d.wait_for(lambda fake: len(fake.face_edits(GUILD_ID)) == 3, what="the stage's face")
    stage = d.face_edits(GUILD_ID)[-1]
    assert "bio" not in stage and stage["avatar"] == data_uri((h.character_dir / "friend.png").read_bytes())
    assert d.faces[GUILD_ID]["bio"] == "The harbour's own."

    # Reset: the character's face at the stage reached here, bio included.
    await window_passed(h, GUILD_ID)
    said = await answer(await h.slash("bot", face("reset"), user=OWNER_ID))
    assert said == "Done: my face changed in this server."
    assert d.face_edits(GUILD_ID)[-1] == {"avatar": stage["avatar"], "banner": stage["banner"],
                                          "bio": FRIEND_BIO}
    assert d.faces[GUILD_ID]["bio"] == FRIEND_BIO and d.rate_limited == []


async def test_a_picture_discord_would_refuse_is_left_out_and_said_so(
        db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.features.faces.character_faces")
    too_large = padded_png(10 * 1024 * 1024 + 4096)
    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=wren(tmp_path, banner=too_large))
    await h.start_world()
    try:
        await h.start_bot()
        d = h.discord
        await d.wait_for(lambda fake: fake.face_edits(GUILD_ID), what="the card's face")
        [shown] = d.face_edits(GUILD_ID)
        assert shown["banner"] is None and shown["bio"] == BIO and shown["avatar"]  # the rest is shown
        problem = ("the banner (banner.png) is 10.0 MiB, over Discord's limit of 10 MiB for a profile "
                   "picture: left out")
        assert [r.getMessage() for r in caplog.records] == [
            f"the character's face in server {GUILD_ID}: {problem}"]

        await window_passed(h, GUILD_ID)
        said = await answer(await h.slash("bot", face("reset"), user=OWNER_ID))
        assert said == f"Done: my face changed in this server.\nNot shown: {problem}."

        # An admin's picture that is not an image is refused before anything is sent.
        await window_passed(h, GUILD_ID)
        fake_gif = d.attachment("face.gif", content_type="image/gif", data=b"GIF? no, text")
        said = await answer(await h.slash("bot", face("avatar", image=fake_gif), user=OWNER_ID))
        assert said == "I could not change my avatar: the avatar is not a PNG, JPEG, GIF or WebP image"
        assert len(d.face_edits(GUILD_ID)) == 2 and d.rate_limited == []
    finally:
        await h.close()


async def test_the_fake_refuses_the_bodies_discord_refuses(harness: Harness) -> None:
    d = harness.discord
    url = f"{d.api_base}/guilds/{GUILD_ID}/members/@me"
    async with aiohttp.ClientSession(headers={"Authorization": "Bot fake-discord-token"}) as http:
        async def patch(body: dict[str, Any]) -> tuple[int, Any]:
            d.buckets[ROUTE].hits.clear()  # the route's rate limit is not what this tests
            async with http.patch(url, json=body) as r:
                return r.status, await r.json()

        def refused(field: str, code: str) -> Any:
            return lambda status, body: (status == 400 and body["code"] == 50035
                                         and body["message"] == "Invalid Form Body"
                                         and body["errors"][field]["_errors"][0]["code"] == code)

        cases = [
            ({"avatar": "https://example.com/me.png"}, refused("avatar", "IMAGE_INVALID")),
            ({"avatar": "data:image/bmp;base64,Qk0="}, refused("avatar", "IMAGE_INVALID")),
            ({"banner": "data:image/png;base64," + base64.b64encode(b"not a png").decode()},
             refused("banner", "IMAGE_INVALID")),
            ({"avatar": data_uri(padded_png(10 * 1024 * 1024 + 4096))},
             refused("avatar", "BINARY_TYPE_MAX_SIZE")),
            ({"bio": "x" * 191}, refused("bio", "BASE_TYPE_MAX_LENGTH")),
            ({"nick": "n" * 33}, refused("nick", "BASE_TYPE_MAX_LENGTH")),
        ]
        for body, check in cases:
            status, answer_body = await patch(body)
            assert check(status, answer_body), (body.keys(), status, answer_body)
        assert d.face_edits(GUILD_ID) == []
        status, member = await patch({"avatar": data_uri(png_bytes(2, 2)), "bio": "x" * 190})
        assert status == 200 and member["bio"] == "x" * 190 and member["avatar"]
    assert len(d.face_edits(GUILD_ID)) == 1


def test_a_folder_face_that_cannot_be_shown_stops_the_load_naming_it(tmp_path: Path) -> None:
    folder = wren(tmp_path)
    (folder / "friend.png").unlink()
    with pytest.raises(ConfigError, match="evolution stage 'Friend': avatar: no such file: friend.png"):
        load_persona(folder, {})
    (folder / "friend.png").write_bytes(png_bytes(1, 1))
    with pytest.raises(ConfigError, match="bio: a profile bio is at most 190 characters, this one has 191"):
        load_persona(folder, {"bio": "b" * 191})
    persona = load_persona(folder, {"bio": "From the env."})
    assert persona.bio == "From the env." and persona.banner_path == folder / "banner.png"


async def test_a_face_discord_refuses_for_good_is_logged_once_and_not_sent_again(
        db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Discord answers the card's face with a 403: one line in the log (no traceback), and a restart does
    not send the same face again; a changed face would be."""
    caplog.set_level(logging.WARNING)
    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=wren(tmp_path))
    await h.start_world()
    try:
        path = f"/guilds/{GUILD_ID}/members/@me"
        h.discord.fail_next(f"PATCH {path}", 403, 50013, "Missing Permissions")
        await h.start_bot()

        async def refused() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "refused by Discord" in r.getMessage()]

        [line] = await eventually(refused, "the refusal logged")
        assert line.name == "bot.features.faces.character_faces" and line.exc_info is None
        assert "403" in line.getMessage() and "\n" not in line.getMessage()
        assert not [r for r in caplog.records if r.exc_info is not None]
        tried = [r for r in h.discord.requests if r.method == "PATCH" and r.path == path]
        assert len(tried) == 1
        await h.stop_bot()
        await h.start_bot()
        await h.settled()
        assert [r for r in h.discord.requests if r.method == "PATCH" and r.path == path] == tried
        assert len(await refused()) == 1
    finally:
        await h.close()
