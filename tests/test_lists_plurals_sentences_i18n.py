"""Lines made of parts say them as the reader's language does, over the wire: a poll chart's footer drawn in
the poll's language with its plural (the number alone where the chart's font cannot draw the language), a
tie's names and a ticket's people and missing permissions joined as the language lists things ("A, B und C",
"A、B、C"), a ticket's thread named in the ticket's language, a nameless administrator's refusal without an
English "them", and sentences said one after another with no space after a full stop 。 (Japanese). German
and Japanese each, English as the control."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.features.polls import PollLifecycle
from bot.features.polls.charts import FONT, GLYPH_H, GLYPH_W, MUTED, PAD, footer
from tests.dbtools import open_polls, timers_of_kind
from tests.fakes.discord_guild import ADMINISTRATOR, CREATE_PRIVATE_THREADS, MANAGE_THREADS
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    ephemeral,
    eventually,
    invited,
    press,
)
from tests.server_support import World
from tests.test_polls import _with_message, decode_png, results, start_poll, vote
from tests.test_tickets import buttons, notices, setup_staff, threads, ticket
from tests.test_user_commands import seed

LANGUAGES = [("de", "de"), ("ja", "ja"), ("en", "en-US")]
IDS = [language for language, _ in LANGUAGES]
_GLYPHS = {glyph: ch for ch, glyph in FONT.items()}


def drawn_footer(png: bytes) -> str:
    """The chart's footer as drawn: each 5x7 cell of its line read back into the font's letter."""
    width, height, raw = decode_png(png)
    top = height - PAD - 10  # where bot/features/polls/charts.py draws it, at scale 1

    def lit(x: int, y: int) -> bool:
        start = y * (width * 3 + 1) + 1 + x * 3
        return tuple(raw[start:start + 3]) == MUTED

    cells = []
    for left in range(PAD, width - PAD - GLYPH_W, GLYPH_W + 1):
        glyph = bytes(sum(1 << row for row in range(GLYPH_H) if lit(left + col, top + row))
                      for col in range(GLYPH_W))
        cells.append(_GLYPHS.get(glyph, "�"))
    return "".join(cells).rstrip()


# --------------------------------------------------------------------------- polls

TIE = {
    "de": ("*Finn zählt die Stimmen.* Die Umfrage **Snack?** ist beendet: Gleichstand zwischen **Kelp**, "
           "**Krill** und **Plankton** (3 Stimmen).", "3 STIMMEN"),
    "ja": ("*Finnは票を数える。* 投票「**Snack?**」は締め切られました："
           "**Kelp**、**Krill**、**Plankton**の同点（3票）。", "3"),
    "en": ("*Finn counts the votes.* The poll **Snack?** has closed: A tie between **Kelp**, **Krill** and "
           "**Plankton** (3 votes).", "3 VOTES"),
}


@pytest.mark.parametrize(("language", "locale"), LANGUAGES, ids=IDS)
async def test_a_polls_tie_and_chart_footer_are_in_the_polls_language(harness: Harness, language: str,
                                                                     locale: str) -> None:
    """The poll's language (its author's client here): the tie's names listed as it lists them, the chart's
    footer in it with its plural, or the total alone where the chart's font has none of its letters (never
    "?" nor an English word)."""
    h = harness
    h.discord.set_locale(USER_ID, locale)
    message = await start_poll(h, "Snack?", "Kelp | Krill | Plankton", "10m")
    [poll] = await eventually(lambda: open_polls(h.store), "the poll row")
    poll = await eventually(lambda: _with_message(h, poll.id), "the poll's message id")
    for option, voter in enumerate((USER_ID, USER2_ID, ADMIN_ID)):
        await vote(h, message, option, voter)
    await eventually(lambda: timers_of_kind(h.store, "poll"), "the poll's closing timer")
    assert h.bot is not None
    await h.bot.services.part(PollLifecycle).arm(replace(poll, closes_at=datetime.now(UTC)), language)
    [posted] = await h.discord.wait_for(lambda d: results(h), what="the poll results")
    said, drawn = TIE[language]
    assert posted["content"] == said
    assert drawn_footer(h.discord.messages[int(posted["id"])]["attachments"][0]["_data"]) == drawn


def test_the_chart_footer_is_the_polls_words_where_its_font_draws_them() -> None:
    assert [footer(1, "de"), footer(2, "de"), footer(1, "en"), footer(2, "en")] == [
        "1 Stimme", "2 Stimmen", "1 vote", "2 votes"]
    assert [footer(1, "es"), footer(5, "fr"), footer(5, "tr")] == ["1 voto", "5 votes", "5 oy"]
    # no letter of theirs in a 5x7 ASCII font: the number, which needs none
    assert [footer(5, "ja"), footer(5, "ru"), footer(5, "pl"), footer(5, "zh")] == ["5", "5", "5", "5"]


# --------------------------------------------------------------------------- tickets

TICKETS = {
    # the thread's name; the server's /settings language, the log channel's summary title and who wrote there
    "de": ("Ticket-1 my shell is stuck", "German", "### Ticket Nr. 1 geschlossen",
           "3 Nachrichten von Kindred, alice und bob · Protokoll archiviert"),
    "ja": ("チケット-1 my shell is stuck", "Japanese", "### チケット #1 終了",
           "Kindred、alice、bobから3件のメッセージ · 記録を保存済み"),
    "en": ("ticket-1 my shell is stuck", "", "### ticket #1 closed",
           "3 messages from Kindred, alice and bob · transcript archived"),
}


@pytest.mark.parametrize(("language", "locale"), LANGUAGES, ids=IDS)
async def test_a_tickets_thread_and_summary_are_in_its_language(harness: Harness, language: str,
                                                                locale: str) -> None:
    h = harness
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    name, place, title, summary = TICKETS[language]
    h.discord.set_locale(USER_ID, locale)  # no server language: the opener's names the thread
    await ticket(h, "open", topic="my shell is stuck")
    [thread] = threads(h)
    assert thread["name"] == name
    tid = int(thread["id"])
    await h.discord.user_message(tid, USER_ID, "It won't come off!")
    await h.discord.user_message(tid, USER2_ID, "Try some warm water.")
    await h.store.servers.update(GUILD_ID, language=place)  # the log channel's language
    [opening] = h.discord.posted(tid)
    await (await h.click(opening, buttons(opening)[0], user=USER2_ID)).response()

    async def closed() -> str | None:
        return next((n for n in notices(h) if n.startswith(title)), None)

    said = await eventually(closed, "the ticket's summary")
    assert summary in said, said


MISSING = {
    "de": "Für Tickets brauche ich Create Private Threads und Manage Threads in <#{channel}>.",
    "ja": "チケットには<#{channel}>でCreate Private Threads、Manage Threadsが必要です。",
    "en": "I need Create Private Threads and Manage Threads in <#{channel}> for tickets.",
}
SET_UP = {
    "de": ("*Finn hängt ein Schild auf.* Tickets öffnen sich jetzt als private Threads in <#{channel}>, mit "
           "<@&{role}>. Hinweis: <@&{role}> ist nicht erwähnbar"),
    "ja": ("*Finnは貼り紙をする。* チケットは今後、<#{channel}>に<@&{role}>と一緒のプライベートスレッドとして"
           "開かれます。注意：<@&{role}>はメンションできないため"),
    "en": ("*Finn pins up a sign.* Tickets now open as private threads in <#{channel}>, with <@&{role}>. "
           "Note: <@&{role}> is not mentionable"),
}


@pytest.mark.parametrize(("language", "locale"), LANGUAGES, ids=IDS)
async def test_ticket_setup_lists_and_joins_as_the_admins_language(harness: Harness, language: str,
                                                                   locale: str) -> None:
    """Discord's own permission names (as its settings show them) joined as the admin's language lists
    things; the setup's note after its first sentence with no space after 。."""
    h = harness
    d = h.discord
    await setup_staff(h)
    d.set_locale(ADMIN_ID, locale)
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID),
                                 invited() & ~CREATE_PRIVATE_THREADS & ~MANAGE_THREADS)
    quiet = await d.add_role(GUILD_ID, "Quiet staff", position=1)
    said = await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", quiet))
    assert said == MISSING[language].format(channel=CHANNEL_ID)
    await d.set_role_permissions(GUILD_ID, d.bot_role_id(GUILD_ID), invited())
    said = await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", quiet))
    assert said.startswith(SET_UP[language].format(channel=CHANNEL_ID, role=quiet)), said


