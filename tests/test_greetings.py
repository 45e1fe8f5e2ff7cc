"""Greetings as SillyTavern shows them (issue 44, items 5 and 8), proven by what the fake Discord receives and
what the fake Claude is asked: a person's first DM is greeted with ``first_mes`` (posted, then stored where
it appears), a hello and nothing more, in any language, is answered by the greeting alone (the voting model
asked), a restart never greets again, and a server channel opens with one of a V3 card's
``group_only_greetings`` once."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.core.config import PROJECT_ROOT
from bot.core.persona.cards import read_card
from bot.reply.prompting import NEW_CHAT
from database.store import Store
from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import FakeClaude, content_text
from tests.harness import (
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    bot_posts,
    nothing_owed,
    reply_requests,
    run_main,
    start_main,
    stop_process,
    vote_requests,
)
from tests.test_memory_commands import forget

Make = Callable[..., Awaitable[Harness]]
LUMEN = PROJECT_ROOT / "characters" / "lumen"
GROUP = "*The lamp sweeps the room.* So many climbers at once! Greywick Light welcomes you, {{user}}."


def lumen_folder(tmp_path: Path, **card: Any) -> Path:
    """Lumen's folder with its card as JSON, ``card`` fields changed (one greeting: the choice is fixed)."""
    folder = tmp_path / "lumen"
    folder.mkdir()
    (folder / "character.env").write_text((LUMEN / "character.env").read_text())
    data = dict(read_card(LUMEN / "card.png").data)
    data.update({"alternate_greetings": [], **card})
    (folder / "card.json").write_text(json.dumps({"spec": "chara_card_v3", "spec_version": "3.0",
                                                  "data": data}))
    return folder


def greeting_of(h: Harness, name: str = "alice") -> str:
    persona = h.bot.services.pipeline.persona
    return persona.render(persona.first_message, name)


async def test_a_first_dm_is_greeted_before_the_answer_and_the_greeting_is_kept_where_shown(
        make_harness: Make, tmp_path: Path) -> None:
    h = await make_harness(character_dir=lumen_folder(tmp_path), greetings="true")
    h.claude.script("Forty-one ships tonight.", model="claude-test-default")
    sent = await h.dm("How many ships passed tonight?")
    channel = int(sent["channel_id"])
    greeting, answer = await h.replies(channel, 2)
    assert greeting["content"] == greeting_of(h) and "{{user}}" not in greeting["content"]
    assert answer["content"] == "Forty-one ships tonight."
    # The model saw the greeting it had posted, as the chat's opening.
    [first] = reply_requests(h)
    opening = first.body["messages"]
    assert content_text(opening[0]["content"]).endswith(NEW_CHAT)
    assert content_text(opening[1]["content"]) == greeting["content"]
    # Stored where the prompt shows it, a new chat's opening: before the message, with its Discord id.
    await h.settled()
    key = h.bot.services.pipeline.character_key
    turns = (await h.store.conversations.history(key, int(sent["author"]["id"]),
                                                 "dm")).turns
    assert [(t.role, t.content) for t in turns] == [
        ("assistant", greeting["content"]), ("user", "How many ships passed tonight?"),
        ("assistant", "Forty-one ships tonight.")]
    assert turns[0].discord_message_id == int(greeting["id"])
    # A restart greets no one again; the next prompt opens with the history, the same way.
    await h.restart()
    await h.dm("And the fog?")
    await h.replies(channel, 3)
    second = reply_requests(h)[-1]
    assert second.body["messages"][:2] == first.body["messages"][:2]
    assert FakeClaude.all_text(second).count(greeting["content"]) == 1  # once: the history's turn
    assert [m["content"] for m in h.discord.posted(channel)].count(greeting["content"]) == 1


# The operator's own greeting in each language a hello below is written in: no rendering call among them.
OWN = {"es": "¡Hola, {{user}}! Sube.", "de": "Hallo, {{user}}! Komm herauf.",
       "ja": "いらっしゃい、{{user}}。", "ru": "Привет, {{user}}! Поднимайся.", "ko": "어서 와, {{user}}.",
       "fr": "Bonjour, {{user}} ! Monte."}
