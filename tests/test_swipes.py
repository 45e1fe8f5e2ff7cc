"""Swipes over the wire: the ◀ ▶ 🔄 buttons on the character's latest reply, the alternatives shown by editing
that one message, the history keeping the one shown, who may swipe, the buttons going when the conversation
moves on, and all of it after a restart. The fake Discord holds the bot to Discord's component and
interaction rules (tests/fakes/discord_components.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from database.engine import make_engine
from database.records import Turn
from database.store import Store
from database.swipes import SwipeSet
from database.timers import TimerRow
from tests.dbtools import migrate_to, timers_of_kind
from tests.fakes import EVENT_WAIT, discord_components
from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import Search, UseTool
from tests.fakes.discord_components import (
    refuse_callback,
    refuse_components,
    refuse_token_use,
    webhook_components,
)
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    EPHEMERAL,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    button,
    buttons,
    ephemeral,
    eventually,
    exchange,
    press,
    reply_requests,
    run_due,
    stored_history,
)
from tests.test_e2e_lookup import NEWS
from tests.test_ensemble import make_ensemble  # noqa: F401, F811  (the fixture)
from tests.test_forget_in_flight import tables_saying
from tests.test_memory_commands import forget

MODEL = "claude-test-default"


async def shows(h: Harness, message: dict[str, Any], text: str, position: str) -> None:
    """Wait until the reply shows ``text`` with its counter at ``position`` (e.g. "2/3")."""
    def done(_: object) -> bool:
        return message.get("content") == text and any(c.get("label") == position for c in buttons(message))

    await h.discord.wait_for(done, EVENT_WAIT, what=f"{text!r} at {position}")


async def history(h: Harness) -> list[tuple[str, str]]:
    key = h.bot.services.pipeline.character_key
    hist = await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")
    return [(t.role, t.content) for t in hist.turns]


async def swiped_reply(h: Harness) -> dict[str, Any]:
    """The character answers "tell me a story" with "Once." and its swipe buttons appear."""
    h.claude.script("Once.", model=MODEL)
    reply = await exchange(h, "tell me a story", 1)
    await shows(h, reply, "Once.", "1/1")
    await stored_history(h, f"channel:{CHANNEL_ID}", 2)
    return reply


async def test_three_swipes_then_a_new_message_keep_the_third_in_the_history(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    assert button(reply, "prev")["disabled"] and button(reply, "next")["disabled"]
    for n, text in enumerate(("Twice.", "Thrice.", "Four times."), 2):
        h.claude.script(text, model=MODEL)
        await (await press(h, reply, "new")).response()
        await shows(h, reply, text, f"{n}/{n}")
    # The swipe's prompt answers the same message, without the alternative it replaces.
    text = h.claude.all_text(reply_requests(h)[-1])
    assert "tell me a story" in text and "Thrice." not in text
    await (await press(h, reply, "prev")).response()
    await shows(h, reply, "Thrice.", "3/4")  # the third alternative, browsed back to
    assert await history(h) == [("user", "@Finn tell me a story"), ("assistant", "Thrice.")]
    # One message, edited in place: no new post, the same id.
    assert [m["id"] for m in h.discord.posted(CHANNEL_ID)] == [reply["id"]]
    # Each swipe is a model call counted in the person's usage.
    replies = reply_requests(h)
    assert len(replies) == 4

    async def counted() -> bool:
        return (await h.store.usage.totals(USER_ID, purpose="reply")).calls == 4

    await eventually(counted, "four reply calls counted")

    h.claude.script("And they lived happily.", model=MODEL)
    second = await exchange(h, "and then?", 2)
    await h.discord.wait_for(lambda _: not reply.get("components"), EVENT_WAIT, what="the buttons gone")
    assert reply["content"] == "Thrice."
    request = reply_requests(h)[-1]
    said = h.claude.all_text(request)
    assert "Thrice." in said and "Four times." not in said and "Twice." not in said
    assert (await history(h))[:2] == [("user", "@Finn tell me a story"), ("assistant", "Thrice.")]
    await shows(h, second, "And they lived happily.", "1/1")  # the latest reply carries them now


async def test_another_person_may_not_swipe_but_an_admin_may(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    requests = len(h.claude.requests)
    for action in ("new", "prev", "next"):
        refusal = await ephemeral(await h.click(reply, f"kindred-swipe:{action}", user=USER2_ID))
        assert "Only the person this reply answered" in refusal["content"]
    assert len(h.claude.requests) == requests and reply["content"] == "Once."
    h.claude.script("An admin's version.", model=MODEL)
    await (await press(h, reply, "new", user=ADMIN_ID)).response()
    await shows(h, reply, "An admin's version.", "2/2")


async def test_reroll_is_a_new_swipe_and_buttons_survive_a_restart(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    h.claude.script("Rerolled.", model=MODEL)
    answer = await ephemeral(await h.slash("reroll", [{"name": "context", "type": 3, "value": "be brief"}]))
    await h.discord.wait_for(lambda _: "new alternative" in answer["content"], EVENT_WAIT, what="the answer")
    await shows(h, reply, "Rerolled.", "2/2")
    assert "be brief" in h.claude.all_text(reply_requests(h)[-1])

    await h.restart()
    await (await press(h, reply, "prev")).response()
    await shows(h, reply, "Once.", "1/2")
    h.claude.script("After the restart.", model=MODEL)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "After the restart.", "3/3")
    assert (await history(h))[-1] == ("assistant", "After the restart.")
    assert [m["id"] for m in h.discord.posted(CHANNEL_ID)] == [reply["id"]]


def message_edits(h: Harness, reply: dict[str, Any]) -> list[Any]:
    path = f"/messages/{reply['id']}"
    return [r for r in h.discord.requests if r.method == "PATCH" and r.path.endswith(path)]


async def expire(h: Harness, reply: dict[str, Any]) -> list[str]:
    """The reply's swipe-expiry timer is armed at its row's deadline; the timer loop's pass at that time runs
    it (time driven through the dispatcher, not waited for)."""
    [timer] = await timers_of_kind(h.store, "swipe-expiry")
    record = await h.store.swipes.get(int(reply["id"]))
    assert record is not None and timer.key == f"swipe:{reply['id']}" and timer.due == record.closes_at
    return await run_due(h.bot.services.timers, timer.due)


async def test_the_buttons_go_when_their_time_runs_out(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    assert await run_due(h.bot.services.timers) == []  # not due yet: the buttons stay
    assert reply.get("components")
    results = await expire(h, reply)  # (with whatever else of the bot's rounds fell due by then)
    assert any("taken off" in result for result in results), results
    await h.discord.wait_for(lambda _: not reply.get("components"), EVENT_WAIT, what="the buttons gone")
    assert reply["content"] == "Once."
    assert (await history(h))[-1] == ("assistant", "Once.")
    assert await h.store.swipes.get(int(reply["id"])) is None
    assert await timers_of_kind(h.store, "swipe-expiry") == []
    # run again (a lease ran out, another process): the row is gone, nothing happens
    again = TimerRow(f"swipe:{reply['id']}", "swipe-expiry", datetime.now(UTC), {"message": int(reply["id"])},
                     None, "")
    edits = len(message_edits(h, reply))
    assert "already closed" in await h.bot.services.timers.handlers["swipe-expiry"](again)
    assert len(message_edits(h, reply)) == edits


async def test_reroll_and_new_swipes_are_refused_where_the_bot_is_deactivated(harness: Harness) -> None:
    h = harness
    nothing = await ephemeral(await h.slash("reroll"))
    await h.discord.wait_for(lambda _: "nothing to reroll" in nothing["content"], EVENT_WAIT, what="refusal")
    reply = await swiped_reply(h)
    off = await ephemeral(await h.slash("bot", [{"type": 1, "name": "deactivate", "options": []}],
                                        user=ADMIN_ID))
    assert "inactive" in off["content"]
    requests = len(h.claude.requests)
    refusal = await ephemeral(await press(h, reply, "new"))
    assert "switched off in this channel" in refusal["content"]
    refusal = await ephemeral(await h.slash("reroll"))
    assert "switched off in this channel" in refusal["content"]
    assert len(h.claude.requests) == requests and reply["content"] == "Once."


async def test_a_webhook_characters_reply_is_swiped_through_its_own_webhook(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:  # noqa: F811  (the fixture)
    h = await make_ensemble(ensemble_characters="atlas")
    await h.say("Atlas, which way is north?")
    [reply] = await h.replies(CHANNEL_ID, 1)
    assert reply["webhook_id"] and reply["author"]["username"] == "Atlas"
    first = reply["content"]
    await h.discord.wait_for(lambda _: reply.get("components"), EVENT_WAIT, what="the swipe buttons")
    await (await press(h, reply, "new")).response()
    await h.discord.wait_for(lambda _: any(c.get("label") == "2/2" for c in buttons(reply)), EVENT_WAIT,
                             what="the second alternative")
    hook = h.discord.webhooks[int(reply["webhook_id"])]
    edits = [r for r in h.discord.requests
             if r.method == "PATCH" and r.path.endswith(f"/messages/{reply['id']}")]
    assert edits and all(r.path.startswith(f"/webhooks/{hook['id']}/{hook['token']}/") for r in edits)
    await (await press(h, reply, "prev")).response()
    await h.discord.wait_for(lambda _: reply["content"] == first, EVENT_WAIT, what="the first again")
    assert [m["id"] for m in h.discord.posted(CHANNEL_ID)] == [reply["id"]]
    # their time runs out: the buttons go through the same webhook
    results = await expire(h, reply)
    assert any("taken off" in r for r in results), results
    await h.discord.wait_for(lambda _: not reply.get("components"), EVENT_WAIT,
                             what=f"the buttons gone (the timer: {results})")
    last = message_edits(h, reply)[-1]
    assert last.path.startswith(f"/webhooks/{hook['id']}/{hook['token']}/") and reply["content"] == first


# -- the fake Discord holds the bot to Discord's rules


def test_the_fake_refuses_components_discord_refuses() -> None:
    def row(*ids: str) -> dict[str, Any]:
        return {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": i} for i in ids]}

    assert refuse_components({"components": [row("a", "b", "c", "d", "e")]}) is None
    assert refuse_components({"components": [row("a" * 101)]}) is not None  # custom_id over 100
    assert refuse_components({"components": [row(*"abcdef")]}) is not None  # 6 buttons in a row
    assert refuse_components({"components": [row(str(i)) for i in range(6)]}) is not None  # 6 rows
    assert refuse_components({"components": [row("a"), row("a")]}) is not None  # a duplicate id
    foreign = {"id": "1", "token": "t", "application_id": None}
    body, refused = webhook_components(foreign, {"content": "x", "components": [row("a")]}, {})
    assert refused is None and "components" not in body  # ignored without with_components
    _, refused = webhook_components(foreign, {"components": [row("a")]}, {"with_components": "true"})
    assert refused is not None  # interactive components only from an application's webhook


def test_the_fake_enforces_the_interaction_token_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(discord_components.time, "monotonic", lambda: now[0])
    record: dict[str, Any] = {"created": now[0]}
    assert refuse_token_use(record) is not None  # no follow-up before the response
    assert refuse_callback(record) is None
    record["acknowledged"] = True
    assert refuse_callback(record) is not None  # acknowledged once only
    assert refuse_token_use(record) is None
    now[0] += discord_components.TOKEN_LIFETIME + 1
    assert refuse_token_use(record) is not None  # the token's 15 minutes are over
    late = {"created": 0.0}
    assert refuse_callback(late) is not None  # past the 3 seconds


# -- the buttons go out with the reply


def posts_of(h: Harness, text: str) -> list[Any]:
    """The POSTs that created a message showing ``text`` (a channel's or a webhook's)."""
    return [r for r in h.discord.requests if r.method == "POST" and isinstance(r.body, dict)
            and r.body.get("content") == text]


def labels(body: dict[str, Any]) -> list[str]:
    return [c.get("label", "") for row in body.get("components") or [] for c in row.get("components") or []]


async def test_a_reply_of_one_message_is_posted_with_its_buttons_and_no_edit_adds_them(
        harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    [post] = posts_of(h, "Once.")
    assert labels(post.body) == ["◀", "1/1", "▶", "🔄"]
    assert message_edits(h, reply) == []  # nothing edited: the post carried them
    assert await h.store.swipes.get(int(reply["id"])) is not None
    # The next reply takes them over: one edit takes them off the first, none adds them to the second.
    h.claude.script("The end.", model=MODEL)
    second = await exchange(h, "and then?", 2)
    await h.discord.wait_for(lambda _: not reply.get("components"), EVENT_WAIT, what="the buttons gone")
    await shows(h, second, "The end.", "1/1")
    assert len(message_edits(h, reply)) == 1 and message_edits(h, second) == []
    assert labels(posts_of(h, "The end.")[0].body) == ["◀", "1/1", "▶", "🔄"]


async def test_a_reply_posted_with_buttons_but_not_kept_has_them_taken_off(harness: Harness) -> None:
    h = harness

    class Never:
        async def for_exchange(self, msg: Any) -> bool:
            return False

    # not remembered: nothing to answer again from, no swipes
    h.bot.services.memory.consent.for_exchange = Never().for_exchange  # type: ignore[method-assign]
    h.claude.script("Forgotten at once.", model=MODEL)
    reply = await exchange(h, "hello", 1)
    assert labels(posts_of(h, "Forgotten at once.")[0].body)
    await h.discord.wait_for(lambda _: not reply.get("components"), EVENT_WAIT, what="the buttons gone")
    assert reply["content"] == "Forgotten at once." and await h.store.swipes.get(int(reply["id"])) is None
    assert [r.body.get("components") for r in message_edits(h, reply)] == [[]]  # the one edit: them off


async def test_a_webhook_characters_reply_is_posted_with_its_buttons(
        make_ensemble: Callable[..., Awaitable[Harness]]) -> None:  # noqa: F811  (the fixture)
    h = await make_ensemble(ensemble_characters="atlas")
    await h.say("Atlas, which way is north?")
    [reply] = await h.replies(CHANNEL_ID, 1)
    await h.bot.in_flight.drain()
    assert reply["webhook_id"] and reply.get("components")
    hook = h.discord.webhooks[int(reply["webhook_id"])]
    [post] = [r for r in h.discord.requests if r.method == "POST"
              and r.path.startswith(f"/webhooks/{hook['id']}/{hook['token']}")]
    assert labels(post.body) == ["◀", "1/1", "▶", "🔄"]
    assert message_edits(h, reply) == []
    assert await h.store.swipes.get(int(reply["id"])) is not None


# -- a swipe changes only its own conversation


async def dm_swiped(h: Harness) -> dict[str, Any]:
    """alice DMs "tell me a story", is answered "Once.", presses 🔄 for "Twice."."""
    h.claude.script("Once.", model=MODEL)
    sent = await h.dm("tell me a story")
    [reply] = await h.replies(int(sent["channel_id"]), 1)
    await shows(h, reply, "Once.", "1/1")
    await stored_history(h, "dm", 2)
    h.claude.script("Twice.", model=MODEL)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "Twice.", "2/2")
    return reply


async def forget_last_exchange(h: Harness) -> None:
    """alice's /forget_last in her DMs, the latest exchange chosen and confirmed."""
    view = await ephemeral(await h.slash("forget_last", dm=True))
    pairs = [c for c in buttons(view) if ":pair:" in c["custom_id"]]
    await (await h.click(view, pairs[-1]["custom_id"])).response()
    await (await press(h, view, "forget")).response()
    await (await press(h, view, "confirm")).response()
    await h.discord.wait_for(lambda _: "Forgotten: 1 exchange" in view["content"], EVENT_WAIT,
                             what="the exchange forgotten")


