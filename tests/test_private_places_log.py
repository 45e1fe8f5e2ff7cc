"""The verbose log mirror names private places by id, never quoting them or showing their names (issue 26,
item 8): a ticket's private thread (named after its topic) and a channel @everyone cannot see are treated
as DMs are."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import ADMIN_ID, GUILD_ID, OTHER_CHANNEL_ID, USER_ID, Harness, MakeHarness
from tests.test_admin_log_channel import admin_says, log_posts, wait_until
from tests.test_log_mirror_i18n import log_channel_in
from tests.test_tickets import setup_staff, threads, ticket

VIEW_CHANNEL = 1 << 10


async def test_a_ticket_thread_is_named_by_id_without_its_text_or_topic(harness: Harness) -> None:
    h = harness
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    await h.store.servers.update(GUILD_ID, reply_mode="all")  # the character may answer in the thread
    await admin_says(h, "verbose", 1)
    await ticket(h, "open", topic="my embarrassing rash")
    [thread] = threads(h)
    tid = int(thread["id"])
    await h.say("Finn, it itches terribly", channel=tid, mention=True)
    await h.replies(tid, 2)  # the opening post, then the answer
    line = f"private channel {tid} · user {USER_ID}: reply"
    await wait_until(h, lambda: line in log_posts(h), "the mirrored decision")
    await h.bot.mirror.drain()
    mirrored = [t for t in log_posts(h) if "ticket #" not in t]  # the ticket notices are the server's log
    assert not any("itches" in t or "rash" in t or thread["name"] in t for t in mirrored), mirrored


# A private channel's decision line as the log channel's language says it.
PRIVATE_LINE = {"en": f"private channel {OTHER_CHANNEL_ID} · user {USER_ID}: reply",
                "de": f"privater Kanal {OTHER_CHANNEL_ID} · Nutzer {USER_ID}: Antwort",
                "ja": f"非公開チャンネル {OTHER_CHANNEL_ID} · ユーザー {USER_ID}: 返信する"}


@pytest.mark.parametrize("language", ["en", "de", "ja"])
async def test_a_channel_everyone_cannot_see_is_named_by_id(make_harness: MakeHarness, language: str) -> None:
    """Named by its id, in the log channel's language as the rest of the line is (German by the server's
    setting, Japanese by its preferred locale)."""
    h = await log_channel_in(make_harness, language)
    d = h.discord
    channel: dict[str, Any] = d.channels[OTHER_CHANNEL_ID]
    channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    await admin_says(h, "verbose", 1)
    await h.say("Finn, the secret plans are ready", channel=OTHER_CHANNEL_ID, mention=True)
    await h.replies(OTHER_CHANNEL_ID, 1)
    line = PRIVATE_LINE[language]
    await wait_until(h, lambda: line in log_posts(h), f"the mirrored decision in {language}")
    await h.bot.mirror.drain()
    assert not any("secret plans" in t or f"#{channel['name']}" in t for t in log_posts(h))
    if language != "en":
        assert not any("private channel" in t for t in log_posts(h))


async def test_a_channel_made_private_and_public_again_is_seen_by_the_next_message(harness: Harness) -> None:
    """Whether @everyone may see a channel is kept per channel (every message asks) while the channel's
    overwrites and @everyone's permissions stay as they were: a change to either applies to the next
    message."""
    h = harness
    d = h.discord
    channel: dict[str, Any] = d.channels[OTHER_CHANNEL_ID]
    private = f"private channel {OTHER_CHANNEL_ID} · user {USER_ID}: reply"
    await admin_says(h, "verbose", 1)
    said = 0

    async def mirrored(text: str, expected: str, count: int = 1) -> str:
        nonlocal said
        said += 1
        await h.say(f"Finn, {text}", channel=OTHER_CHANNEL_ID, mention=True)
        await h.replies(OTHER_CHANNEL_ID, said)
        await wait_until(h, lambda: "\n".join(log_posts(h)).count(expected) == count, expected)
        await h.bot.mirror.drain()
        return "\n".join(log_posts(h))

    assert f"#{channel['name']}" in await mirrored("the first word", "the first word")
    channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    assert "hidden word" not in await mirrored("the hidden word", private)
    channel["permission_overwrites"] = []
    await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    await mirrored("the open word", "the open word")
    everyone = int(d.roles[GUILD_ID][GUILD_ID]["permissions"])
    assert everyone & VIEW_CHANNEL
    await d.set_role_permissions(GUILD_ID, GUILD_ID, everyone & ~VIEW_CHANNEL)
    assert "closed word" not in await mirrored("the closed word", private, count=2)