HELLO_ASKED = "who has just greeted them back"  # bot/reply/greetings.py hello_prompt's question


def multilingual_lumen(tmp_path: Path) -> Path:
    folder = lumen_folder(tmp_path)
    with (folder / "character.env").open("a") as env:
        env.writelines(f"\nfirst_message_{code}={text}\n" for code, text in OWN.items())
    return folder


def asks_hello(body: dict[str, Any]) -> bool:
    return HELLO_ASKED in FakeClaude.system_text(body)


def hello_questions(h: Harness) -> list[str]:
    """The first DMs the voting model was asked about, as it read them."""
    return [content_text(r.body["messages"][-1]["content"]) for r in vote_requests(h) if asks_hello(r.body)]


@pytest.mark.parametrize("hello", ["hey there! 👋", "¡Hola, Lumen!", "こんばんは", "привет 👋", "안녕하세요",
                                   "Guten Abend", "salut"])
async def test_a_first_dm_that_only_says_hello_in_any_language_is_answered_by_the_greeting(
        make_harness: Make, tmp_path: Path, hello: str) -> None:
    h = await make_harness(character_dir=multilingual_lumen(tmp_path), greetings="true")
    h.claude.script("yes", model="claude-test-voter", match=asks_hello)
    sent = await h.dm(hello)
    [greeting] = await h.replies(int(sent["channel_id"]), 1)
    await h.settled()
    assert greeting["content"] in {greeting_of(h), *(t.replace("{{user}}", "alice") for t in OWN.values())}
    assert hello_questions(h) == [f"<message>\n{hello}\n</message>"]  # the voting model read it
    assert reply_requests(h) == []  # no answer asked for: the greeting is the answer


@pytest.mark.parametrize(("said", "answer"), [
    ("hi, I just moved to Greywick", "Welcome to the coast."),
    ("hola, me llamo Ana y escribo poemas", "Encantada, Ana."),
    ("こんにちは、猫を飼い始めました", "素敵ね。"),
    ("привет, я потерял ключ от маяка", "Вот запасной."),
])
async def test_a_first_dm_that_says_more_than_hello_is_greeted_and_answered(
        make_harness: Make, tmp_path: Path, said: str, answer: str) -> None:
    h = await make_harness(character_dir=multilingual_lumen(tmp_path), greetings="true")
    h.claude.script("no", model="claude-test-voter", match=asks_hello)
    h.claude.script(answer, model="claude-test-default")
    sent = await h.dm(said)
    _, reply = await h.replies(int(sent["channel_id"]), 2)
    assert reply["content"] == answer
    assert hello_questions(h) == [f"<message>\n{said}\n</message>"]


@pytest.mark.parametrize("said", ["hi! how are you?", "¿hola, qué tal?", "こんにちは？", "x" * 65])
async def test_a_first_dm_that_asks_or_runs_long_is_answered_without_the_question(
        make_harness: Make, tmp_path: Path, said: str) -> None:
    h = await make_harness(character_dir=multilingual_lumen(tmp_path), greetings="true")
    h.claude.script("Well, thank you.", model="claude-test-default")
    sent = await h.dm(said)
    _, reply = await h.replies(int(sent["channel_id"]), 2)
    assert reply["content"] == "Well, thank you."
    assert hello_questions(h) == []  # asked nothing: a question or a long message is more than a hello


async def test_a_hello_the_voting_model_could_not_judge_is_answered(make_harness: Make,
                                                                     tmp_path: Path) -> None:
    h = await make_harness(character_dir=multilingual_lumen(tmp_path), greetings="true")
    h.claude.script(status=400, model="claude-test-voter", match=asks_hello, times=None)
    h.claude.script("Bonsoir.", model="claude-test-default")
    sent = await h.dm("bonsoir")
    _, reply = await h.replies(int(sent["channel_id"]), 2)
    assert reply["content"] == "Bonsoir."  # an answer after the greeting, never a message left unanswered
    assert len(hello_questions(h)) == 1