async def reset_dm(h: Harness) -> None:
    prompt = await ephemeral(await h.slash("reset_conversation", dm=True))
    await (await press(h, prompt, "confirm")).response()
    await h.discord.wait_for(lambda _: "starts afresh" in prompt["content"], EVENT_WAIT, what="the reset")


@pytest.mark.parametrize("drop", [reset_dm, forget_last_exchange], ids=["reset", "forget_last"])
async def test_a_swipe_after_its_answer_is_gone_never_touches_another_persons_answer(
        harness: Harness, drop: Callable[[Harness], Awaitable[None]]) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    reply = await dm_swiped(h)
    await drop(h)
    assert (await h.store.conversations.history(key, USER_ID, "dm")).turns == []
    # bob is answered; on SQLite his answer could take the id alice's answer had
    h.claude.script("Hello Bob.", model=MODEL)
    sent = await h.dm("hi, I'm bob", user=USER2_ID)
    bob_dm = int(sent["channel_id"])
    await h.replies(bob_dm, 1)
    await stored_history(h, "dm", 2, user=USER2_ID)
    # alice goes back to her old reply: it is told, and nothing else changes
    refusal = await ephemeral(await press(h, reply, "prev"))
    assert "expired" in refusal["content"]
    assert reply["content"] == "Twice."
    bobs = await h.store.conversations.history(key, USER2_ID, "dm")
    assert [(t.role, t.content) for t in bobs.turns] == [("user", "hi, I'm bob"), ("assistant", "Hello Bob.")]
    # bob's next request holds his own answer, not alice's alternative
    h.claude.script("Still Bob's.", model=MODEL)
    await h.dm("and now?", user=USER2_ID)
    await h.replies(bob_dm, 2)
    said = h.claude.all_text(reply_requests(h)[-1])
    assert "Hello Bob." in said and "Once." not in said and "Twice." not in said


