"""Reactions as input, over the wire: people's reactions on the character's messages come from the fake
Discord as MESSAGE_REACTION_ADD / _REMOVE gateway events, and what they change is read in the reply requests
the fake Claude receives. A ❤️ warms the next reply's feeling toward the person; a 👎 tells the next reply
there, once; a reaction never crosses between a DM and a channel; a flood costs no model call and a bounded
inbox; someone opted out leaves nothing, and /forget_me removes what was kept."""

from __future__ import annotations

import json
from typing import Any

from bot.alive.felt import EMOJI_PER_ENTRY, Reaction, ReactionInbox, stimuli
from bot.alive.reacting import FeltReactions
from tests.fakes.discord_lead import GUILD_MESSAGE_REACTIONS
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    check,
    eventually,
    exchange,
    reply_requests,
)
from tests.test_consent import memory_command
from tests.test_feelings_in_context import Clock, afternoon, dm, set_clock, state_line
from tests.test_memory_commands import forget

CUE = "reacted 👎 to a reply of yours here"


def felt(h: Harness) -> FeltReactions:
    assert h.bot is not None
    return h.bot.services.alive.felt


async def react(h: Harness, message: dict[str, Any], emoji: str, *, user: int = USER_ID,
                remove: bool = False) -> None:
    """``user`` reacts to ``message``; returns once the reaction is kept (its pass done)."""
    reactions = felt(h)
    seen = reactions.events
    await h.discord.user_reaction(message, user, emoji, remove=remove)
    await eventually(check(lambda: reactions.events > seen), "the reaction event")
    await reactions.flush()


async def kept(h: Harness, user: int = USER_ID) -> str:
    assert h.bot is not None
    return (await h.store.feelings.read(h.bot.services.pipeline.character_key, user))[0]


async def reacted(h: Harness, user: int = USER_ID) -> list[dict[str, Any]]:
    """The reactions kept of ``user`` (with the feeling toward them)."""
    row = await kept(h, user)
    return list(json.loads(row).get("reacted", [])) if row else []


async def start(make_harness: MakeHarness) -> Harness:
    h = await make_harness(timezone="UTC")
    set_clock(h, Clock(afternoon()))
    felt(h).delay = 0.01
    return h