async def test_a_person_whose_history_is_not_kept_is_greeted_once(make_harness: Make, tmp_path: Path) -> None:
    h = await make_harness(character_dir=lumen_folder(tmp_path), memory_consent="opt_in", greetings="true")
    h.claude.script("The lamp is fine.", model="claude-test-default", times=None)
    sent = await h.dm("How is the lamp?")
    channel = int(sent["channel_id"])
    greeting, _ = await h.replies(channel, 2)
    await h.dm("And the stairs?")
    await h.replies(channel, 3)
    await h.settled()
    posted = [m["content"] for m in h.discord.posted(channel)]
    assert posted.count(greeting["content"]) == 1
    # Not kept in a history, yet shown: the prompt still opens with it (the person saw it).
    assert content_text(reply_requests(h)[-1].body["messages"][1]["content"]) == greeting["content"]


async def test_a_channel_opens_with_a_group_only_greeting_once(make_harness: Make, tmp_path: Path) -> None:
    h = await make_harness(character_dir=lumen_folder(tmp_path, group_only_greetings=[GROUP]),
                           greetings="true")
    h.claude.script("The Narrows are calm.", model="claude-test-default", times=None)
    await h.say("how are the Narrows?", mention=True)
    greeting, answer = await h.replies(CHANNEL_ID, 2)
    assert greeting["content"] == h.bot.services.pipeline.persona.render(GROUP, "alice")
    assert answer["content"] == "The Narrows are calm."
    # The first-DM greeting is never used in a channel.
    assert greeting_of(h) not in [m["content"] for m in h.discord.posted(CHANNEL_ID)]
    await h.say("and the ferry?", mention=True, user=USER2_ID)
    await h.replies(CHANNEL_ID, 3)
    await h.restart()
    await h.say("and tomorrow?", mention=True)
    await h.replies(CHANNEL_ID, 4)
    posted = [m["content"] for m in h.discord.posted(CHANNEL_ID)]
    assert posted.count(greeting["content"]) == 1 and len(posted) == 4
    # The character's own line in what it said there since (the log holds it).
    assert greeting["content"] in FakeClaude.all_text(reply_requests(h)[-1])


async def test_a_channel_has_no_greeting_without_group_only_greetings(make_harness: Make,
                                                                      tmp_path: Path) -> None:
    h = await make_harness(character_dir=lumen_folder(tmp_path), greetings="true")
    h.claude.script("Calm seas.", model="claude-test-default")
    await h.say("how are the Narrows?", mention=True)
    [answer] = await h.replies(CHANNEL_ID, 1)
    await h.settled()
    assert answer["content"] == "Calm seas." and len(h.discord.posted(CHANNEL_ID)) == 1


async def test_forget_me_forgets_the_greeting_shown_with_the_persons_name(make_harness: Make,
                                                                          tmp_path: Path) -> None:
    """/forget_me leaves no greeting naming the person: their DM's mark goes (the next DM starts from
    nothing, greeted anew by the name they have now, and its prompt never carries the old greeting), and a
    channel's mark keeps that it was greeted, not the text naming them."""
    h = await make_harness(character_dir=lumen_folder(tmp_path, first_mes="Welcome aboard, {{user}}!",
                                                      group_only_greetings=[GROUP]), greetings="true")
    h.claude.script("The lamp is lit.", model="claude-test-default", times=None)
    h.discord.users[USER_ID]["global_name"] = "Marigold"
    sent = await h.dm("How is the lamp?")
    dm = int(sent["channel_id"])
    old, _ = await h.replies(dm, 2)
    assert old["content"] == "Welcome aboard, Marigold!"
    await h.say("and the Narrows?", mention=True)
    channel_greeting, _ = await h.replies(CHANNEL_ID, 2)
    assert "Marigold" in channel_greeting["content"]
    await h.settled()
    before = await h.store.privacy.rows_about_user(USER_ID, [dm])
    assert before["global_state"] == 2  # the DM's mark and the channel's, both naming her

    await forget(h)

    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}
    assert not [(k, v) for k, v in await h.store.state.all() if "Marigold" in v]
    # She comes back under another name: greeted as a new chat, by that name; the old greeting is nowhere.
    h.discord.users[USER_ID]["global_name"] = "Wren"
    await h.dm("Hello again, is the lamp still lit?")
    posted = await h.replies(dm, 4)
    assert posted[2]["content"] == "Welcome aboard, Wren!"
    request = reply_requests(h)[-1]
    assert "Marigold" not in FakeClaude.all_text(request)
    assert content_text(request.body["messages"][1]["content"]) == "Welcome aboard, Wren!"
    # The channel is not greeted again (bob speaks there next).
    await h.say("and the ferry?", mention=True, user=USER2_ID)
    await h.replies(CHANNEL_ID, 3)
    assert [m["content"] for m in h.discord.posted(CHANNEL_ID)].count(channel_greeting["content"]) == 1


