"""One mention policy for every send path (issue 26, item 4), seen in what the fake Discord would ping
(its ``_pings``, by Discord's rules for ``allowed_mentions``): a ticket's topic cannot ping @everyone,
/reroll's public post and the character's own posts ping no crowd, as replies already did."""

from __future__ import annotations

from typing import Any

from bot.discord.posting import MAX_PINGED_USERS
from bot.discord.presence import ChannelOutlet
from tests.harness import ADMIN_ID, CHANNEL_ID, USER_ID, Harness, ephemeral, press
from tests.test_tickets import setup_staff, threads, ticket
from tests.test_user_commands import chat, settled, wait_content

CROWD = " ".join(f"<@{900_000_000_000_000_500 + i}>" for i in range(MAX_PINGED_USERS + 2))


def pings(message: dict[str, Any]) -> dict[str, Any]:
    return message["_pings"]


async def test_a_ticket_topic_cannot_ping_everyone(harness: Harness) -> None:
    h = harness
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    await ticket(h, "open", topic="@everyone @here look at this")
    [thread] = threads(h)
    [opening] = h.discord.posted(int(thread["id"]))
    assert "@everyone" in opening["content"]  # the topic is quoted...
    assert pings(opening) == {"everyone": False, "users": [USER_ID], "roles": [staff]}  # ...but pings no one


async def test_reroll_public_post_pings_no_crowd(harness: Harness) -> None:
    h = harness
    await chat(h, "who is coming?", "Let me think.", 1)
    await settled(h, 2)
    h.claude.script(f"Everyone! {CROWD} @everyone", model="claude-test-default")
    preview = await ephemeral(await h.slash("reroll"))
    await wait_content(h, preview, "Everyone!")
    await (await press(h, preview, "accept")).response()
    await wait_content(h, preview, "Posted.")
    new = h.discord.posted(CHANNEL_ID)[-1]
    assert CROWD in new["content"]
    assert pings(new) == {"everyone": False, "users": [], "roles": []}


async def test_the_characters_own_posts_ping_a_few_but_no_crowd(harness: Harness) -> None:
    h = harness
    outlet = ChannelOutlet(h.bot.get_channel(CHANNEL_ID))  # what proactive posts and check-ins send through
    crowd_id = await outlet.send(f"Hello all {CROWD} @everyone", first=True)
    few_id = await outlet.send(f"Hi <@{USER_ID}>, and <@&{h.guild_id}>", first=True)
    assert pings(h.discord.messages[crowd_id]) == {"everyone": False, "users": [], "roles": []}
    assert pings(h.discord.messages[few_id]) == {"everyone": False, "users": [USER_ID], "roles": []}
