"""More of Kindred's own lines in the reader's language, over the wire (as tests/test_own_lines_localized.py):
the line about text files left out, the web search's daily-cap line and a recurring reminder's missed line,
each in Japanese, Spanish and German, English the control; a reminder's plain line for a person the bot has
no name for; and the days recalled facts are headed under, as the person writes dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from babel.dates import format_date
from sqlalchemy import update

from database.models import User
from database.reminders import reminder_key
from tests.fakes.claude_server import Reply
from tests.fakes.claude_tools import Search
from tests.harness import USER_ID, Harness, MakeHarness, bot_posts
from tests.server_support import answer
from tests.test_e2e_lookup import NEWS
from tests.test_reminders import set_reminder
from tests.test_reminders_recurring import LONDON, at_fake_time, in_london, repeating

# (what the person writes, the line Kindred says) in each language: the message's language picks the line
LEFT_OUT = {
    "ja": ("このメモを全部読んでくれる？",
           "*Finnはファイルの山を見やる。* 一度に読むには多すぎるよ。途中までしか読めなかったから、"
           "notas.txtは後回しにしたね。"),
    "es": ("¿Puedes leer todas estas notas, por favor?",
           "*Finn mira el montón de archivos.* Es mucho para leer de una vez: solo llegué a una parte y dejé "
           "notas.txt para después."),
    "de": ("Kannst du bitte alle diese Notizen lesen?",
           "*Finn beäugt den Stapel Dateien.* Das ist viel auf einmal: Ich bin nur ein Stück weit gekommen "
           "und habe notas.txt für später gelassen."),
    "en": ("Could you read all of these notes, please?",
           "*Finn eyes the pile of files.* That's a lot to read at once: I only got partway, and left "
           "notas.txt for later."),
}

CAPPED = {
    "ja": ("今日のニュースで何か面白いことあった？",
           "*Finnは目をこする。* 今日はもう調べられるだけ調べたよ。また明日聞いてくれる？"),
    "es": ("¿Hay alguna noticia interesante hoy en la ciudad?",
           "*Finn se frota los ojos.* Ya busqué todo lo que podía por hoy. ¿Me lo preguntas otra vez "
           "mañana?"),
    "de": ("Gibt es heute irgendwelche interessanten Nachrichten aus der Stadt?",
           "*Finn reibt sich die Augen.* Für heute habe ich alles nachgeschlagen, was ich konnte. Fragst du "
           "mich morgen noch einmal?"),
    "en": ("Is there any interesting news from the city today?",
           "*Finn rubs their eyes.* I've looked up all I can for today. Ask me again tomorrow?"),
}

# (what to be reminded of, in the language, the missed line's words before it)
MISSED = {
    "ja": ("毎朝の薬を忘れずに飲むこと",
           "aliceさん、リマインドの時間に私がいなかったので、今回は飛ばしたよ："),
    "es": ("tomar las pastillas de la mañana con el desayuno",
           "alice, no estaba cuando llegó la hora de tu recordatorio, así que me lo salté: "),
    "de": ("die Tabletten am Morgen mit dem Frühstück nehmen",
           "alice, ich war nicht da, als deine Erinnerung fällig war, deshalb habe ich sie ausgelassen: "),
    "en": ("take the morning pills with breakfast",
           "alice, I was away when your reminder came due, so I skipped it: "),
}
LANGUAGES = list(LEFT_OUT)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_left_out_files_line_is_in_the_language_of_the_message(make_harness: MakeHarness,
                                                                         language: str) -> None:
    h = await make_harness(max_attachment_tokens="200")
    said, line = LEFT_OUT[language]
    body = "\n".join(f"line {i}: the tide came in over the kelp beds again" for i in range(100))
    notes = h.discord.attachment("notas.txt", content_type="text/plain", data=body.encode())
    h.claude.script("OK!", model="claude-test-default")
    sent = await h.dm(said, attachments=[notes])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == f"{line}\n\nOK!"


@pytest.mark.parametrize("language", LANGUAGES)
async def test_the_search_cap_line_is_in_the_language_of_the_message(make_harness: MakeHarness,
                                                                     language: str) -> None:
    h = await make_harness(reminders_in_dms="false", web_search="dms", web_search_daily_cap_person=0)
    said, line = CAPPED[language]
    h.claude.script(Reply(tools=Search("news", NEWS[:1], answer="Found it.")))
    sent = await h.dm(said)
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == line


async def deliver(h: Harness, reminder_id: int) -> str:
    assert h.bot is not None
    timer = await h.store.timers.get(reminder_key(reminder_id))
    assert timer is not None
    return str(await h.bot.services.timers.handlers["reminder"](timer))


@pytest.mark.parametrize("language", LANGUAGES)
async def test_a_missed_reminders_plain_line_is_in_the_language_it_was_asked_in(make_harness: MakeHarness,
                                                                               language: str) -> None:
    """A daily reminder whose time went by two hours ago, while the model is down: the missed line goes out
    in the language the reminder was asked in."""
    h = await make_harness()
    what, missed = MISSED[language]
    first = (datetime.now(UTC) + timedelta(days=2)).astimezone(LONDON).date()
    now = [datetime(first.year, first.month, first.day, 7, tzinfo=LONDON).astimezone(UTC)]
    at_fake_time(h, now)
    await in_london(h)
    h.claude.script(Reply(tools=repeating(what, f"{first:%Y-%m-%d}T08:00", "FREQ=DAILY")), times=2)
    sent = await h.dm(what)
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(USER_ID)
    before = len(bot_posts(h, dm))
    now[0] += timedelta(hours=3)  # its 08:00 two hours gone: skipped and said
    h.claude.fail_all(500)
    await deliver(h, row.id)
    posts = await h.discord.wait_for(lambda _: bot_posts(h, dm)[before:], what="the missed line")
    assert [p["content"] for p in posts] == [missed + what]
    h.claude.recover()


async def test_a_reminder_for_someone_without_a_name_says_no_english_them(make_harness: MakeHarness) -> None:
    """No name is known for the person (their user row has none): the plain line is the nameless form in
    their language, not "them, me pediste…"."""
    h = await make_harness()
    what = "llamar a mi madre para felicitarla por su cumpleaños"
    h.claude.script(Reply(tools=set_reminder(text=what, in_minutes=1)), times=2)
    sent = await h.dm(f"recuérdame en un minuto {what}")
    dm = int(sent["channel_id"])
    await h.replies(dm)
    [row] = await h.store.reminders.open_for(USER_ID)
    await h.store.db.change(update(User).where(User.id == USER_ID).values(name=""))
    before = len(bot_posts(h, dm))
    h.claude.fail_all(500)
    assert await deliver(h, row.id) == f"reminder {row.id} delivered"
    posts = bot_posts(h, dm)[before:]
    assert [p["content"] for p in posts] == [f"Me pediste que te lo recordara: {what}"]
    h.claude.recover()


def recalled(h: Harness) -> str:
    prompt = h.claude.last_request("claude-test-default").all_text()
    return prompt.split('<recalled_facts about="alice"', 1)[1].split("</recalled_facts>", 1)[0]


@pytest.mark.parametrize(("language", "asked"), [("es", "Oye, ¿dónde vivo yo ahora mismo?"),
                                                 ("ja", "ねえ、私は今どこに住んでいる？"),
                                                 ("de", "Sag mal, wo wohne ich eigentlich gerade?"),
                                                 ("en", "Hey, where do I live these days?")])
async def test_recalled_facts_are_headed_by_day_as_the_person_writes_dates(make_harness: MakeHarness,
                                                                          language: str, asked: str) -> None:
    h = await make_harness()
    assert h.bot is not None
    await h.store.people.ensure_user(USER_ID, "alice")
    embed = h.bot.services.memory.embed
    fact = "Alice vive en Leeds"
    await h.store.facts.add(USER_ID, fact, embedding=await embed(fact), category="personal")
    told = datetime.now(UTC).date()
    h.claude.script("¡En Leeds!", model="claude-test-default")
    sent = await h.dm(asked)
    await h.replies(int(sent["channel_id"]))
    block = recalled(h)
    heading = f"{told.day} {told:%B %Y}" if language == "en" else format_date(told, "long", locale=language)
    assert f"\n{heading}:\n- {fact}" in block, block
    if language != "en":
        assert f"{told.day} {told:%B %Y}" not in block  # no English date over the person's lines



async def test_the_files_left_out_are_listed_as_the_persons_language_lists_them(
        make_harness: MakeHarness) -> None:
    h = await make_harness(max_attachment_tokens="200")
    body = "\n".join(f"línea {i}: la marea subió otra vez sobre las algas" for i in range(100))
    files = [h.discord.attachment(name, content_type="text/plain", data=body.encode())
             for name in ("uno.txt", "dos.txt")]
    h.claude.script("¡Vale!", model="claude-test-default")
    sent = await h.dm("¿Puedes leer todas estas notas, por favor?", attachments=files)
    [reply] = await h.replies(int(sent["channel_id"]))
    assert "dejé uno.txt y dos.txt para después." in reply["content"], reply["content"]


async def test_checkin_answers_in_the_clients_language(harness: Harness) -> None:
    h = harness
    h.discord.set_locale(USER_ID, "ja")
    on = await answer(await h.slash("checkin", [{"type": 1, "name": "on", "options": []}], dm=True))
    assert on == ("7日間あなたから連絡がなかったら、様子をうかがうDMを送るね（返事があるまで1通だけ）。"
                  "`/声かけ オフ`で止められるよ。")  # the commands as a Japanese client lists them
    h.discord.set_locale(USER_ID, "ru")  # the plural form for seven
    on = await answer(await h.slash("checkin", [{"type": 1, "name": "on", "options": []}], dm=True))
    assert on.startswith("Если от тебя не будет вестей 7 дней,")
    h.discord.set_locale(USER_ID, "es-ES")
    off = await answer(await h.slash("checkin", [{"type": 1, "name": "off", "options": []}], dm=True))
    assert off == "Entendido: no te enviaré mensajes de seguimiento. `/saber-de-ti sí` los vuelve a activar."
    h.discord.set_locale(USER_ID, "en-US")
    off = await answer(await h.slash("checkin", [{"type": 1, "name": "off", "options": []}], dm=True))
    assert off == "Understood: no check-in DMs from me. `/checkin on` brings them back."