async def test_a_heart_on_a_reply_warms_the_next_replys_feeling_toward_that_person(
        make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    before = await dm(h, "hello finn, how is the tide today?", 1)
    assert before == ""  # nothing stands out
    reply = (await h.replies(await h.dm_channel_id(), 1))[0]
    await react(h, reply, "❤️")
    after = await dm(h, "and the weather?", 2)
    assert after.startswith("Toward alice you feel a little fond"), after
    assert CUE not in FakeClaudeText.of(h)  # a heart is no correction


class FakeClaudeText:
    @staticmethod
    def of(h: Harness, index: int = -1) -> str:
        return h.claude.all_text(reply_requests(h)[index])


async def test_a_thumbs_down_makes_the_next_reply_acknowledge_it_once(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    await dm(h, "what tea is good for a cold?", 1)
    reply = (await h.replies(await h.dm_channel_id(), 1))[0]
    requests = len(h.claude.requests)
    await react(h, reply, "👎")
    assert len(h.claude.requests) == requests  # no model call for a reaction, and no answer to it alone
    assert len(bot_posts(h, await h.dm_channel_id())) == 1
    await dm(h, "hm", 2)
    told = FakeClaudeText.of(h)
    assert f"alice {CUE}" in told and "Acknowledge it briefly" in told
    assert "<state>" in told.split(CUE)[0]  # inside the fenced state, as the character's note
    await dm(h, "ok thanks", 3)
    assert CUE not in FakeClaudeText.of(h)  # told once


async def test_a_thumbs_down_taken_back_is_not_told(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    await dm(h, "what tea is good for a cold?", 1)
    reply = (await h.replies(await h.dm_channel_id(), 1))[0]
    await react(h, reply, "👎")
    await react(h, reply, "👎", remove=True)
    await dm(h, "hm", 2)
    assert CUE not in FakeClaudeText.of(h)


async def test_a_reaction_never_crosses_between_a_channel_and_a_dm(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    in_channel = await exchange(h, "finn, which kelp is best?", 1)
    await dm(h, "hi finn", 1)
    in_dm = (await h.replies(await h.dm_channel_id(), 1))[0]

    await react(h, in_channel, "👎")  # public: the DM is not told
    await dm(h, "still there?", 2)
    assert CUE not in FakeClaudeText.of(h)
    await exchange(h, "so?", 2)
    assert CUE in FakeClaudeText.of(h)  # the channel is

    await react(h, in_dm, "👎")  # private: the channel is not told
    await react(h, in_dm, "❤️")  # nor warmed by a heart in the DM
    await exchange(h, "and now?", 3)
    channel_request = FakeClaudeText.of(h)
    assert CUE not in channel_request and "fond" not in state_line(reply_requests(h)[-1])
    await dm(h, "hello again", 3)
    assert CUE in FakeClaudeText.of(h)
    assert "fond" in state_line(reply_requests(h)[-1])


async def test_a_flood_of_reactions_costs_no_model_call_and_bounded_memory(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    reply = await exchange(h, "finn, say something nice", 1)
    await exchange(h, "and again", 2, user=USER2_ID)  # bob is remembered: his reactions are kept
    reactions = felt(h)
    reactions.delay = 3600.0  # one pass for the whole flood (the test ends its wait)
    reactions.inbox.limit = 64
    requests, posts = len(h.claude.requests), len(bot_posts(h))
    emoji = ["❤️", "😂", "👍", "🔥", "😮", "😢", "🎉", "👏", "🙏", "💯"]
    seen = reactions.events
    for n in range(490):  # many people, one or two emoji each
        await h.discord.user_reaction(reply, 910_000_000_000_000_000 + n // 2, emoji[n % 10])
    for n in range(10):  # and one person, every emoji
        await h.discord.user_reaction(reply, USER2_ID, emoji[n])
    await eventually(check(lambda: reactions.events >= seen + 500), "500 reaction events")
    assert len(reactions.inbox) <= 64 and reactions.inbox.dropped > 0  # bounded, the oldest let go
    await reactions.flush()
    assert len(reactions.inbox) == 0
    assert len(h.claude.requests) == requests and len(bot_posts(h)) == posts  # no model call, no post
    assert len(await reacted(h, USER2_ID)) == EMOJI_PER_ENTRY  # his entry kept a bounded number of emoji
    assert await kept(h, 910_000_000_000_000_000 + 489 // 2) == ""  # never stored: nothing kept


async def test_an_opted_out_persons_reaction_leaves_nothing_and_forget_me_removes_it(
        make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    await dm(h, "hello finn", 1)
    reply = (await h.replies(await h.dm_channel_id(), 1))[0]
    await react(h, reply, "❤️")
    await react(h, reply, "👎")
    assert [(r["e"], r.get("cue", False)) for r in await reacted(h)] == [("❤", False), ("👎", True)]
    assert "Done: I deleted" in await forget(h)
    assert await kept(h) == ""  # /forget_me removed the reactions with the feeling

    await dm(h, "hello again", 2)
    reply = (await h.replies(await h.dm_channel_id(), 2))[1]
    await memory_command(h, "opt-out")
    await react(h, reply, "❤️")
    await react(h, reply, "👎")
    assert await kept(h) == ""
    await dm(h, "hm", 3)
    assert CUE not in FakeClaudeText.of(h)


async def test_the_fake_sends_reaction_events_only_with_the_intent(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    reply = await exchange(h, "finn, hi", 1)
    [session] = h.discord.sessions
    assert session.intents & GUILD_MESSAGE_REACTIONS  # discord.py's default intents hold it
    await react(h, reply, "👍")
    sent = [p for p in session.sent if p["t"] == "MESSAGE_REACTION_ADD"]
    assert sent and {"user_id", "channel_id", "message_id", "guild_id", "member", "emoji",
                     "message_author_id", "burst"} <= set(sent[-1]["d"])
    session.intents &= ~GUILD_MESSAGE_REACTIONS
    await h.discord.user_reaction(reply, USER_ID, "🔥")
    assert len([p for p in session.sent if p["t"] == "MESSAGE_REACTION_ADD"]) == len(sent)
    assert CHANNEL_ID


def test_an_emojis_meaning_is_the_emoji_and_the_inbox_coalesces() -> None:
    assert stimuli("❤️") == ("warmth",) and stimuli("👍🏽") == ("praise",) and stimuli("🦀") == ()
    inbox = ReactionInbox(limit=2, per_entry=2)
    at = afternoon()

    def r(user: int, message: int, emoji: str, added: bool = True) -> Reaction:
        return Reaction(user, message, 1, 2, False, emoji, added, at)

    inbox.add(r(1, 10, "❤"))
    inbox.add(r(1, 10, "❤", added=False))  # taken back within the pass: nothing
    inbox.add(r(1, 10, "👍"))
    inbox.add(r(1, 10, "🔥"))
    inbox.add(r(1, 10, "🎉"))  # past the entry's bound
    inbox.add(r(2, 10, "👍"))
    inbox.add(r(3, 10, "👍"))  # past the inbox's bound: the oldest entry goes
    assert len(inbox) == 2 and inbox.dropped == 1
    taken = inbox.take()
    assert set(taken) == {2, 3} and len(inbox) == 0


async def test_a_reaction_on_a_message_it_was_asked_about_reaches_it(make_harness: MakeHarness) -> None:
    h = await start(make_harness)
    reply = await exchange(h, "finn, hello", 1)  # alice is remembered
    target = await h.say("the kiln is too hot again", user=USER2_ID)
    await h.discord.user_reaction(target, USER_ID, "❤️")  # someone else's message: not the character's
    await react(h, reply, "🦀")  # on its reply, after it (events come in order): means nothing
    assert [r["e"] for r in await reacted(h)] == ["🦀"]
    assert h.bot is not None
    h.claude.script("It happens with old kilns.", model="claude-test-default")
    menu = f"Ask {h.bot.services.pipeline.persona.name}"[:32]
    ask = await h.discord.interaction_installed(menu, user_id=USER_ID, channel_id=CHANNEL_ID,
                                                guild_id=GUILD_ID, target=target)
    await ask.message()
    await react(h, target, "❤️")
    await react(h, target, "👎")  # a correction only on its own replies
    assert [(r["e"], r.get("cue", False)) for r in await reacted(h)] == [("🦀", False), ("❤", False),
                                                                         ("👎", False)]


async def test_the_operators_correction_set_replaces_the_thumbs_down(make_harness: MakeHarness) -> None:
    h = await make_harness(timezone="UTC", correction_reactions="🤦, wrongo")
    set_clock(h, Clock(afternoon()))
    felt(h).delay = 0.01
    await dm(h, "what tea is good for a cold?", 1)
    reply = (await h.replies(await h.dm_channel_id(), 1))[0]
    await react(h, reply, "👎")  # not in the operator's set: a reaction, not a correction
    await dm(h, "hm", 2)
    assert "to a reply of yours here" not in FakeClaudeText.of(h)
    await react(h, reply, "🤦🏽")  # in the set, whatever the skin tone
    await dm(h, "so?", 3)
    assert "alice reacted 🤦 to a reply of yours here" in FakeClaudeText.of(h)
    seen = felt(h).events
    await h.discord.user_reaction(reply, USER_ID, "wrongo", emoji_id=990_000_000_000_000_001)  # custom
    await eventually(check(lambda: felt(h).events > seen), "the custom reaction")
    await felt(h).flush()
    await dm(h, "and now?", 4)
    assert "alice reacted :wrongo: to a reply of yours here" in FakeClaudeText.of(h)
    empty = await make_harness(timezone="UTC", correction_reactions="")  # none: no correction at all
    set_clock(empty, Clock(afternoon()))
    felt(empty).delay = 0.01
    await dm(empty, "hello", 1)
    await react(empty, (await empty.replies(await empty.dm_channel_id(), 1))[0], "👎")
    await dm(empty, "hm", 2)
    assert "to a reply of yours here" not in FakeClaudeText.of(empty)
