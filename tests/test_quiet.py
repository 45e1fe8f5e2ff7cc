"""Quiet places (bot/features/quiet/), over the wire: ``/bot quiet on`` makes a channel (or a server) one
where the character answers only when addressed; an unaddressed message there gets no vote request and no
reply; a named, mentioned or replied-to message is still answered; off or default, the talk around it is
voted on as before."""

from __future__ import annotations

from typing import Any

from tests.harness import (
    CHANNEL_ID,
    OTHER_CHANNEL_ID,
    USER2_ID,
    Harness,
    reply_requests,
    vote_requests,
)

MODEL = "claude-test-default"
VOTER = "claude-test-voter"


async def quiet(h: Harness, state: str, scope: str = "channel", channel: int = CHANNEL_ID) -> str:
    options: list[dict[str, Any]] = [{"type": 3, "name": "state", "value": state},
                                     {"type": 3, "name": "scope", "value": scope}]
    answer = await (await h.slash("bot", [{"type": 1, "name": "quiet", "options": options}],
                                  user=h.admin_id, channel=channel)).message()
    return str(answer["content"])


async def test_a_quiet_channel_answers_only_when_addressed(harness: Harness) -> None:
    h = harness
    assert "Quiet is **on**" in await quiet(h, "on")
    h.claude.script("yes", model=VOTER, times=5)  # a vote, were one asked, would let it in
    chatter = await h.say("turnips are the best vegetable, don't you think?", user=USER2_ID)
    await h.handled(chatter)
    assert vote_requests(h) == [] and reply_requests(h) == []
    assert h.discord.posted(CHANNEL_ID) == []

    h.claude.script("Turnips? Bold take.", model=MODEL)
    named = await h.say("Finn, what do you make of turnips?", user=USER2_ID)
    [reply] = await h.replies(CHANNEL_ID)
    await h.handled(named)
    assert reply["content"] == "Turnips? Bold take."
    h.claude.script("Still here.", model=MODEL)
    await h.say("are you there?", mention=True)
    await h.replies(CHANNEL_ID, 2)
    h.claude.script("Of course.", model=MODEL)
    await h.say("really?", reply_to=int(reply["id"]))  # a reply to its post addresses it
    await h.replies(CHANNEL_ID, 3)
    assert vote_requests(h) == []  # addressed: answered by right, never voted on


async def test_off_and_default_vote_on_unaddressed_talk_as_before(harness: Harness) -> None:
    h = harness
    assert "Quiet is **on**" in await quiet(h, "on", scope="server")
    assert "Quiet is **off**" in await quiet(h, "off")  # this channel's own setting wins
    h.claude.script("yes", model=VOTER, times=5)
    h.claude.script("Tea, anyone?", model=MODEL)
    await h.say("anyone fancy some tea?", user=USER2_ID)
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "Tea, anyone?" and vote_requests(h)

    # Elsewhere the server's quiet holds; back to the default there, the talk is voted on again.
    voted = len(vote_requests(h))
    stopped = await h.say("what about coffee?", user=USER2_ID, channel=OTHER_CHANNEL_ID)
    await h.handled(stopped)
    assert len(vote_requests(h)) == voted and h.discord.posted(OTHER_CHANNEL_ID) == []
    answer = await quiet(h, "default", scope="server", channel=OTHER_CHANNEL_ID)
    assert "back to the default (off" in answer and "Here it is now **off**" in answer
    h.claude.script("yes", model=VOTER, times=5)
    h.claude.script("Coffee, always.", model=MODEL)
    await h.say("coffee, then?", user=USER2_ID, channel=OTHER_CHANNEL_ID)
    [coffee] = await h.replies(OTHER_CHANNEL_ID)
    assert coffee["content"] == "Coffee, always." and len(vote_requests(h)) > voted


async def test_a_thread_follows_its_quiet_channel_and_the_characters_own_thread_is_talk_with_it(
        harness: Harness) -> None:
    h = harness
    assert "Quiet is **on**" in await quiet(h, "on")
    answer = await (await h.slash("bot", [{"type": 1, "name": "threads", "options": [
        {"type": 3, "name": "state", "value": "on"}]}], user=h.admin_id)).message()
    assert "Threads is **on**" in answer["content"]
    h.claude.script("Chamomile, glub.", model=MODEL)
    asked = await h.say("Finn, what tea helps sleep?")
    thread = await h.discord.wait_for(lambda d: d.thread_of(int(asked["id"])), what="a thread from it")
    tid = int(thread["id"])
    await h.replies(tid, 1)
    # in its own conversation thread every message is talk with it, quiet or not
    h.claude.script("With honey.", model=MODEL)
    await h.say("and with honey?", channel=tid)
    posts = await h.replies(tid, 2)
    assert posts[-1]["content"] == "With honey." and vote_requests(h) == []
    # a thread people opened themselves in the quiet channel is as quiet as its channel
    h.claude.script("yes", model=VOTER, times=5)
    theirs = await h.discord.open_thread(CHANNEL_ID, USER2_ID, "turnip talk")
    chatter = await h.say("turnips are the best vegetable, don't you think?", user=USER2_ID, channel=theirs)
    await h.handled(chatter)
    assert vote_requests(h) == [] and h.discord.posted(theirs) == []