async def test_a_swipe_writes_only_to_its_own_conversations_answer(harness: Harness) -> None:
    """Even a row naming another conversation's turn (as one could before ids were never reused) changes
    nothing of it: ◀ is told the buttons expired, and the row goes."""
    h = harness
    key = h.bot.services.pipeline.character_key
    reply = await swiped_reply(h)
    h.claude.script("Twice.", model=MODEL)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "Twice.", "2/2")
    h.claude.script("Hello Bob.", model=MODEL)
    await h.dm("hi, I'm bob", user=USER2_ID)
    bobs = await stored_history(h, "dm", 2, user=USER2_ID)

    def repoint(conn: Any) -> None:
        conn.execute(update(SwipeSet).where(SwipeSet.message_id == int(reply["id"]))
                     .values(turn_id=bobs.turns[-1].id))

    await h.store.db.write(repoint)
    pressed = await press(h, reply, "prev")
    refusal = await pressed.followup()  # (its row was open when pressed: the answer's loss is found after)
    assert refusal["flags"] & EPHEMERAL and "expired" in refusal["content"]
    await h.discord.wait_for(lambda _: not reply.get("components"), EVENT_WAIT, what="the buttons gone")
    assert reply["content"] == "Twice."
    assert await h.store.swipes.get(int(reply["id"])) is None
    assert [t.content for t in (await h.store.conversations.history(key, USER2_ID, "dm")).turns] == [
        "hi, I'm bob", "Hello Bob."]


