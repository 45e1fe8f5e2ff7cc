"""Conversations in threads (``/bot threads``), proven over the wire: what the fake Discord is sent and what
the fake Claude receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.stages import Incoming
from bot.features.threads import thread_name
from database.models import utcnow
from database.owed import OwedReply
from database.store import Store
from tests.fakes.discord_guild import SEND_MESSAGES_IN_THREADS
from tests.fakes.discord_lead import MEMBER_PERMISSIONS
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    bot_posts,
    eventually,
    invited,
    press,
    reply_requests,
    vote_requests,
)
from tests.place_support import place

MODEL = "claude-test-default"



async def switch(h: Harness, state: str, **scope: str) -> str:
    options: list[dict[str, Any]] = [{"type": 3, "name": "state", "value": state}]
    options += [{"type": 3, "name": k, "value": v} for k, v in scope.items()]
    answer = await (await h.slash("bot", [{"type": 1, "name": "threads", "options": options}],
                                  user=h.admin_id)).message()
    return str(answer["content"])


async def opened(h: Harness, message: dict[str, Any]) -> dict[str, Any]:
    thread: dict[str, Any] = await h.discord.wait_for(lambda d: d.thread_of(int(message["id"])),
                                                      what="a thread from the message")
    return thread


async def test_a_mention_opens_a_thread_where_every_message_is_answered(harness: Harness) -> None:
    h = harness
    h.claude.script("no", model="claude-test-voter", times=20)  # unaddressed channel talk is voted down
    chatter = await h.say("turnips are the best vegetable", user=USER2_ID)
    await h.handled(chatter)
    assert "Threads is **on**" in await switch(h, "on")
    await h.discord.set_default_archive(CHANNEL_ID, 60)  # the place's own duration for new threads
    h.claude.script("Ginger and honey, glub.", model=MODEL)
    asked = await h.say("what tea for a cold?", mention=True)
    thread = await opened(h, asked)
    # named from the message (without the mention), archived after the channel's duration
    assert thread["name"] == "what tea for a cold?"
    assert thread["parent_id"] == str(CHANNEL_ID)
    assert thread["thread_metadata"]["auto_archive_duration"] == 60
    tid = int(thread["id"])
    [first] = await h.replies(tid, 1)
    assert first["content"] == "Ginger and honey, glub."
    assert not first.get("message_reference")  # the thread starts from the message: no reply to it
    [request] = reply_requests(h)
    assert "what tea for a cold?" in h.claude.all_text(request)
    assert "turnips" not in h.claude.all_text(request)  # the thread's history is its own
    votes_before = len(vote_requests(h))
    for n, text in enumerate(("with lemon?", "and how hot?", "can I add milk?"), start=2):
        h.claude.script(f"Answer {n}.", model=MODEL)
        await h.say(text, channel=tid)
        posts = await h.replies(tid, n)
        assert posts[-1]["content"] == f"Answer {n}."
    assert len(vote_requests(h)) == votes_before  # no mention, no vote: answered by right
    last = h.claude.all_text(reply_requests(h)[-1])
    assert "what tea for a cold?" in last and "Ginger and honey" in last and "Answer 3." in last
    assert "turnips" not in last
    # the channel's own talk is not answered by right: it goes to the usual vote (voted down here)
    talk = await h.say("anyone up for lunch?", user=USER2_ID)
    await h.handled(talk)
    assert bot_posts(h, CHANNEL_ID) == []
    assert len(vote_requests(h)) > votes_before
    # the switch is off by default elsewhere and says so when put back
    assert "back to the default (off" in await switch(h, "default")


async def test_off_by_default_the_answer_stays_in_the_channel(harness: Harness) -> None:
    h = harness
    h.claude.script("Peppermint.", model=MODEL)
    asked = await h.say("what tea for a cold?", mention=True)
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Peppermint."
    assert h.discord.thread_of(int(asked["id"])) is None
    assert not [r for r in h.discord.requests if r.path.endswith("/threads")]


async def test_people_talking_among_themselves_in_the_thread_go_to_the_vote(harness: Harness) -> None:
    h = harness
    await switch(h, "on")
    h.claude.script("Chamomile.", model=MODEL)
    asked = await h.say("what tea helps sleep?", mention=True)
    tid = int((await opened(h, asked))["id"])
    await h.replies(tid, 1)
    h.claude.script("no", model="claude-test-voter", times=20)
    # bob answers alice, alice answers bob: between them, not to the character
    to_alice = await h.say("I drink rooibos", user=USER2_ID, channel=tid, reply_to=int(asked["id"]))
    await h.handled(to_alice)
    to_bob = await h.say("oh nice, since when?", user=USER_ID, channel=tid, reply_to=int(to_alice["id"]))
    await h.handled(to_bob)
    back = await h.say("since spring", user=USER2_ID, channel=tid, reply_to=int(to_bob["id"]))
    await h.handled(back)
    plain = await h.say("haha, same", channel=tid)  # no reply mark, but answering bob who just answered her
    await h.handled(plain)
    assert len(bot_posts(h, tid)) == 1  # not answered by right: the usual decision let them be
    # alice turns back to the character (no reply, no mention): answered again
    h.claude.script("Since always.", model=MODEL)
    await h.say("what do you think?", channel=tid)
    posts = await h.replies(tid, 2)
    assert posts[-1]["content"] == "Since always."


async def test_a_deleted_thread_is_forgotten(make_harness: MakeHarness,
                                             caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(conversation_threads="true")  # the operator's default: on everywhere
    h.claude.script("Hibiscus.", model=MODEL)
    asked = await h.say("a tea for summer?", mention=True)
    tid = int((await opened(h, asked))["id"])
    await h.replies(tid, 1)
    key = h.bot.services.pipeline.character_key
    assert await h.store.talk_threads.of(key) == {tid}
    gone: dict[str, Any] = {}

    def delete(_: Any) -> bool:  # deleted while the answer is written: Discord answers 404 10003
        gone.update(h.discord.channels.pop(tid))
        return True

    h.claude.script("Nobody reads this.", model=MODEL, match=delete)
    late = await h.say("and for autumn?", channel=tid)
    await h.handled(late)
    [line] = [r.getMessage() for r in caplog.records if "not posted" in r.getMessage()]
    assert f"thread {tid} was deleted" in line
    h.discord.channels[tid] = gone
    await h.discord.delete_thread(tid)  # and Discord says so: THREAD_DELETE
    await h.discord.wait_for(lambda _: True)
    await h.settled()
    assert await h.store.talk_threads.of(key) == set()


async def test_without_the_right_to_open_threads_the_answer_stays_in_the_channel(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(conversation_threads="true")
    d = h.discord
    # the bot's role without Create Public Threads
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID),
                                 int(MEMBER_PERMISSIONS) | SEND_MESSAGES_IN_THREADS)
    h.claude.script("Mint.", model=MODEL)
    asked = await h.say("a tea for summer?", mention=True)
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["content"] == "Mint."
    assert d.thread_of(int(asked["id"])) is None
    assert not [r for r in d.requests if r.path.endswith("/threads")]  # not even asked: it would be refused
    [line] = [r.getMessage() for r in caplog.records if "no thread opened" in r.getMessage()]
    assert "missing the Create Public Threads permission" in line


async def test_a_rate_limited_thread_opens_once_the_wait_is_over(make_harness: MakeHarness) -> None:
    h = await make_harness(conversation_threads="true")
    h.discord.rate_limit_next("POST /channels/*/messages/*/threads", 0.05)
    h.claude.script("Lemon balm.", model=MODEL)
    asked = await h.say("a tea for summer?", mention=True)
    tid = int((await opened(h, asked))["id"])
    [reply] = await h.replies(tid, 1)
    assert reply["content"] == "Lemon balm."
    assert len([r for r in h.discord.requests if r.path.endswith("/threads")]) == 2


async def test_archived_threads_unarchive_on_a_post_and_a_locked_one_refuses(
        make_harness: MakeHarness, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(conversation_threads="true")
    d = h.discord
    h.claude.script("Rooibos.", model=MODEL)
    asked = await h.say("a tea for the evening?", mention=True)
    tid = int((await opened(h, asked))["id"])
    await h.replies(tid, 1)
    await d.archive_thread(tid)  # its duration passed
    h.claude.script("Still rooibos.", model=MODEL)
    await h.say("and tomorrow?", channel=tid)  # a person's post unarchives it; answered by right
    posts = await h.replies(tid, 2)
    assert posts[-1]["content"] == "Still rooibos."
    assert d.channels[tid]["thread_metadata"]["archived"] is False
    # locked by a moderator while the answer is written, and the bot may not manage threads: Discord refuses
    # its post (50083)
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID),
                                 int(MEMBER_PERMISSIONS) | SEND_MESSAGES_IN_THREADS)

    def lock(_: Any) -> bool:  # as the reply's request arrives
        d.channels[tid]["thread_metadata"].update(archived=True, locked=True)
        return True

    h.claude.script("Never seen.", model=MODEL, match=lock)
    late = await h.say("one more?", channel=tid)
    await h.handled(late)
    assert len(bot_posts(h, tid)) == 2
    refused = [r for r in d.requests if r.path == f"/channels/{tid}/messages" and r.method == "POST"]
    assert refused  # it tried, and was told no, in one line
    [line] = [r.getMessage() for r in caplog.records if "not posted" in r.getMessage()]
    assert f"thread {tid} is archived and locked" in line
    assert not [r for r in caplog.records if "failed to handle message" in r.getMessage()]
    assert d.channels[tid]["thread_metadata"]["archived"] is True


async def test_a_thread_follows_its_channel_switched_off(make_harness: MakeHarness) -> None:
    h = await make_harness(conversation_threads="true")
    h.claude.script("Oolong.", model=MODEL)
    asked = await h.say("a tea for focus?", mention=True)
    tid = int((await opened(h, asked))["id"])
    await h.replies(tid, 1)
    off = await h.slash("bot", [{"type": 1, "name": "deactivate", "options": []}], user=h.admin_id)
    await off.message()
    quiet = await h.say("and after lunch?", channel=tid)
    await h.handled(quiet)
    assert len(bot_posts(h, tid)) == 1  # its channel is off: so is the thread, with no setting of its own


def test_a_thread_is_named_from_the_message() -> None:
    def named(content: str, author: str = "alice") -> str:
        msg = Incoming(1, USER_ID, author, content, datetime.now(UTC),
                       place=place(CHANNEL_ID, False, GUILD_ID))
        return thread_name(msg, "Finn")

    assert named("@Finn what tea for a cold?") == "what tea for a cold?"
    assert named("@Finn @bob  which   tea?\nsecond line") == "which tea?"
    assert named("お茶は何がいい？") == "お茶は何がいい？"
    long = named("@Finn " + "camomile " * 20)
    assert long.endswith("…") and len(long) <= 81 and "camomil…" not in long
    assert named("", "alice") == "alice"  # a picture alone
    assert named("@Finn") == "alice"


async def test_replies_owed_from_before_a_restart_go_on_in_their_threads(harness: Harness) -> None:
    """A crash left two replies owed where threads are on (written straight into the table, as the crashed
    process left it): one whose thread was opened but whose answer never reached it, and one to a message
    that came as it went down; and one answered in its thread just before the crash, its mark not yet
    cleared. After the restart the first is answered in the thread it already has (no second thread asked
    of Discord), the second in a thread opened from it, the third left alone; the channel gets none."""
    h = harness
    assert "Threads is **on**" in await switch(h, "on")
    h.claude.script("Ginger and honey.", model=MODEL)
    first = await h.say("what tea for a cold?", mention=True)
    begun = int((await opened(h, first))["id"])
    [lost] = await h.replies(begun, 1)
    h.claude.script("Mint.", model=MODEL)
    done = await h.say("a tea for after dinner?", mention=True)
    answered = int((await opened(h, done))["id"])
    await h.replies(answered, 1)
    key = h.bot.services.pipeline.character_key  # type: ignore[union-attr]
    await h.stop_bot()
    h.discord.messages.pop(int(lost["id"]))  # as if never posted
    second = await h.say("and for a sore throat?", mention=True)  # came as the process went down
    store = await Store(h.db_url).open()
    try:
        await store.db.write(lambda conn: conn.execute(OwedReply.__table__.insert(), [
            {"message_id": int(m["id"]), "character": key, "channel_id": CHANNEL_ID,
             "owed_since": utcnow() - timedelta(minutes=2)} for m in (first, second, done)]))
    finally:
        await store.close()
    h.claude.script("Ginger, late.", model=MODEL, match=lambda b: "what tea" in h.claude.all_text(b)
                    and "sore throat" not in h.claude.all_text(b))
    h.claude.script("Sage, late.", model=MODEL, match=lambda b: "sore throat" in h.claude.all_text(b))
    opens_before = len([r for r in h.discord.requests if r.path.endswith("/threads")])
    asked_before = len(reply_requests(h))
    await h.start_bot()
    [again] = await h.replies(begun, 1)
    assert again["content"] == "Ginger, late."
    thread = await opened(h, second)
    [answer] = await h.replies(int(thread["id"]), 1)
    assert answer["content"] == "Sage, late." and thread["name"] == "and for a sore throat?"
    opens = [r for r in h.discord.requests if r.path.endswith("/threads")][opens_before:]
    assert [r.path.split("/")[-2] for r in opens] == [second["id"]]  # one thread opened, none asked twice
    assert bot_posts(h, CHANNEL_ID) == []
    late = [r for r in reply_requests(h) if "sore throat" in h.claude.all_text(r)][-1]
    assert "late; you were briefly away" in h.claude.all_text(late)
    async def settled() -> bool:
        return await h.store.owed.count() == 0

    await eventually(settled, "every mark settled")  # the third, last, found answered
    assert [p["content"] for p in bot_posts(h, answered)] == ["Mint."]  # found answered in its thread,
    asked = [r for r in reply_requests(h)[asked_before:] if "after dinner" in h.claude.all_text(r)]
    assert asked == []  # not written again


async def test_an_answer_in_a_thread_is_swiped_there_from_the_threads_own_talk(harness: Harness) -> None:
    h = harness
    h.claude.script("no", model="claude-test-voter", times=20)
    await h.handled(await h.say("turnips are the best vegetable", user=USER2_ID))
    await switch(h, "on")
    h.claude.script("Ginger.", model=MODEL)
    asked = await h.say("what tea for a cold?", mention=True)
    tid = int((await opened(h, asked))["id"])
    [answer] = await h.replies(tid, 1)
    await h.discord.wait_for(lambda _: answer.get("components"), what="the swipe buttons in the thread")
    h.claude.script("Lemon balm.", model=MODEL)
    await (await press(h, answer, "new")).response()
    await h.discord.wait_for(lambda _: answer["content"] == "Lemon balm.", what="the alternative shown")
    swipe = h.claude.all_text(reply_requests(h)[-1])
    assert "what tea for a cold?" in swipe and "turnips" not in swipe
    assert bot_posts(h, CHANNEL_ID) == []


async def test_a_reply_to_it_and_a_message_it_voted_to_answer_open_threads(make_harness: MakeHarness) -> None:
    h = await make_harness(yes_no_vote_count=3)
    h.claude.script("Earl grey.", model=MODEL)
    await h.say("a tea for the morning?", mention=True)  # threads off: answered in the channel
    [earlier] = await h.replies(CHANNEL_ID, 1)
    await switch(h, "on")
    # a reply to what it said in the channel, without a mention
    h.claude.script("Darjeeling too.", model=MODEL)
    replied = await h.say("and a second cup?", reply_to=int(earlier["id"]))
    thread = await opened(h, replied)
    assert thread["name"] == "and a second cup?"
    assert (await h.replies(int(thread["id"]), 1))[0]["content"] == "Darjeeling too."
    # a message to no one that the vote decided to answer
    h.claude.script("yes", model="claude-test-voter", times=3)
    h.claude.script("Jasmine, always.", model=MODEL)
    voted = await h.say("which tea smells the best", user=USER2_ID)
    thread = await opened(h, voted)
    assert thread["name"] == "which tea smells the best"
    assert (await h.replies(int(thread["id"]), 1))[0]["content"] == "Jasmine, always."
    assert len(bot_posts(h, CHANNEL_ID)) == 1  # both answers went into their threads


async def test_a_thread_of_a_private_channel_is_a_private_place(make_harness: MakeHarness) -> None:
    from tests.test_admin_log_channel import admin_says, log_posts, wait_until
    from tests.test_private_places_log import VIEW_CHANNEL

    h = await make_harness(conversation_threads="true")
    d = h.discord
    channel: dict[str, Any] = d.channels[CHANNEL_ID]
    channel["permission_overwrites"] = [{"id": str(GUILD_ID), "type": 0, "allow": "0",
                                         "deny": str(VIEW_CHANNEL)}]
    await d.dispatch("CHANNEL_UPDATE", channel, guild_id=GUILD_ID)
    await admin_says(h, "verbose", 1)
    h.claude.script("Rooibos.", model=MODEL)
    asked = await h.say("a secret tea for the plans?", mention=True)
    tid = int((await opened(h, asked))["id"])
    await h.replies(tid, 1)
    h.claude.script("Still rooibos.", model=MODEL)
    await h.say("the plans need a second cup", channel=tid)
    await h.replies(tid, 2)
    line = f"private channel {tid} · user {USER_ID}: reply"
    await wait_until(h, lambda: line in log_posts(h), "the thread's decision, mirrored as a private place's")
    assert h.bot is not None
    await h.bot.mirror.drain()
    assert not any("plans" in t or "secret" in t for t in log_posts(h))
    # what is kept of it is kept as a DM's: logged as private, its conversation a private one of its own
    await h.at_rest()
    logged = await h.store.consolidation.logged_through(await h.store.consolidation.log_watermark())
    there = [m for _, m in logged if m.channel_id == tid]
    assert len(there) >= 3 and all(m.private for m in there), [(m.content, m.private) for m in there]
    key = h.bot.services.pipeline.character_key
    assert (await h.store.conversations.history(key, USER_ID, f"private:{tid}")).turns
    assert not (await h.store.conversations.history(key, USER_ID, f"channel:{tid}")).turns


async def test_a_thread_is_summarized_as_a_conversation_of_its_own(make_harness: MakeHarness) -> None:
    from tests.test_summarization import CHAT, SMALL, Script, summarized

    h = await make_harness(**SMALL, conversation_threads="true")
    script = Script()
    h.claude.responder = script
    asked = await h.say(CHAT[0], mention=True)
    tid = int((await opened(h, asked))["id"])
    await h.replies(tid, 1)
    for n, text in enumerate(CHAT[1:3], start=2):  # no mention: answered by right in its thread
        await h.say(text, channel=tid)
        await h.replies(tid, n)
    assert await summarized(h, f"channel:{tid}") == script.summary
    assert h.bot is not None
    key = h.bot.services.pipeline.character_key
    channel = await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")
    assert channel.summary == "" and not any(text in t.content for t in channel.turns for text in CHAT)
    assert bot_posts(h, CHANNEL_ID) == []


async def test_a_bot_with_the_invites_permissions_opens_conversation_threads(
        make_harness: MakeHarness) -> None:
    h = await make_harness(conversation_threads="true")
    d = h.discord
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), invited())  # as invited
    h.claude.script("Sencha.", model=MODEL)
    asked = await h.say("a green tea?", mention=True)
    tid = int((await opened(h, asked))["id"])
    assert (await h.replies(tid, 1))[0]["content"] == "Sencha."
    h.claude.script("Gyokuro, then.", model=MODEL)
    await h.say("a finer one?", channel=tid)
    assert (await h.replies(tid, 2))[-1]["content"] == "Gyokuro, then."