# --------------------------------------------------------------------------- moderation

CAROL_ID = 900_000_000_000_000_103
MODERATION = {
    # a nameless administrator; a warning whose DM could not be sent
    "de": ("Discord lässt niemanden einen Administrator in den Timeout schicken.",
           "*Finn macht sich eine Notiz.* alice wurde verwarnt (Verwarnung Nr. 1, insgesamt 1). "
           "(DMs sind geschlossen)"),
    "ja": ("Discordでは管理者は誰もタイムアウトできません。",
           "*Finnはメモを取る。* aliceに警告しました（警告 #1、合計1件）。（DMが閉じられています）"),
    "en": ("Discord doesn't let anyone time out an administrator.",
           "*Finn makes a note.* alice has been warned (warning #1, 1 in total). (their DMs are closed)"),
}


@pytest.mark.parametrize(("language", "locale"), LANGUAGES, ids=IDS)
async def test_moderation_lines_are_whole_in_the_moderators_language(harness: Harness, language: str,
                                                                     locale: str) -> None:
    h = harness
    d = h.discord
    d.add_user(CAROL_ID, "")  # a member whose name reads empty: the line says no "them" for it
    d.add_member(GUILD_ID, CAROL_ID)
    await h.store.servers.update(GUILD_ID, reply_mode="addressed")
    world = await World(h).build()
    helpers = await d.add_role(GUILD_ID, "Helpers", permissions=ADMINISTRATOR, position=1)
    await d.give_role(GUILD_ID, CAROL_ID, helpers)
    d.set_locale(ADMIN_ID, locale)
    nameless, warned = MODERATION[language]
    assert await world.run("timeout", member=("user", CAROL_ID), duration="1h") == nameless
    d.fail_next("POST /channels/*/messages", 403, 50007, "Cannot send messages to this user")
    assert await world.run("warn", member=("user", USER_ID), reason="spam") == warned