async def test_history_ids_are_never_handed_out_again(store: Store) -> None:
    for user in (USER_ID, USER2_ID):
        await store.people.ensure_user(user, "someone")
    first = await store.conversations.append_turns("finn", USER_ID, "dm", [Turn("user", "a", tokens=1),
                                                                           Turn("assistant", "b", tokens=1)])
    await store.conversations.delete_turns(first)
    second = await store.conversations.append_turns("finn", USER2_ID, "dm", [Turn("user", "c", tokens=1)])
    assert min(second) > max(first)


# -- the rate limit, the sources line, /forget_me


async def test_new_swipes_and_reroll_count_against_the_message_rate_limit(make_harness: Any) -> None:
    h = await make_harness(user_messages_per_minute=2, limit_reply="{name} needs a breather; back {when}.")
    reply = await swiped_reply(h)  # the first of alice's two a minute
    h.claude.script("Twice.", model=MODEL)
    await (await press(h, reply, "new")).response()  # the second
    await shows(h, reply, "Twice.", "2/2")
    assert len(reply_requests(h)) == 2
    refusal = await ephemeral(await press(h, reply, "new"))
    assert refusal["content"] == "Finn needs a breather; back in a minute."
    refusal = await ephemeral(await h.slash("reroll"))
    assert refusal["content"] == "Finn needs a breather; back in a minute."
    assert len(reply_requests(h)) == 2 and reply["content"] == "Twice."
    for n in (1, 2, 3):  # an admin is never limited
        h.claude.script(f"Admin {n}.", model=MODEL)
        await (await press(h, reply, "new", user=ADMIN_ID)).response()
        await shows(h, reply, f"Admin {n}.", f"{n + 2}/{n + 2}")