MARKDOWN_NAME = "[free nitro](https://evil.example) **admin**"


@pytest.mark.parametrize("where", ["channel", "dm"])
async def test_a_name_in_a_greeting_is_written_as_discord_text(make_harness: Make, tmp_path: Path,
                                                               where: str) -> None:
    """The first person's display name fills in the greeting's {{user}}: shown as written, never a masked link
    or bold."""
    h = await make_harness(character_dir=lumen_folder(tmp_path, group_only_greetings=[GROUP]),
                           greetings="true")
    if where == "channel":
        h.discord.members[GUILD_ID][USER_ID]["nick"] = MARKDOWN_NAME  # a server nickname
    else:
        h.discord.users[USER_ID]["global_name"] = MARKDOWN_NAME
    h.claude.script("Welcome aboard.", model="claude-test-default")
    sent = await (h.say("hello there, lamp keeper", mention=True) if where == "channel"
                  else h.dm("what is this place?"))
    greeting, _ = await h.replies(int(sent["channel_id"]), 2)
    escaped = r"\[free nitro\]\(https\://evil.example\) \*\*admin\*\*"
    assert escaped in greeting["content"], greeting["content"]
    assert "[free nitro](" not in greeting["content"].replace(escaped, "")


LONG_GREETING = " ".join(f"*The lamp turns, beam {i}.* The {i}th ship passes in the fog, slow and patient."
                         for i in range(900))


