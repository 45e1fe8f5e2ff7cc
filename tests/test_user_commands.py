"""User slash commands over the wire: what the user sees (ephemeral answers, buttons), what is posted, what
Claude is asked, and what the database holds before and after."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.core.tokens import counted, history_tokens
from bot.operator.conversation_tools import pairs_of
from database.records import Turn
from tests.dbtools import compact_history
from tests.fakes import EVENT_WAIT
from tests.harness import (
    CHANNEL_ID,
    COMPONENTS_V2,
    EPHEMERAL,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    button,
    buttons,
    ephemeral,
    eventually,
    panel_fields,
    press,
    stored_history,
)

# --------------------------------------------------------------------------- helpers


async def wait_content(h: Harness, message: dict[str, Any], needle: str,
                       timeout: float = EVENT_WAIT) -> dict[str, Any]:
    await h.discord.wait_for(lambda d: needle in (message.get("content") or ""), timeout, what=f"{needle!r}")
    return message


async def said_hello(make_harness: MakeHarness, **config: Any) -> Harness:
    """A bot with these settings that has answered "hello" with "Hi there." in the channel (both turns
    saved)."""
    h = await make_harness(**config)
    await chat(h, "hello", "Hi there.", 1)
    await settled(h, 2)
    return h


async def seed(h: Harness, exchanges: int, *, scope: str = f"channel:{CHANNEL_ID}",
               user: int = USER_ID) -> list[int]:
    """Put ``exchanges`` question/answer pairs in a conversation; returns the turn ids."""
    await h.store.people.ensure_user(user, "alice")
    turns = []
    for i in range(1, exchanges + 1):
        turns += [counted(Turn("user", f"question {i}")), counted(Turn("assistant", f"answer {i}"))]
    return await h.store.conversations.append_turns(h.bot.services.pipeline.character_key, user, scope, turns)


async def history(h: Harness, scope: str = f"channel:{CHANNEL_ID}",
                  user: int = USER_ID) -> list[tuple[str, str]]:
    hist = await h.store.conversations.history(h.bot.services.pipeline.character_key, user, scope)
    return [(t.role, t.content) for t in hist.turns]


async def chat(h: Harness, text: str, answer: str, n: int) -> dict[str, Any]:
    """One real exchange in the channel; returns the bot's posted answer."""
    h.claude.script(answer, model="claude-test-default")
    await h.say(text, mention=True)
    posted = await h.replies(CHANNEL_ID, n)
    return posted[-1]


async def subcommand(h: Harness, group: str, name: str, *, user: int = USER_ID) -> dict[str, Any]:
    """Run ``/group name`` (no options) in the channel; returns its ephemeral answer."""
    return await ephemeral(await h.slash(group, [{"type": 1, "name": name, "options": []}], user=user))


async def settled(h: Harness, turns: int) -> None:
    """Wait until the conversation holds ``turns`` turns (the engine saves them right after sending)."""
    await stored_history(h, f"channel:{CHANNEL_ID}", turns)


# --------------------------------------------------------------------------- registration