async def test_a_new_answer_refused_is_told_in_the_askers_language(make_harness: Any) -> None:
    """The limit's line (unset: in the asker's language) and who-may-talk's, in their client's language."""
    h = await make_harness(user_messages_per_minute=1, blocked_users=str(USER2_ID))
    h.discord.set_locale(USER_ID, "de")
    h.discord.set_locale(USER2_ID, "de")
    reply = await swiped_reply(h)  # alice's one a minute
    refusal = await ephemeral(await press(h, reply, "new"))
    assert refusal["content"] == ("*Finn unterdrückt ein Gähnen.* Ich habe mich für heute leer geredet. "
                                  "Lass uns in einer Minute weitermachen.")
    refusal = await ephemeral(await h.slash("reroll", user=USER2_ID))
    assert refusal["content"] == "Hier nehme ich keine Anfragen von dir an."
    assert len(reply_requests(h)) == 1


async def test_back_to_a_reply_with_sources_keeps_them_out_of_the_history(make_harness: Any) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms")
    h.claude.script(Reply(tools=Search("news today", NEWS, answer="Big day out there.")))
    sent = await h.dm("what's in the news today?")
    [reply] = await h.replies(int(sent["channel_id"]))
    first = reply["content"]
    assert first.splitlines()[-1].startswith("-# Sources:")
    await h.discord.wait_for(lambda _: reply.get("components"), EVENT_WAIT, what="the swipe buttons")
    await stored_history(h, "dm", 2)
    h.claude.script("Nothing much.", model=MODEL)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "Nothing much.", "2/2")
    await (await press(h, reply, "prev")).response()
    await shows(h, reply, first, "1/2")  # the post shows its sources again
    turns = (await h.store.conversations.history(h.bot.services.pipeline.character_key, USER_ID, "dm")).turns
    assert "Sources:" not in turns[-1].content and "Big day out there." in turns[-1].content
    h.claude.script("More news.", model=MODEL)
    await h.dm("wow, tell me more")
    await h.replies(int(sent["channel_id"]), 2)
    said = h.claude.all_text(reply_requests(h)[-1])
    assert "Big day out there." in said and "Sources:" not in said


