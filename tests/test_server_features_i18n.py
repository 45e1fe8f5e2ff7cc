"""The server features speak the language of whoever reads them, over the wire: a moderation answer, a
ticket's opening panel, a poll's fixed lines and a place task's answer come out in Japanese, Spanish and
German (the interaction's locale for an answer only the asker sees; the place's ``/settings language``,
else the asker's locale, for what everyone there sees), English as the control, and no English sentence is
left in them; /voice join and leave answer in the caller's locale, the voice channel's status is the server's
language."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.features.polls import PollLifecycle
from tests.dbtools import open_polls, timers_of_kind
from tests.fakes.discord_components import walk_components
from tests.harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, USER2_ID, USER_ID, Harness, eventually
from tests.server_support import MODERATOR_ID, World
from tests.test_place_tasks import tasks
from tests.test_polls import _with_message, results, shown, start_poll, vote
from tests.test_tickets import notices, panel_of, setup_staff, threads, ticket
from tests.test_voice_calls import voice_command
from tests.voice_support import VOICE_ID, voice_harness

# What only the asker reads: (language, their Discord client's locale).
ANSWERS = [("ja", "ja"), ("es", "es-ES"), ("de", "de"), ("en", "en-US")]
# What everyone there reads: (language, the asker's locale, the place's /settings language): Japanese by the
# asker's client, Spanish by the place (the asker's client English), German by both, English by neither.
SHOWN = [("ja", "ja", None), ("es", "en-US", "Spanish"), ("de", "de", "German"), ("en", "en-US", None)]
IDS = [language for language, _ in ANSWERS]
_WORDS = re.compile(r"[A-Za-z']+")


def english_left(text: str, english: str, *, names: tuple[str, ...] = ()) -> list[str]:
    """The pairs of neighbouring English words of ``english`` (the same line in English) that ``text`` still
    holds: none, when it was translated (names and Discord's own markup aside)."""
    words = [w for w in _WORDS.findall(english) if w not in names and len(w) > 1]
    pairs = {f"{a} {b}" for a, b in zip(words, words[1:], strict=False)}
    said = " ".join(w for w in _WORDS.findall(text) if w not in names and len(w) > 1)
    return sorted(pair for pair in pairs if f" {pair} " in f" {said} ")


async def speaking(h: Harness, user: int, locale: str, place: str | None) -> None:
    h.discord.set_locale(user, locale)
    if place is not None:
        await h.store.servers.update(GUILD_ID, language=place)


# --------------------------------------------------------------------------- moderation

MODERATION = {
    "ja": ("自分自身に「キック」はできません。",
           "*Finnはメモを取る。* aliceに警告しました（警告 #1、合計1件）。"),
    "es": ("No puedes aplicarte «expulsión» a ti mismo.",
           "*Finn toma nota.* alice ha recibido una advertencia (advertencia n.º 1, 1 en total)."),
    "de": ("„Kick“ kannst du nicht auf dich selbst anwenden.",
           "*Finn macht sich eine Notiz.* alice wurde verwarnt (Verwarnung Nr. 1, insgesamt 1)."),
    "en": ("You can't kick yourself.",
           "*Finn makes a note.* alice has been warned (warning #1, 1 in total)."),
}


@pytest.mark.parametrize(("language", "locale"), ANSWERS, ids=IDS)
async def test_a_moderation_answer_is_in_the_moderators_locale(harness: Harness, language: str,
                                                               locale: str) -> None:
    """A moderation answer is the moderator's alone: their client's language, whatever the place speaks."""
    h = harness
    # a place speaking another language changes nothing in what only the moderator reads
    await h.store.servers.update(GUILD_ID, reply_mode="addressed",
                                 language="Japanese" if language == "es" else "")
    world = await World(h).build()
    h.discord.set_locale(MODERATOR_ID, locale)
    refused, warned = MODERATION[language]
    assert await world.run("kick", member=("user", MODERATOR_ID)) == refused
    assert await world.run("warn", member=("user", USER_ID), reason="spam", notify=False) == warned
    if language != "en":
        assert english_left(refused, MODERATION["en"][0]) == []
        assert english_left(warned, MODERATION["en"][1], names=("Finn", "alice")) == []
    [row] = await h.store.moderation.warnings(GUILD_ID, USER_ID)
    assert row.reason == "spam"  # the moderator's own words stay as written


# --------------------------------------------------------------------------- tickets

OPENING = {
    "ja": ("### 🎫 チケット #1", "**作成者**", "**内容**\nmy shell is stuck", "**状態**\n🟢 <t:",
           "-# スタッフがここで対応します。解決したら「閉じる」を押してください。", "チケットを閉じる"),
    "es": ("### 🎫 Ticket n.º 1", "**Abierto por**", "**Tema**\nmy shell is stuck",
           "**Estado**\n🟢 Abierto desde <t:",
           "-# El staff te atenderá aquí; pulsa Cerrar cuando esté resuelto.", "Cerrar ticket"),
    "de": ("### 🎫 Ticket Nr. 1", "**Geöffnet von**", "**Thema**\nmy shell is stuck",
           "**Status**\n🟢 Offen seit <t:",
           "-# Das Team kümmert sich hier um dich; drück Schließen, wenn alles geklärt ist.",
           "Ticket schließen"),
    "en": ("### 🎫 Ticket #1", "**Opened by**", "**Topic**\nmy shell is stuck",
           "**Status**\n🟢 Open since <t:",
           "-# Staff will be with you here; press Close when it's sorted.", "Close ticket"),
}
OPENED = {"ja": "チケットを開きました：", "es": "Your ticket is open: ", "de": "Dein Ticket ist offen: ",
          "en": "Your ticket is open: "}


@pytest.mark.parametrize(("language", "locale", "place"), SHOWN, ids=IDS)
async def test_a_tickets_opening_panel_is_in_the_places_language_else_the_openers(
        harness: Harness, language: str, locale: str, place: str | None) -> None:
    h = harness
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    await speaking(h, USER_ID, locale, place)
    text = await ticket(h, "open", topic="my shell is stuck")
    assert text.startswith(OPENED[language])  # the opener's own answer: their client's language
    [thread] = threads(h)
    [opening] = h.discord.posted(int(thread["id"]))
    shown_panel = panel_of(h, opening)
    for line in OPENING[language][:5]:
        assert line in shown_panel, (line, shown_panel)
    # the log channel's notice: the server's language where one is set, else English (the operator's)
    titles = {"Spanish": "### ticket n.º 1 abierto", "German": "### Ticket Nr. 1 geöffnet"}
    titled = titles.get(place or "", "### ticket #1 opened")
    assert any(titled in notice for notice in await eventually(lambda: _notices(h), "the log notice"))
    [button] = [c for c in walk_components(opening["components"]) if c["type"] == 2]
    assert button["label"] == OPENING[language][5]
    if language != "en":
        left = english_left(shown_panel + " " + button["label"], " ".join(OPENING["en"]),
                            names=("my", "shell", "is", "stuck"))
        assert left == [], left


async def _notices(h: Harness) -> list[str]:
    return notices(h)


# --------------------------------------------------------------------------- polls

POLL = {
    "ja": ("の投票", "**0票** · <t:", "に締め切り（<t:", "-# 1人1票。別の選択肢を押すと投票を変えられます。",
           "1票 (100%)",
           "*Finnは票を数える。* 投票「**Best snack?**」は締め切られました：**Kelp**の勝ち（1票）。",
           "-# この投票は締め切られました。"),
    "es": ("-# Encuesta de <@", "**0 votos** · Se cierra <t:", "Se cierra <t:",
           "-# Un voto por persona; pulsa otra opción para cambiar el tuyo.", "1 voto (100\u00a0%)",
           "*Finn cuenta los votos.* La encuesta **Best snack?** se ha cerrado: Gana **Kelp** (1 voto).",
           "-# Esta encuesta se ha cerrado."),
    "de": ("-# Umfrage von <@", "**0 Stimmen** · Endet <t:", "Endet <t:",
           "-# Eine Stimme pro Person; drück eine andere Option, um deine zu ändern.",
           "1 Stimme (100\u00a0%)",
           "*Finn zählt die Stimmen.* Die Umfrage **Best snack?** ist beendet: **Kelp** gewinnt (1 Stimme).",
           "-# Diese Umfrage ist beendet."),
    "en": ("-# Poll by <@", "**0 votes** · Closes <t:", "Closes <t:",
           "-# One vote each; press another option to change yours.", "1 vote (100%)",
           "*Finn counts the votes.* The poll **Best snack?** has closed: **Kelp** wins (1 vote).",
           "-# This poll has closed."),
}
VOTED = {"ja": "**Kelp**に投票しました。別の選択肢を押すと変えられます。",
         "es": "Votaste por **Kelp**. Pulsa otra opción para cambiarlo.",
         "de": "Du hast für **Kelp** gestimmt. Drück eine andere Option, um das zu ändern.",
         "en": "You voted for **Kelp**. Press another option to change it."}


@pytest.mark.parametrize(("language", "locale", "place"), SHOWN, ids=IDS)
async def test_a_polls_fixed_lines_are_in_the_places_language_else_the_askers(
        harness: Harness, language: str, locale: str, place: str | None) -> None:
    """The poll is everyone's: its panel, its redraws at each vote (whoever votes) and its results are in the
    place's language, else its author's; a voter's own confirmation is in the voter's."""
    h = harness
    await speaking(h, USER_ID, locale, place)
    h.discord.set_locale(USER2_ID, "en-US")
    message = await start_poll(h, "Best snack?", "Kelp | Plankton", "10m")
    byline, votes, closes, hint, one, said, closed = POLL[language]
    opened = shown(h, message)
    for line in (byline, votes, closes, hint):
        assert line in opened, (line, opened)
    [poll] = await eventually(lambda: open_polls(h.store), "the poll row")
    poll = await eventually(lambda: _with_message(h, poll.id), "the poll's message id")
    # a voter on an English client: their confirmation in English, the poll's panel still in its language
    assert await vote(h, message, 0, USER2_ID) == VOTED["en"]
    assert one in shown(h, message) and hint in shown(h, message)
    # the closing timer is armed after the poll's message is posted: wait for it, not for the vote
    [timer] = await eventually(lambda: timers_of_kind(h.store, "poll"), "the poll's closing timer")
    assert timer.payload["language"] == language  # the results are announced in the poll's language
    assert h.bot is not None
    await h.bot.services.part(PollLifecycle).arm(replace(poll, closes_at=datetime.now(UTC)), language)
    [posted] = await h.discord.wait_for(lambda d: results(h), what="the poll results")
    assert posted["content"] == said
    assert closed in shown(h, message)
    if language != "en":
        left = english_left(shown(h, message) + " " + posted["content"], " ".join(POLL["en"]),
                            names=("Finn", "Best", "snack", "Kelp", "Plankton"))
        assert left == [], left


@pytest.mark.parametrize(("language", "locale"), ANSWERS, ids=IDS)
async def test_a_voters_confirmation_is_in_the_voters_locale(harness: Harness, language: str,
                                                             locale: str) -> None:
    h = harness
    message = await start_poll(h, "Best snack?", "Kelp | Plankton", "10m")
    h.discord.set_locale(USER2_ID, locale)
    assert await vote(h, message, 0, USER2_ID) == VOTED[language]
    assert POLL["en"][3] in shown(h, message)  # the poll's own lines stay its author's English


# --------------------------------------------------------------------------- place tasks

PLACE_TASKS = {
    "ja": ("このサーバーには場所タスクがありません。`/ボット タスク 追加` でここに追加できます。",
           "場所タスク #1 を<#"),
    "es": ("Este servidor no tiene tareas de lugar. `/bot tareas añadir` me da una aquí.",
           "Tarea de lugar n.º 1 creada para <#"),
    "de": ("Dieser Server hat keine Ortsaufgaben. `/bot aufgaben hinzufügen` gibt mir hier eine.",
           "Ortsaufgabe Nr. 1 für <#"),
    "en": ("This server has no place tasks. `/bot tasks add` gives me one here.", "Place task #1 set for <#"),
}


@pytest.mark.parametrize(("language", "locale"), ANSWERS, ids=IDS)
async def test_a_place_tasks_answer_is_in_the_admins_locale(harness: Harness, language: str,
                                                            locale: str) -> None:
    h = harness
    h.discord.set_locale(ADMIN_ID, locale)
    empty, added = PLACE_TASKS[language]
    assert await tasks(h, "list") == empty
    text = await tasks(h, "add", {"what": "post a question of the day", "time": "09:00", "zone": "UTC"})
    assert text.startswith(added), text
    assert "post a question of the day" in text  # the admin's own words stay as written
    if language != "en":
        english = (f"{PLACE_TASKS['en'][0]} Place task #1 set for <#{CHANNEL_ID}>: at 09:00 UTC, first. "
                   "I'll do it in my own words each time:")
        left = english_left(f"{empty} {text.split(': ')[0]} {text.rsplit(': ', 1)[0]}", english,
                            names=("UTC", "bot", "tasks", "add"))
        assert left == [], left


# --------------------------------------------------------------------------- voice calls


async def test_voice_join_and_leave_answer_in_the_callers_locale(db_url: str, tmp_path: Path) -> None:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true")
    try:
        h.discord.set_locale(USER_ID, "ja")
        h.discord.set_locale(USER2_ID, "de")
        await h.store.servers.update(GUILD_ID, language="German")  # the channel's status is everyone's
        await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
        assert await voice_command(h, "join") == "あなたのボイスチャンネルに入りました。聞いています。"
        await h.discord.wait_for(lambda d: d.voice_status(VOICE_ID) == "🎧 Finn hört zu",
                                 what="the channel's status in the server's language")
        assert await voice_command(h, "join", user=USER2_ID) == (
            "Tritt zuerst einem Sprachkanal bei und ruf mich dann mit /sprachkanal beitreten dazu.")
        h.discord.set_locale(USER_ID, "es-ES")
        assert await voice_command(h, "leave") == "Salí del canal de voz."
        h.discord.set_locale(USER_ID, "en-US")
        assert await voice_command(h, "leave") == "I'm not in a voice channel here."
    finally:
        await h.close()
