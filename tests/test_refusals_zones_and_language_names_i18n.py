"""Kindred's own lines in the person's language (never English, never another person's), over the wire, in
German and Japanese: an unknown time zone and a place task's refused rule; the limit line to a short message
("ok?") from someone who writes German or Japanese; /voice join and /voice leave refused; /settings set
language by a language's own name or code (and a value that names none refused); a ticket closed by someone
whose client is English, said in its opener's language; the /timezone and /reminders autocompletes."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date, format_time

from bot.features.reminders.book import ReminderBook
from tests.fakes.claude_server import Reply
from tests.fakes.discord_components import walk_components
from tests.harness import (
    ADMIN_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER2_ID,
    USER_ID,
    Harness,
    MakeHarness,
    dm_reply,
    ephemeral,
    eventually,
)
from tests.server_support import answer, sub
from tests.test_place_tasks import tasks
from tests.test_reminders import asking, set_reminder
from tests.test_tickets import panel_of, setup_staff, threads, ticket
from tests.test_voice_calls import voice_command
from tests.voice_support import VOICE_ID, voice_harness

LANGUAGES = ["de", "ja"]
REPLY_MODEL = "claude-test-default"


def command(name: str, value: str) -> list[dict[str, Any]]:
    return [{"type": 1, "name": name, "options": [{"type": 3, "name": "zone", "value": value}]}]


# --------------------------------------------------------------------------- an unknown time zone, a rule

UNKNOWN_ZONE = {
    "de": "Diese Zeitzone kenne ich nicht: `Mars/Base`. Gib eine IANA-Zeitzone an, etwa Europe/Berlin "
          "oder UTC.",
    "ja": "そのタイムゾーンはわかりません：`Mars/Base`。Asia/Tokyo や UTC のような IANA の"
          "タイムゾーンを指定してください。",
}
TASK_ZONE = {
    "de": "Nicht angelegt: Die Zeitzone `Mars/Base` kenne ich nicht (gib eine IANA-Zeitzone an, etwa "
          "Europe/Berlin oder UTC).",
    "ja": "設定できませんでした：タイムゾーン `Mars/Base` はわかりません（Asia/Tokyo や UTC のような IANA の"
          "タイムゾーンを指定してください）。",
}
TASK_RULE = {
    "de": "Nicht angelegt: Termine im Abstand von 30 Minuten liegen zu dicht beieinander: mindestens "
          "60 Minuten Abstand.",
    "ja": "設定できませんでした：間隔が30分では近すぎます。少なくとも60分空けてください。",
}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_unknown_time_zone_and_a_refused_rule_are_said_in_their_language(
        make_harness: MakeHarness, language: str) -> None:
    h = await make_harness()
    h.discord.set_locale(USER_ID, language)
    h.discord.set_locale(ADMIN_ID, language)
    timezone = await ephemeral(await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Mars/Base"}],
                                             dm=True))
    assert timezone["content"] == UNKNOWN_ZONE[language]
    memory = await answer(await h.slash("memory", command("timezone", "Mars/Base")))
    assert memory == UNKNOWN_ZONE[language]
    assert await h.store.reminders.zone_of(USER_ID) == ""
    # a place task's zone and rule, refused to the admin who set it
    assert await tasks(h, "add", {"what": "post a riddle", "time": "09:00", "zone": "Mars/Base"}) == \
        TASK_ZONE[language]
    assert await tasks(h, "add", {"what": "say hi", "time": "09:00", "repeat": "FREQ=MINUTELY;INTERVAL=30"}) \
        == TASK_RULE[language]
    assert await h.store.reminders.tasks_of(GUILD_ID) == []


# --------------------------------------------------------------------------- the limit line

WRITES = {
    "de": ("Hallo Finn, wie geht es dir heute? Ich habe gerade frischen Kaffee gekocht.",
           "Weißt du schon, was wir am Wochenende zusammen unternehmen könnten?"),
    "ja": ("こんにちは、今日はどんな一日だった？私はさっきコーヒーを淹れたところだよ。",
           "週末に何をしようか、一緒に考えてくれる？"),
}
LIMITED = {
    "de": "*Finn unterdrückt ein Gähnen.* Ich habe mich für heute leer geredet. Lass uns in einer Minute "
          "weitermachen.",
    "ja": "*Finnはあくびをかみ殺す。* 今はもう話し疲れちゃった。1分後にまた続きを話そう。",
}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_limit_line_to_a_message_that_tells_no_language_is_in_the_one_they_write(
        make_harness: MakeHarness, language: str) -> None:
    h = await make_harness(user_messages_per_minute=2)
    for n, text in enumerate(WRITES[language], 1):
        h.claude.script(f"Answer {n}.", model=REPLY_MODEL)
        assert await dm_reply(h, text, n) == f"Answer {n}."
    assert h.bot is not None
    memory = h.bot.services.memory
    await eventually(lambda: _writes(memory, language), "their writing profile's language")
    # "ok?" tells no language: the line is in the one they write, not English
    assert await dm_reply(h, "ok?", 3) == LIMITED[language]


async def _writes(memory: Any, language: str) -> bool:
    return bool(await memory.written_language(USER_ID) == language)


# --------------------------------------------------------------------------- /voice join and leave refused

NOT_TAKING = {"de": "Hier nehme ich keine Anfragen von dir an.",
              "ja": "ここではあなたからのリクエストは受け付けていません。"}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_voice_join_and_leave_refused_are_said_in_the_callers_language(
        db_url: str, tmp_path: Path, language: str) -> None:
    h = await voice_harness(db_url, tmp_path, dave=True, stt_backend="openai", voice_channels="true",
                            blocked_users=str(USER2_ID))
    try:
        h.discord.set_locale(USER2_ID, language)
        await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER2_ID)
        assert await voice_command(h, "join", user=USER2_ID) == NOT_TAKING[language]
        await h.discord.member_joins_voice(GUILD_ID, VOICE_ID, USER_ID)
        assert await voice_command(h, "join") == "I'm in your voice channel, listening."  # en-US: as before
        assert await voice_command(h, "leave", user=USER2_ID) == NOT_TAKING[language]
    finally:
        await h.close()


# --------------------------------------------------------------------------- /settings set language

NOTED = {"de": "*Finn macht sich eine Notiz.* Hier ist language jetzt **{value}**.",
         "ja": "*Finnはメモを取る。* ここでは language は **{value}** になりました。"}
# each value typed, as it is kept, and as the admin is shown it
SET = {
    "Deutsch": ("de", {"de": "Deutsch", "ja": "ドイツ語"}),
    "日本語": ("ja", {"de": "Japanisch", "ja": "日本語"}),
    "pt-BR": ("pt-BR", {"de": "Portugiesisch (Brasilien)", "ja": "ポルトガル語 (ブラジル)"}),
}
NONSENSE = {
    "de": "language muss eine Sprache nennen, mit ihrem Namen in einer beliebigen Sprache oder ihrem Code "
          "(etwa Deutsch, German, 日本語 oder pt-BR), nicht 'Blorpish'.\n"
          "-# language: Sprache, in der die Figur hier antwortet (z. B. Deutsch)",
    "ja": "language には言語を指定してください。どの言語での名前でも、コードでも構いません"
          "（例：日本語、German、Deutsch、pt-BR）。'Blorpish' は使えません。\n"
          "-# language: キャラクターがここで答える言語（例：日本語）",
}
PROMPTED = {"de": "German", "ja": "Japanese", "pt-BR": "Portuguese (Brazil)"}


async def setting(h: Harness, value: str) -> str:
    return await answer(await h.slash("settings", sub("set", key="language", value=value), user=ADMIN_ID))


async def offered(h: Harness, typed: str) -> list[tuple[str, str]]:
    options = sub("set", key="language")
    options[0]["options"].append({"name": "value", "type": 3, "value": typed, "focused": True})
    ix = await h.discord.interaction_autocomplete("settings", options, user_id=ADMIN_ID,
                                                  channel_id=CHANNEL_ID, guild_id=GUILD_ID)
    return [(c["name"], c["value"]) for c in (await ix.response())["choices"]]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_settings_language_takes_a_languages_own_name_or_code_and_refuses_nonsense(
        harness: Harness, language: str) -> None:
    h = harness
    h.discord.set_locale(ADMIN_ID, language)
    for value, (kept, shown) in SET.items():
        assert await setting(h, value) == NOTED[language].format(value=shown[language])
        assert (await h.store.servers.get(GUILD_ID, fresh=True)).language == kept
        # and it does what it says: the reply prompt names the language
        h.claude.script("Hallo!", model=REPLY_MODEL)
        await h.say("hi!", mention=True)
        name = PROMPTED[kept]
        await h.discord.wait_for(lambda _, name=name: _prompted(h, name), what="the reply's language hint")
    # a value that names no language is refused, and nothing is kept
    assert await setting(h, "Blorpish") == NONSENSE[language]
    assert (await h.store.servers.get(GUILD_ID, fresh=True)).language == "pt-BR"
    # the autocomplete offers each language by its own name, found by its name in the admin's language
    typed = {"de": "japan", "ja": "ドイツ"}[language]
    found = {"de": ("日本語 (Japanisch)", "ja"), "ja": ("Deutsch (ドイツ語)", "de")}[language]
    assert await offered(h, typed) == [found]
    if language == "de":  # its own name is the admin's: said once
        assert ("Deutsch", "de") in await offered(h, "")


def _prompted(h: Harness, name: str) -> bool:
    hint = f"[Language: people in this server speak {name}. Answer in {name} unless"
    return any(hint in h.claude.all_text(r) for r in h.claude.requests if r.model == REPLY_MODEL)


# --------------------------------------------------------------------------- a ticket closed

CLOSED = {
    "de": ("*Finn macht das Licht aus.* <@{closer}> hat das Ticket geschlossen; das Protokoll ist "
           "archiviert.",
           "🔒 Geschlossen <t:", "### 🎫 Ticket Nr. 1"),
    "ja": ("*Finnは明かりを消す。* <@{closer}>がチケットを閉じました。記録は保存されています。",
           "が終了 · ", "### 🎫 チケット #1"),
}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_ticket_closed_by_an_english_client_stays_in_its_openers_language(
        harness: Harness, language: str) -> None:
    h = harness
    d = h.discord
    staff = await setup_staff(h)
    await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", staff))
    d.set_locale(USER_ID, language)  # the opener
    d.set_locale(USER2_ID, "en-US")  # the staff member who closes it
    await ticket(h, "open", topic="my shell is stuck")
    [thread] = threads(h)
    tid = int(thread["id"])
    [opening] = d.posted(tid)
    [close] = [c["custom_id"] for c in walk_components(opening["components"]) if c["type"] == 2]
    closing = await h.click(opening, close, user=USER2_ID)
    assert await answer(closing) == "Closed. The transcript is archived."  # the closer's own: English
    line, status, title = CLOSED[language]
    assert any(m["content"] == line.format(closer=USER2_ID) for m in d.posted(tid)), d.posted(tid)
    shown = panel_of(h, opening)
    assert status in shown and title in shown, shown
    assert "Closed" not in shown and "Opened by" not in shown


# --------------------------------------------------------------------------- the autocompletes

FROM_WHAT_YOU_SAID = {"de": "Asia/Tokyo (nach dem, was du mir erzählt hast)",
                      "ja": "Asia/Tokyo（あなたの話から）"}


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_timezone_and_reminders_autocompletes_speak_their_language_and_time(
        make_harness: MakeHarness, language: str) -> None:
    h = await make_harness()
    assert h.bot is not None
    h.discord.set_locale(USER_ID, language)
    h.bot.services.part(ReminderBook).propose(asking(), "Asia/Tokyo", None)
    ix = await h.discord.interaction_autocomplete(
        "timezone", [{"name": "zone", "type": 3, "value": "tokyo", "focused": True}], user_id=USER_ID,
        channel_id=None, guild_id=None)
    await ix.response()
    first = ix.callbacks[0]["choices"][0]
    assert (first["name"], first["value"]) == (FROM_WHAT_YOU_SAID[language], "Asia/Tokyo")

    await ephemeral(await h.slash("timezone", [{"name": "zone", "type": 3, "value": "Europe/Berlin"}],
                                  dm=True))
    h.claude.script(Reply(tools=set_reminder(in_minutes=90)), times=2)
    sent = await h.dm("remind me in 90 minutes to stretch")
    await h.replies(int(sent["channel_id"]))
    [row] = await h.store.reminders.open_for(USER_ID)
    ix = await h.discord.interaction_autocomplete(
        "reminders", [{"name": "cancel", "type": 4, "value": "", "focused": True}], user_id=USER_ID,
        channel_id=None, guild_id=None)
    await ix.response()
    [choice] = ix.callbacks[0]["choices"]
    local = row.due_at.replace(tzinfo=row.due_at.tzinfo or UTC).astimezone(ZoneInfo("Europe/Berlin"))
    when = f"{format_date(local, 'medium', locale=language)}{', ' if language == 'de' else ' '}" \
           f"{format_time(local, 'short', locale=language)}"
    assert choice["name"] == f"#{row.id} {when} · stretch", choice["name"]
    assert "UTC" not in choice["name"]
