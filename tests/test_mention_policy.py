"""One mention policy for every send path (issue 26, item 4), seen in what the fake Discord would ping
(``FakeDiscord.pings_of``, by Discord's rules for ``allowed_mentions``): a ticket's topic cannot ping
@everyone, a swiped alternative and the character's own posts ping no crowd, as replies already did."""

from __future__ import annotations

from typing import Any

from bot.discord.posting import MAX_PINGED_USERS
from bot.discord.presence import ChannelOutlet
from tests.fakes.discord_lead import panel_texts
from tests.harness import ADMIN_ID, CHANNEL_ID, USER_ID, Harness, press
from tests.test_tickets import setup_staff, threads, ticket
from tests.test_user_commands import chat, settled

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
    assert "@everyone" in "\n".join(panel_texts(opening))  # the topic is quoted in its panel...
    assert pings(opening) == {"everyone": False, "users": [USER_ID], "roles": [staff]}  # ...but pings no one


async def test_a_swiped_alternative_pings_no_crowd(harness: Harness) -> None:
    h = harness
    reply = await chat(h, "who is coming?", "Let me think.", 1)
    await settled(h, 2)
    await h.discord.wait_for(lambda _: reply.get("components"), what="the swipe buttons")
    h.claude.script(f"Everyone! {CROWD} @everyone", model="claude-test-default")
    await (await press(h, reply, "new")).response()
    await h.discord.wait_for(lambda _: "Everyone!" in reply["content"], what="the new alternative")
    [edit] = [r for r in h.discord.requests  # through the click's interaction (its @original)
              if r.method == "PATCH" and "Everyone!" in ((r.body or {}).get("content") or "")]
    assert h.discord.pings_of(edit.body) == {"everyone": False, "users": [], "roles": []}


async def test_the_characters_own_posts_ping_a_few_but_no_crowd(harness: Harness) -> None:
    h = harness
    outlet = ChannelOutlet(h.bot.get_channel(CHANNEL_ID))  # what proactive posts and check-ins send through
    crowd_id = await outlet.send(f"Hello all {CROWD} @everyone", first=True)
    few_id = await outlet.send(f"Hi <@{USER_ID}>, and <@&{h.guild_id}>", first=True)
    assert pings(h.discord.messages[crowd_id]) == {"everyone": False, "users": [], "roles": []}
    assert pings(h.discord.messages[few_id]) == {"everyone": False, "users": [USER_ID], "roles": []}
