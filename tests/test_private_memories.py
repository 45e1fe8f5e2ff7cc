"""What is said in a private place stays private, and a server's memories stay in it (issue 49, item 3).

A private place of a server (a channel @everyone cannot see, a private thread such as a ticket's) is kept like
a DM: its lines are logged as private, consolidation learns private facts from them (recalled in DMs only),
and its conversation is summarized into private memories. Facts learnt in a server's public channels come up
in that server only, unless the person says otherwise (``/memory servers all``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from database.records import PRIVATE_SOURCE
from tests.fakes.claude_server import FakeClaude
from tests.harness import CHANNEL_ID, GUILD_ID, OTHER_CHANNEL_ID, USER_ID, Harness, consolidate
from tests.memory_support import consolidation_responder
from tests.test_consent import use_test_embedder

OTHER_GUILD, OTHER_GUILD_CHANNEL = 900_000_000_000_001_001, 900_000_000_000_001_010
VIEW_CHANNEL = 1 << 10
DIABETES, BEES = "Alice has diabetes.", "Alice keeps bees."
# the character's answer in the private place: about what she said there (a line of no substance, its
# filler, would not be recalled: memory/worth.py)
KEPT_QUIET = "Your diabetes is safe with me."


def answers(body: dict[str, Any]) -> str | None:
    return KEPT_QUIET if "FACT[health]" in FakeClaude.all_text(body) else None


async def prompt_in(h: Harness, channel: int | None, n: int) -> str:
    """The facts recalled for a reply to alice in ``channel`` (None: her DMs), her ``n``-th there."""
    await h.ask_remember(channel, n)
    text = h.claude.all_text(h.claude.last_request("claude-test-default"))
    start = text.find("<recalled_facts")  # the recalled facts (not the place's own lines)
    return "" if start < 0 else text[start:].split("</recalled_facts>", 1)[0]


async def test_private_places_are_kept_like_dms_and_servers_keep_their_own(
        db_url: str, tmp_path: Path) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_world(other_guild=(OTHER_GUILD, OTHER_GUILD_CHANNEL))
    try:
        await h.start_bot()
        use_test_embedder(h)
        h.claude.responder = consolidation_responder(answers)
        d = h.discord
        channel: dict[str, Any] = d.channels[OTHER_CHANNEL_ID]  # made private: @everyone cannot see it
        channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                             "deny": str(VIEW_CHANNEL)}]
        await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
        await h.say(f"FACT[health]: {DIABETES}", channel=OTHER_CHANNEL_ID, mention=True)
        await h.replies(OTHER_CHANNEL_ID, 1)
        await h.say(f"FACT[hobbies]: {BEES}", mention=True)
        await h.replies(CHANNEL_ID, 1)
        await h.at_rest()

        logged = await h.store.consolidation.logged_through(await h.store.consolidation.log_watermark())
        flags = {m.content.split(": ", 1)[-1]: m.private for _, m in logged if m.author_id == USER_ID}
        assert flags == {DIABETES: True, BEES: False}
        key = h.bot.services.pipeline.character_key
        assert (await h.store.conversations.history(key, USER_ID, f"private:{OTHER_CHANNEL_ID}")).turns

        await consolidate(h)
        facts = {f.fact: (f.private, f.guild_id) for f in await h.store.facts.rows(USER_ID)}
        assert facts == {DIABETES: (True, None), BEES: (False, GUILD_ID)}

        elsewhere = await prompt_in(h, OTHER_GUILD_CHANNEL, 1)  # another server's public channel
        assert DIABETES not in elsewhere and BEES not in elsewhere
        here = await prompt_in(h, CHANNEL_ID, 2)
        assert BEES in here and DIABETES not in here
        private_place = await prompt_in(h, OTHER_CHANNEL_ID, 2)  # private facts in DMs only
        assert BEES in private_place and DIABETES not in private_place
        dm = await prompt_in(h, None, 1)
        assert BEES in dm and DIABETES in dm
        # The words said in the private place come back as quotes in her DMs only, the character's own line
        # under the character's name (not the bot account's).
        assert f'- Finn: "{KEPT_QUIET}"' in dm and "- Kindred:" not in dm

        # They may share one server's memories with the others; private ones stay private.
        answer = await (await h.slash("memory", [{"type": 1, "name": "servers", "options": [
            {"type": 3, "name": "where", "value": "all"}]}])).message()
        assert "may come up in the others" in answer["content"]
        elsewhere = await prompt_in(h, OTHER_GUILD_CHANNEL, 2)
        assert BEES in elsewhere and DIABETES not in elsewhere
        assert "stays in that server" in (await (await h.slash("memory", [{"type": 1, "name": "servers",
            "options": [{"type": 3, "name": "where", "value": "each"}]}])).message())["content"]
        assert BEES not in await prompt_in(h, OTHER_GUILD_CHANNEL, 3)
    finally:
        await h.close()


async def test_a_private_places_conversation_is_summarized_into_private_memories(
        make_harness: Any) -> None:
    h = await make_harness(conversation_token_threshold="30", history_keep_messages="1")
    d = h.discord
    channel: dict[str, Any] = d.channels[OTHER_CHANNEL_ID]
    channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    h.claude.default_text = "- Alice worries about her blood sugar."
    for n in (1, 2):
        await h.say(f"my blood sugar was high again, day {n}", channel=OTHER_CHANNEL_ID, mention=True)
        await h.replies(OTHER_CHANNEL_ID, n)
    await h.at_rest()
    summarizer = h.bot.services.memory.summarizer
    await summarizer.wait_idle()
    key, scope = h.bot.services.pipeline.character_key, f"private:{OTHER_CHANNEL_ID}"
    if len((await h.store.conversations.history(key, USER_ID, scope)).turns) > 1:
        assert await summarizer.summarize(USER_ID, scope, "alice")
    memories = await h.store.memories.core_memories(key, USER_ID)
    assert memories and {source for _, _, source in memories} == {PRIVATE_SOURCE}
    # Never in a public channel's prompt.
    await h.say("hello", mention=True)
    await h.replies(CHANNEL_ID, 1)
    assert "blood sugar" not in h.claude.all_text(h.claude.last_request("claude-test-default"))