async def test_forget_me_deletes_their_swipes(harness: Harness) -> None:
    h = harness
    reply = await swiped_reply(h)
    h.claude.script("A secret alternative.", model=MODEL)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "A secret alternative.", "2/2")
    await (await press(h, reply, "prev")).response()
    await shows(h, reply, "Once.", "1/2")  # the other one is kept only among the swipes
    assert (await h.store.privacy.rows_about_user(USER_ID))["swipes"] == 1
    await forget(h)
    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    assert await tables_saying(h, "A secret alternative.") == {}
    refusal = await ephemeral(await press(h, reply, "prev"))
    assert "expired" in refusal["content"]


async def test_the_history_ids_migration_keeps_the_turns_both_ways(db_url: str) -> None:
    """0029 copies history_messages (SQLite) into a table that never reuses an id: the turns, their ids and
    the triggers that move a conversation's revision stay, down and up again."""
    store = await Store(db_url).open()
    try:
        await store.people.ensure_user(USER_ID, "alice")
        turns = [Turn("user", "a", tokens=1), Turn("assistant", "b", tokens=1)]
        ids = await store.conversations.append_turns("finn", USER_ID, "dm", turns)
    finally:
        await store.close()
    engine = make_engine(db_url)
    async with engine.begin() as conn:
        await conn.run_sync(migrate_to("0028_facts_deleted", down=True))
    async with engine.begin() as conn:
        await conn.run_sync(migrate_to("0029_history_ids"))
        revision = "SELECT revision FROM conversations"
        before = (await conn.exec_driver_sql(revision)).scalar_one()
        await conn.exec_driver_sql(f"DELETE FROM history_messages WHERE id = {ids[-1]}")  # the newest goes
        assert (await conn.exec_driver_sql(revision)).scalar_one() > before  # the triggers are there
    await engine.dispose()
    store = await Store(db_url).open()
    try:
        history = await store.conversations.history("finn", USER_ID, "dm")
        assert [(t.id, t.content) for t in history.turns] == [(ids[0], "a")]
        [again] = await store.conversations.append_turns("finn", USER_ID, "dm", [Turn("user", "c", tokens=1)])
        assert again > ids[-1]
    finally:
        await store.close()