async def test_a_greeting_is_one_or_two_posts_cut_at_a_sentence_with_one_warning(
        make_harness: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert len(LONG_GREETING) > 60_000
    caplog.set_level(logging.WARNING, logger="bot.core.character")
    h = await make_harness(character_dir=lumen_folder(tmp_path, first_mes=LONG_GREETING), greetings="true")
    h.claude.script("Forty-one ships tonight.", model="claude-test-default")
    sent = await h.dm("How many ships passed tonight?")
    channel = int(sent["channel_id"])
    await h.discord.wait_for(lambda d: any(p["content"] == "Forty-one ships tonight."
                                           for p in bot_posts(h, channel)),
                             timeout=EVENT_WAIT, what="the answer")
    *greeting, answer = [p["content"] for p in bot_posts(h, channel)]
    assert 1 <= len(greeting) <= 2 and answer == "Forty-one ships tonight."
    shown = " ".join(greeting)  # (the two posts split at a space)
    assert LONG_GREETING.startswith(shown) and shown.endswith((".", ".*"))  # cut at a sentence
    warned = [r.getMessage() for r in caplog.records if "greeting" in r.getMessage()]
    assert len(warned) == 1 and "first message (" in warned[0], warned


def test_import_card_warns_once_of_a_greeting_too_long_for_two_posts(tmp_path: Path) -> None:
    card = lumen_folder(tmp_path, first_mes=LONG_GREETING,
                        alternate_greetings=[LONG_GREETING, "Hello, {{user}}."]) / "card.json"
    characters = tmp_path / "characters"
    characters.mkdir()
    result = run_main("import-card", str(card), "--as", "longwinded", "--dir", str(characters))
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "first message" in warnings[0] and "alternate greeting 1" in warnings[0], \
        result.stderr


# -- kill -9 against the real process


@pytest.mark.parametrize("where", ["dm", "channel"])
async def test_kill_9_between_the_greeting_and_the_answer_then_restart_posts_the_answer(
        db_url: str, tmp_path: Path, where: str) -> None:
    """The greeting (a first DM's, or a channel's) is out, the answer is being written when the process is
    killed: the restart posts the answer as a post of its own (its nonce names the answer, not the greeting
    Discord already has under the message's first nonce; in a channel the greeting is no reply the restart
    could take for the answer), and the greeting is not posted again."""
    h = Harness(db_url=db_url, tmp_path=tmp_path,
                character_dir=lumen_folder(tmp_path, group_only_greetings=[GROUP]),
                config={"greetings": "true"})
    await h.start_fakes()
    procs: list[asyncio.subprocess.Process] = []
    try:
        procs.append(await start_main(h))
        h.claude.script("never finished", model="claude-test-default", delay=60)
        bot_id = int(next(iter(h.discord.bots.values()))["id"])
        question = "How many ships passed tonight?"
        first = await (h.discord.dm_message(USER_ID, question) if where == "dm" else
                       h.discord.user_message(CHANNEL_ID, USER_ID, f"<@{bot_id}> {question}",
                                              mentions=[bot_id]))
        dm = int(first["channel_id"])
        await h.claude.wait_for_requests(1, timeout=EVENT_WAIT)  # the greeting was posted before this call
        [greeting] = [p["content"] for p in bot_posts(h, dm)]
        await stop_process(procs[0])  # kill -9, the answer not written yet

        h.claude.script("Forty-one ships tonight.", model="claude-test-default")
        procs.append(await start_main(h))
        await h.discord.wait_for(lambda d: len(bot_posts(h, dm)) == 2 or bool(d.duplicate_nonces),
                                 timeout=EVENT_WAIT, what="the answer, late")
        assert [p["content"] for p in bot_posts(h, dm)] == [greeting, "Forty-one ships tonight."]
        assert h.discord.duplicate_nonces == []
        store = await Store(db_url).open()
        try:
            await nothing_owed(store)
        finally:
            await store.close()
    finally:
        for proc in procs:
            await stop_process(proc)
        await h.claude.close()
        await h.discord.close()


async def test_two_mentions_at_the_same_moment_in_a_new_channel_get_one_group_greeting(
        db_url: str, tmp_path: Path) -> None:
    """Two people @mention the character together in a channel it has never spoken in: one group greeting,
    then an answer to each."""
    h = Harness(db_url=db_url, tmp_path=tmp_path,
                character_dir=lumen_folder(tmp_path, group_only_greetings=[GROUP]),
                config={"greetings": "true"})
    await h.start_fakes()
    proc = None
    try:
        proc = await start_main(h)
        bot_id = int(next(iter(h.discord.bots.values()))["id"])
        h.claude.script("The Narrows are calm.", model="claude-test-default", times=None)
        await asyncio.gather(*(h.discord.user_message(CHANNEL_ID, user, f"<@{bot_id}> how are the Narrows?",
                                                      mentions=[bot_id]) for user in (USER_ID, USER2_ID)))
        await h.discord.wait_for(lambda d: len([p for p in bot_posts(h, CHANNEL_ID)
                                                if p["content"] == "The Narrows are calm."]) == 2,
                                 timeout=EVENT_WAIT, what="both answers")
        store = await Store(db_url).open()
        try:
            await nothing_owed(store)
        finally:
            await store.close()
        posted = [p["content"] for p in bot_posts(h, CHANNEL_ID)]
        greetings = [p for p in posted if p != "The Narrows are calm."]
        assert len(greetings) == 1 and posted[0] == greetings[0], posted
    finally:
        if proc is not None:
            await stop_process(proc)
        await h.claude.close()
        await h.discord.close()