async def test_commands_are_synced_once_with_validated_options(make_harness: MakeHarness) -> None:
    h = await make_harness()
    await h.lead_work_done()  # the sync is lead work: on PostgreSQL it may come after start-up
    registered = {c["name"]: c for c in h.discord.registered_commands()}
    assert {"reset_conversation", "forget_last", "reroll", "remember", "status", "help",
            "bot"} <= set(registered)
    [count] = registered["forget_last"]["options"]
    assert (count["name"], count["type"], count["required"]) == ("count", 4, False)
    assert (count["min_value"], count["max_value"]) == (1, 10)
    puts = [r for r in h.discord.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(puts) == 1
    await h.restart()  # same commands, same database: no second upload
    await h.lead_work_done()  # the new bot has decided: what it would upload, it has
    puts = [r for r in h.discord.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert len(puts) == 1


# --------------------------------------------------------------------------- /reset_conversation


async def test_reset_conversation_cancel_then_confirm(harness: Harness) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    ids = await seed(h, 2)
    await seed(h, 1, scope="dm")
    hist = await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")
    await compact_history(h.store, hist.conversation_id or 0, "They talked about tides.",
                          drop_through_id=ids[0])
    await h.store.memories.add_core_memory(key, USER_ID, "Alice likes kelp.")
    before = await history(h)

    prompt = await ephemeral(await h.slash("reset_conversation"))
    assert "Reset our conversation in this channel" in prompt["content"]
    await (await press(h, prompt, "cancel")).response()
    assert "nothing was changed" in prompt["content"] and prompt["components"] == []
    assert await history(h) == before

    prompt = await ephemeral(await h.slash("reset_conversation"))
    await (await press(h, prompt, "confirm")).response()
    assert "starts afresh (3 messages cleared)" in prompt["content"]
    after = await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")
    assert after.turns == [] and after.summary == ""
    assert [m[1] for m in await h.store.memories.core_memories(key, USER_ID)] == ["Alice likes kelp."]
    assert await history(h, "dm") == [("user", "question 1"), ("assistant", "answer 1")]  # another scope


async def test_someone_else_cannot_press_my_buttons(harness: Harness) -> None:
    h = harness
    await seed(h, 2)
    reset = await ephemeral(await h.slash("reset_conversation"))
    forget = await ephemeral(await h.slash("forget_last"))
    first_pair = next(c for c in buttons(forget) if ":pair:" in c["custom_id"])
    shown = (reset["content"], forget["content"])
    for message, custom_id in ((reset, button(reset, "confirm")["custom_id"]),
                               (reset, button(reset, "cancel")["custom_id"]),
                               (forget, first_pair["custom_id"]),
                               (forget, button(forget, "cancel")["custom_id"])):
        refusal = await ephemeral(await h.click(message, custom_id, user=USER2_ID))
        assert "belong to whoever ran the command" in refusal["content"]
    assert (reset["content"], forget["content"]) == shown  # neither view moved
    assert len(await history(h)) == 4
    # Both stay usable by their owner.
    await (await h.click(forget, first_pair["custom_id"])).response()
    assert "✅ **1.** You: question 1" in forget["content"]
    await (await press(h, reset, "confirm")).response()
    assert "starts afresh (4 messages cleared)" in reset["content"]


async def test_confirmations_expire_after_confirm_timeout_seconds(make_harness: MakeHarness) -> None:
    h = await make_harness(confirm_timeout_seconds=1)
    await seed(h, 2)
    reset = await ephemeral(await h.slash("reset_conversation"))
    forget = await ephemeral(await h.slash("forget_last"))
    await (await h.click(forget, next(c for c in buttons(forget)
                                      if ":pair:" in c["custom_id"])["custom_id"])).response()
    forget_me = await ephemeral(await h.slash("forget_me"))
    for view in (reset, forget, forget_me):
        await wait_content(h, view, "These buttons have expired")
        assert buttons(view) and all(c["disabled"] for c in buttons(view))
    for view, action in ((reset, "confirm"), (forget, "forget"), (forget_me, "confirm")):
        late = await ephemeral(await press(h, view, action))
        assert late["content"] == "These buttons have expired. Run the command again."
    assert len(await history(h)) == 4
    assert await h.store.people.get_user(USER_ID) is not None  # /forget_me deleted nothing


async def test_a_failing_button_gets_an_apology_and_a_traceback(harness: Harness,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    await seed(h, 1)
    cog = h.bot.get_cog("UserCommands")

    async def broken(*_: Any) -> Any:
        raise RuntimeError("disk full of kelp")

    monkeypatch.setattr(cog.tools, "reset", broken)
    prompt = await ephemeral(await h.slash("reset_conversation"))
    with caplog.at_level(logging.ERROR, logger="bot.discord.ui"):
        ix = await press(h, prompt, "confirm")
        answer = await ephemeral(ix)
    assert answer["content"].startswith("Sorry, something went wrong on my side.")
    [record] = [r for r in caplog.records if "failed" in r.getMessage() and r.exc_info]
    assert ":confirm" in record.getMessage() and "disk full of kelp" in str(record.exc_info[1])
    assert len(await history(h)) == 2


# --------------------------------------------------------------------------- /forget_last


async def test_forget_last_toggles_and_removes_only_the_chosen_pairs(harness: Harness) -> None:
    h = harness
    await seed(h, 4)
    view = await ephemeral(await h.slash("forget_last", [{"name": "count", "type": 4, "value": 3}]))
    # Exchanges 2..4 are offered, oldest first, none chosen yet.
    assert "question 1" not in view["content"]
    assert view["content"].count("⬜") == 3 and "✅ **" not in view["content"]
    assert button(view, "forget")["disabled"] is True
    toggles = [c for c in buttons(view) if ":pair:" in c["custom_id"]]
    assert [c["label"] for c in toggles] == ["⬜ 1", "⬜ 2", "⬜ 3"]

    async def toggle(index: int) -> None:
        custom_id = [c for c in buttons(view) if ":pair:" in c["custom_id"]][index]["custom_id"]
        await (await h.click(view, custom_id)).response()

    await toggle(0)
    assert "✅ **1.** You: question 2" in view["content"]
    assert [c["label"] for c in buttons(view) if ":pair:" in c["custom_id"]] == ["✅ 1", "⬜ 2", "⬜ 3"]
    await toggle(1)
    await toggle(1)  # changed my mind
    await toggle(2)
    assert "⬜ **2.** You: question 3" in view["content"] and "✅ **3.** You: question 4" in view["content"]

    await (await press(h, view, "forget")).response()
    assert "Forget these 2 exchanges for good?" in view["content"] and "question 3" not in view["content"]
    await (await press(h, view, "confirm")).response()
    assert "Forgotten: 2 exchanges. 4 messages removed" in view["content"]
    assert await history(h) == [("user", "question 1"), ("assistant", "answer 1"),
                                ("user", "question 3"), ("assistant", "answer 3")]


async def test_forget_last_default_count_and_out_of_range_values(harness: Harness) -> None:
    h = harness
    await seed(h, 6)
    view = await ephemeral(await h.slash("forget_last"))
    assert len([c for c in buttons(view) if ":pair:" in c["custom_id"]]) == 5
    await (await press(h, view, "cancel")).response()
    assert "nothing was forgotten" in view["content"]
    # Discord validates the range client-side; a value that arrives anyway is refused by the handler.
    for bad in (0, 11):
        answer = await ephemeral(await h.slash("forget_last", [{"name": "count", "type": 4, "value": bad}]))
        assert "between 1 and 10" in answer["content"] and not answer["components"]
    assert len(await history(h)) == 12


async def test_forget_last_with_nothing_to_forget(harness: Harness) -> None:
    answer = await ephemeral(await harness.slash("forget_last", dm=True))
    assert "no exchanges" in answer["content"]


# --------------------------------------------------------------------------- /remember, /status, /help


async def test_remember_adds_a_core_memory_and_rejects_bad_input(harness: Harness) -> None:
    h = harness
    key = h.bot.services.pipeline.character_key
    ok = await ephemeral(await h.slash("remember", [{"name": "memory", "type": 3,
                                                     "value": "  I am allergic to shellfish "}]))
    assert "I'll remember that" in ok["content"]
    assert [(c, s) for _, c, s in await h.store.memories.core_memories(key, USER_ID)] == [
        ("I am allergic to shellfish", "user")]
    for bad, why in (("   ", "cannot be empty"), ("x" * 1001, "at most 1000")):
        answer = await ephemeral(await h.slash("remember", [{"name": "memory", "type": 3, "value": bad}]))
        assert why in answer["content"]
    assert len(await h.store.memories.core_memories(key, USER_ID)) == 1


async def test_remember_respects_memory_consent(make_harness: MakeHarness) -> None:
    h = await make_harness(memory_consent="opt_in")
    key = h.bot.services.pipeline.character_key

    async def remember(text: str) -> str:
        answer = await ephemeral(await h.slash("remember", [{"name": "memory", "type": 3, "value": text}]))
        return str(answer["content"])

    assert "only remember people who opted in" in await remember("I collect sea glass")
    assert await h.store.memories.core_memories(key, USER_ID) == []
    await subcommand(h, "memory", "opt-in")
    assert "I'll remember that" in await remember("I collect sea glass")
    await subcommand(h, "memory", "opt-out")
    text = await remember("I am moving to Lisbon")
    assert "/memory opt-out" in text and "/memory opt-in" in text
    assert [content for _, content, _ in await h.store.memories.core_memories(key, USER_ID)] == [
        "I collect sea glass"]


async def test_remember_in_a_dm_stays_out_of_channel_prompts(harness: Harness) -> None:
    h = harness
    await ephemeral(await h.slash("remember", [{"name": "memory", "type": 3,
                                                "value": "my diary code is 4711"}],
                                  dm=True))
    await h.say("hello in public", mention=True)
    await h.replies(h.channel_id)
    channel_request = [r for r in h.claude.requests if r.model == "claude-test-default"][-1]
    assert "4711" not in h.claude.all_text(channel_request)
    sent = await h.dm("and in private?")
    await h.replies(int(sent["channel_id"]))
    dm_request = [r for r in h.claude.requests if r.model == "claude-test-default"][-1]
    assert "- my diary code is 4711" in h.claude.all_text(dm_request)  # quoted data about the person
    assert "my diary code is 4711" not in h.claude.system_text(dm_request)


async def test_status_shows_usage_plan_conversation_and_memories(harness: Harness) -> None:
    h = harness
    await chat(h, "count me", "Counted.", 1)
    await settled(h, 2)
    key = h.bot.services.pipeline.character_key
    await h.store.memories.add_core_memory(key, USER_ID, "Alice counts things.")
    usage = await h.store.usage.totals(USER_ID)
    ix = await h.slash("status")
    answer = await ephemeral(ix)
    # A Components V2 panel, as the fake recorded the response: the flags, then one container holding the
    # title, a separator and a text display per figure; no content, no embeds (the fake refuses those).
    [callback] = ix.callbacks
    assert callback["type"] == 4 and callback["data"]["flags"] == EPHEMERAL | COMPONENTS_V2
    assert not callback["data"].get("content") and not callback["data"].get("embeds")
    [container] = answer["components"]
    assert container["type"] == 17
    kinds = [c["type"] for c in container["components"]]
    assert kinds[:2] == [10, 14] and set(kinds[2:]) == {10}
    name = h.bot.services.pipeline.persona.name
    assert container["components"][0]["content"] == f"### Your status with {name}"
    fields = panel_fields(answer)
    assert list(fields)[:2] == ["Plan", "Usage (all time)"]
    assert fields["Plan"] == "Standard"
    assert (f"{usage.calls} call{'s' if usage.calls != 1 else ''} · " in fields["Usage (all time)"]
            and f"${usage.cost:.4f}" in fields["Usage (all time)"])
    key = h.bot.services.pipeline.character_key
    hist = await h.store.conversations.history(key, USER_ID, f"channel:{CHANNEL_ID}")
    assert fields["Conversation in this channel"] == f"2 messages · {history_tokens(hist):,} tokens"
    assert fields["Core memories"] == "1"
    await h.store.people.set_premium(USER_ID, True)
    dm = await ephemeral(await h.slash("status", dm=True))
    fields = panel_fields(dm)
    assert fields["Plan"] == "Premium" and fields["Conversation in our DMs"] == "0 messages · 0 tokens"


def _registered_names(commands: list[dict[str, Any]]) -> list[str]:
    names = []
    for command in commands:
        subs = [o for o in command.get("options") or [] if o["type"] in (1, 2)]
        if not subs:
            names.append(command["name"])
        for sub in subs:
            inner = [o for o in sub.get("options") or [] if o["type"] == 1] if sub["type"] == 2 else []
            names += ([f"{command['name']} {sub['name']} {i['name']}" for i in inner]
                      or [f"{command['name']} {sub['name']}"])
    return names


async def test_help_lists_every_registered_command(harness: Harness) -> None:
    h = harness
    await h.lead_work_done()
    names = _registered_names(h.discord.registered_commands())
    assert "bot activate" in names and "reroll" in names
    ix = await h.slash("help")
    await ephemeral(ix)
    # The list may outgrow one 2000-character message; the rest arrives as followups.
    async def complete() -> str | None:
        text = str(await ix.text())
        menus = [c["name"] for c in h.discord.registered_commands() if c.get("type", 1) != 1]
        return text if (all(f"`/{name}" in text or name in menus for name in names)
                        and all(f"`Apps ▸ {menu}`" in text for menu in menus)) else None
    text = await eventually(complete, "every command in /help")
    assert "`/bot activate [scope]` *(admin)*" in text and "`Apps ▸ Remember this`" in text
    assert "`/remember <memory>` — " in text and "`/remember <memory>` *(admin)*" not in text


async def test_unexpected_error_gets_an_apology_and_a_traceback(harness: Harness,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    cog = harness.bot.get_cog("UserCommands")

    async def broken(*_: Any) -> Any:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(cog.tools, "status", broken)
    with caplog.at_level(logging.ERROR, logger="bot.discord.ui"):
        answer = await ephemeral(await harness.slash("status"))
    assert "Sorry, something went wrong" in answer["content"]
    [record] = [r for r in caplog.records if "/status failed" in r.getMessage()]
    assert record.exc_info and "database on fire" in str(record.exc_info[1])


# --------------------------------------------------------------------------- plain logic


def test_pairs_group_turns_into_exchanges() -> None:
    turns = [counted(Turn("assistant", "orphan", 1)), counted(Turn("user", "q1", 2)),
             counted(Turn("assistant", "a1", 3)),
             Turn("user", "q2 (reply failed)", 4), Turn("user", "q3", 5), Turn("assistant", "a3", 6),
             Turn("assistant", "a3 more", 7)]
    pairs = pairs_of(turns)
    assert [p.turn_ids for p in pairs] == [(1,), (2, 3), (4,), (5, 6, 7)]
    assert pairs[3].assistant_text == "a3\n\na3 more" and pairs[2].assistant_text == ""


async def test_forget_never_touches_turns_outside_the_conversation(harness: Harness) -> None:
    h = harness
    await seed(h, 1)
    other = await seed(h, 1, user=USER2_ID)
    tools = h.bot.services.conversation
    forged = pairs_of([Turn("user", "x", other[0]), Turn("assistant", "y", other[1])])
    assert await tools.forget(USER_ID, f"channel:{CHANNEL_ID}", forged) == 0
    assert len(await history(h, user=USER2_ID)) == 2