async def test_with_swipes_off_a_reply_has_no_buttons_until_a_place_turns_them_on(
        make_harness: MakeHarness) -> None:
    h = await make_harness(swipes="false")
    h.claude.script("Once.", model=MODEL)
    reply = await exchange(h, "tell me a story", 1)
    await h.at_rest()
    assert not reply.get("components")
    # never put on, not even for a moment: no post or edit of the channel's messages carried any
    carried = [r for r in h.discord.requests if f"/channels/{CHANNEL_ID}/messages" in r.path
               and isinstance(r.body, dict) and r.body.get("components")]
    assert carried == []
    answer = await (await h.slash("bot", [{"type": 1, "name": "swipes", "options": [
        {"type": 3, "name": "state", "value": "on"}]}], user=h.admin_id)).message()
    assert "Swipes is **on**" in answer["content"]
    h.claude.script("Twice.", model=MODEL)
    second = await exchange(h, "another one", 2)
    await shows(h, second, "Twice.", "1/1")


async def test_a_swipe_is_the_replys_request_its_tools_and_cache_too(harness: Harness) -> None:
    """A new alternative is the same request as the reply it stands beside: the same tools and system prompt
    (their sentence in it), so it reads the reply's cached prefix, and it may set a reminder as the reply
    could."""
    h = harness
    h.claude.script("Once.", model=MODEL)
    sent = await h.dm("tell me a story, and remind me of it later")
    [reply] = await h.replies(int(sent["channel_id"]))
    await h.discord.wait_for(lambda _: reply.get("components"), EVENT_WAIT, what="the swipe buttons")
    await stored_history(h, "dm", 2)
    [answered] = reply_requests(h)
    assert answered.body.get("tools")  # the DM's reminders, at least
    h.claude.script(Reply(tools=UseTool("set_reminder", {"text": "the story", "local_time": None,
                                                          "in_minutes": 30, "repeat": None},
                                        answer="Twice, and I will remind you.")), times=2)
    await (await press(h, reply, "new")).response()
    await shows(h, reply, "Twice, and I will remind you.", "2/2")
    swipe = reply_requests(h)[1]
    assert swipe.body["tools"] == answered.body["tools"]
    assert swipe.body["system"] == answered.body["system"]
    # everything the reply cached up to its message is read back: only the part after it is sent fresh
    written = answered.usage["cache_creation_input_tokens"] + answered.usage["cache_read_input_tokens"]
    assert swipe.usage["cache_read_input_tokens"] == written > 0
    [reminder] = await h.store.reminders.open_for(USER_ID)
    assert reminder.text == "the story"


async def test_a_thread_without_its_own_setting_follows_its_channels_swipes_switch(harness: Harness) -> None:
    """/bot swipes off in a channel reaches the threads opened in it, as every per-place switch does: a reply
    in such a thread is posted without buttons and none is added after."""
    h = harness
    answer = await (await h.slash("bot", [{"type": 1, "name": "swipes", "options": [
        {"type": 3, "name": "state", "value": "off"}]}], user=h.admin_id)).message()
    assert "Swipes is **off**" in answer["content"]
    thread = await h.discord.open_thread(CHANNEL_ID, USER_ID, "tales")
    h.claude.script("Once upon a tide.", model=MODEL)
    await h.say("tell me a story", mention=True, channel=thread)
    [reply] = await h.replies(thread, 1)
    assert h.bot is not None
    await h.bot.in_flight.drain()
    await h.at_rest()
    assert reply["content"] == "Once upon a tide." and not reply.get("components")
    carried = [r for r in h.discord.requests if f"/channels/{thread}/messages" in r.path
               and isinstance(r.body, dict) and r.body.get("components")]
    assert carried == []