# --------------------------------------------------------------------------- sentences one after another

CONVERSATION = {
    "de": ("Unser Gespräch in diesem Kanal neu beginnen? Ich vergesse, was wir hier gesagt haben",
           "Vergessen: 1 Austausch. 2 Nachrichten aus meiner Erinnerung an dieses Gespräch entfernt.",
           "Wenn du wieder mit mir sprichst, fange ich bei null an."),
    "ja": ("このチャンネルでの私たちの会話をリセットしますか？ここで話したこと",
           "忘れました：1件のやり取り。この会話の記憶から2件のメッセージを消しました。",
           "件削除しました。また話しかけてくれたら、ゼロから始めます。"),
    "en": ("Reset our conversation in this channel? I will forget what we said here",
           "Forgotten: 1 exchange. 2 messages removed from my memory of this conversation.",
           "If you talk to me again, I start from nothing."),
}


@pytest.mark.parametrize(("language", "locale"), LANGUAGES, ids=IDS)
async def test_sentences_follow_each_other_as_the_language_writes_them(harness: Harness, language: str,
                                                                       locale: str) -> None:
    """/reset_conversation's question, /forget_last's outcome, /forget_me's: two sentences, a space between
    them, none after 。."""
    h = harness
    await seed(h, 2)
    h.discord.set_locale(USER_ID, locale)
    question, forgotten, forgot_me = CONVERSATION[language]
    reset = await ephemeral(await h.slash("reset_conversation"))
    assert reset["content"].startswith(question), reset["content"]
    view = await ephemeral(await h.slash("forget_last"))
    pair = next(c for row in view["components"] for c in row["components"] if ":pair:" in c["custom_id"])
    await (await h.click(view, pair["custom_id"])).response()
    await (await press(h, view, "forget")).response()
    await (await press(h, view, "confirm")).response()
    assert view["content"] == forgotten
    prompt = await ephemeral(await h.slash("forget_me"))
    await (await press(h, prompt, "confirm")).response()
    await h.discord.wait_for(lambda d: (prompt.get("content") or "").endswith(forgot_me), what="the outcome")
