"""A server place's facts (whether @everyone may see it, the post permission the bot lacks there) are derived
once per channel and forgotten whenever a gateway event may change them (bot/discord/places.py
``KnownPlaces``, told by the bot's dispatch): over the wire, each change applies to the next message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from bot.discord.places import KnownPlaces
from tests.fakes.discord_guild import SEND_MESSAGES
from tests.harness import GUILD_ID, OTHER_CHANNEL_ID, Harness, invited


async def test_the_bots_post_permission_follows_the_channel_a_role_and_its_member(harness: Harness) -> None:
    h = harness
    d = h.discord
    channel: dict[str, Any] = d.channels[OTHER_CHANNEL_ID]
    said = 0

    async def answered() -> bool:
        nonlocal said
        said += 1
        before = len(d.posted(OTHER_CHANNEL_ID))
        sent = await h.say(f"Finn, are you there? ({said})", channel=OTHER_CHANNEL_ID, mention=True)
        await h.handled(sent)  # a reply not posted by then never is
        return len(d.posted(OTHER_CHANNEL_ID)) > before

    async def overwrites(*denied: tuple[int, int]) -> None:
        channel["permission_overwrites"] = [{"id": str(role), "type": 0, "allow": "0", "deny": str(bits)}
                                            for role, bits in denied]
        await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)

    bot_role = d.bot_role_id(GUILD_ID)
    await d.set_role_permissions(GUILD_ID, bot_role, invited())  # as the invite gives
    assert await answered()  # the place's facts derived, and kept
    await overwrites((bot_role, SEND_MESSAGES))
    assert not await answered()  # the channel's update: derived again
    await overwrites()
    assert await answered()
    # A role the bot does not have is denied there (the channel's update: the bot may still post) ...
    muted = await d.add_role(GUILD_ID, "Quiet")
    await overwrites((muted, SEND_MESSAGES))
    assert await answered()
    # ... then given to the bot: its own member's update is the only event that says so
    await d.give_role(GUILD_ID, h.bot_user_id, muted)
    assert not await answered()
    assert len(h.claude.requests) == 3  # no model call where the post would be refused


class Channel:
    """A server channel as the facts read it, counting what they ask of discord.py."""

    id = 7

    def __init__(self) -> None:
        self.asked = 0
        self.guild = SimpleNamespace(me=None, default_role=object())

    def permissions_for(self, _: object) -> SimpleNamespace:
        self.asked += 1
        return SimpleNamespace(view_channel=True)

    def is_nsfw(self) -> bool:
        return False


def test_only_events_that_may_change_a_place_forget_it() -> None:
    known, channel = KnownPlaces(), Channel()
    me, someone = SimpleNamespace(id=1), SimpleNamespace(id=2)
    assert known.facts(channel) == known.facts(channel) == (False, False, "")
    assert channel.asked == 1
    known.told("message", (object(),), 1)
    known.told("member_update", (someone, someone), 1)  # another member's roles
    known.facts(channel)
    assert channel.asked == 1
    for event, args in (("member_update", (me, me)), ("guild_role_update", (None, None)),
                        ("guild_channel_update", (None, None)), ("thread_update", (None, None)),
                        ("guild_update", (None, None)), ("resumed", ())):
        known.told(event, args, 1)
        known.facts(channel)
    assert channel.asked == 7
