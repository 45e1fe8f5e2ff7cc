"""/memory map (its panel and its picture), /memory list's lines, /export_me's count and an admin's /facts
list in the language of the reader's Discord client (the interaction's ``locale``), over the wire: the topics
by their names in that language (the stored keys stay English), dates as the language writes them, counts in
its plural forms. English (en-US) is tests/test_memory_commands.py's, as before."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import update

from database.models import UserFact
from database.records import ConsolidationBatch
from database.threads import NewThread, ThreadChanges
from tests.fakes.discord_lead import panel_texts
from tests.harness import ADMIN_ID, USER2_ID, USER_ID, Harness, ephemeral, panel_text, press
from tests.test_admin_slash import run
from tests.test_export_me import export

SVG = "{http://www.w3.org/2000/svg}"
TOLD = datetime(2026, 3, 2, 9, tzinfo=UTC)
HAPPENED = datetime(2026, 2, 28, 12, tzinfo=UTC)

# The panel's heading, each topic's section (its heading: its lines), the picture's title, a bubble's
# tooltip per fact, its legend line and its two shades' words.
MAP = {
    "de": {
        "heading": "### Was Finn über dich weiß\n3 Fakten in 2 Themen; ×wie oft und wann zuletzt etwas zur "
                   "Sprache kam; 📌 angeheftet, 🔒 nur aus unseren DMs oder privaten Orten. Das Bild unten "
                   "öffnet sich im Browser.",
        "sections": {"**Hobbys** · 2": ["• Alice keeps bees · ×5, heute",
                                        "• Alice sails on Sundays · ×1, vor 3 Tagen"],
                     "**Arbeit** · 1": ["• Alice is a nurse 📌 · ×1, gestern"]},
        "title": "Was Finn über alice weiß",
        "topics": ["Hobbys", "Arbeit"],
        "tips": ["Alice keeps bees\n5-mal erwähnt, zuletzt heute",
                 "Alice sails on Sundays\n1-mal erwähnt, zuletzt vor 3 Tagen",
                 "Alice is a nurse\n1-mal erwähnt, zuletzt gestern, angeheftet"],
        "legend": ["3 Fakten · größer = öfter erwähnt · grüner = vor Kurzem erwähnt · umrandet = angeheftet",
                   "heute", "vor 30+ Tagen"],
        "paged": ("### Was Finn über dich weiß (Seite 2/2)", "**Hobbys** (Fortsetzung) · 14"),
    },
    "ja": {
        "heading": "### Finnがあなたについて覚えていること\n2個のトピックにわたる3件の事実。"
                   "×は話題に出た回数と最後の時期、📌 ピン留め、🔒 DMやプライベートな場所でのみ。"
                   "下の画像はブラウザで開けます。",
        "sections": {"**趣味** · 2": ["• Alice keeps bees · ×5、今日",
                                      "• Alice sails on Sundays · ×1、3日前"],
                     "**仕事** · 1": ["• Alice is a nurse 📌 · ×1、昨日"]},
        "title": "Finnがaliceについて覚えていること",
        "topics": ["趣味", "仕事"],
        "tips": ["Alice keeps bees\n5回話題に、最後は今日", "Alice sails on Sundays\n1回話題に、最後は3日前",
                 "Alice is a nurse\n1回話題に、最後は昨日、ピン留め"],
        "legend": ["事実3件 · 大きいほどよく話題に · 緑が濃いほど最近 · 縁取りはピン留め", "今日",
                   "30日以上前"],
        "paged": ("### Finnがあなたについて覚えていること（2/2ページ）", "**趣味**（続き） · 14"),
    },
}
# English a translated map must not hold (the facts themselves are Alice's own words).
ENGLISH = ["remembers", "facts in", "topics", "today", "yesterday", "days ago", "Hobbies", "Work",
           "mentioned", "pinned", "picture", "continued", "page", "bigger", "Nothing"]


async def mentioned(h: Harness, fact: str, days: int) -> None:
    """``fact`` last came up ``days`` ago."""
    async with h.store.engine.begin() as conn:
        await conn.execute(update(UserFact).where(UserFact.fact == fact)
                           .values(last_mentioned=datetime.now(UTC) - timedelta(days=days, hours=1)))


async def alices_facts(h: Harness) -> None:
    key = h.bot.services.pipeline.character_key
    await h.store.people.ensure_user(USER_ID, "alice")
    bees = await h.store.facts.add(USER_ID, "Alice keeps bees", category="hobbies")
    await h.store.facts.add(USER_ID, "Alice sails on Sundays", category="hobbies")
    await h.store.facts.add(USER_ID, "Alice is a nurse", category="work", pinned=True)
    for _ in range(4):
        await h.store.consolidation.commit_consolidation(
            ConsolidationBatch(key, USER_ID, (), mentioned=((bees, True),)))
    await mentioned(h, "Alice sails on Sundays", 3)
    await mentioned(h, "Alice is a nurse", 1)


def svg_texts(message: dict[str, Any]) -> tuple[str, list[str], list[str], list[str]]:
    """The picture's title, its topics' headings, its bubbles' tooltips and its legend's words."""
    [attachment] = message["attachments"]
    root = ET.fromstring(attachment["_data"])
    title = root.get("aria-label") or ""
    topics = [(g.find(f"{SVG}text").text or "").strip()  # type: ignore[union-attr]
              for g in root.findall(f".//{SVG}g[@class='category']")]
    tips = [g.find(f"{SVG}title").text or "" for g in root.findall(f".//{SVG}g[@class='fact']")]  # type: ignore[union-attr]
    legend = [t.text or "" for t in root.findall(f"{SVG}text[@class='legend']")]
    heading = [t.text or "" for t in root.findall(f"{SVG}text[@class='heading']")]
    assert heading == [title]
    return title, topics, tips, legend


async def test_memory_map_speaks_the_clients_language(harness: Harness) -> None:
    h = harness
    await alices_facts(h)
    for locale, said in MAP.items():
        h.discord.set_locale(USER_ID, locale)
        message = await ephemeral(await h.slash("memory", [{"type": 1, "name": "map", "options": []}]))
        texts = panel_texts(message)
        assert texts[0] == said["heading"], texts[0]
        sections = {t.partition("\n")[0]: t.splitlines()[1:] for t in texts[1:]}
        assert sections == said["sections"]
        title, topics, tips, legend = svg_texts(message)
        assert (title, topics, tips, legend) == (said["title"], said["topics"], said["tips"], said["legend"])
        everything = "\n".join([*texts, title, *topics, *tips, *legend])
        assert [word for word in ENGLISH if word in everything] == [], everything


async def test_memory_map_pages_in_the_clients_language(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    for i in range(14):  # one topic past a page: its section goes on on the next
        await h.store.facts.add(USER_ID, f"Alice fact {i:02d}", category="hobbies")
    await h.store.facts.add(USER_ID, "Alice is a nurse", category="work")
    for locale, said in MAP.items():
        h.discord.set_locale(USER_ID, locale)
        message = await ephemeral(await h.slash("memory", [{"type": 1, "name": "map", "options": []}]))
        await (await press(h, message, "next")).response()
        heading, continued = said["paged"]
        texts = panel_texts(message)
        assert texts[0].startswith(heading + "\n"), texts[0]
        assert texts[1].startswith(continued + "\n"), texts[1]


# A fact told on 2 March 2026 about 28 February, lasting; an undated thread said today.
LIST = {
    "de": ("[Hobbys] Alice ran the Leeds half marathon · erzählt am 02.03.2026, geschehen am 28.02.2026 und "
           "dauerhaft · ×1, heute", "fällig am {day}"),
    "ja": ("[趣味] Alice ran the Leeds half marathon · 2026/03/02に聞いた、2026/02/28の出来事、継続的 "
           "· ×1、今日", "期限 {day}"),
}


async def test_memory_list_lines_speak_the_clients_language(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice ran the Leeds half marathon", category="hobbies", lasting=True,
                            said_at=TOLD, happened_at=HAPPENED)
    due = datetime.now(UTC) + timedelta(days=20)
    await h.store.threads.apply(USER_ID, ThreadChanges((NewThread("Alice's exam", due, datetime.now(UTC),
                                                                  False),)))
    for locale, (line, thread) in LIST.items():
        h.discord.set_locale(USER_ID, locale)
        listing = panel_text(await ephemeral(await h.slash("memory", [{"type": 1, "name": "list",
                                                                       "options": []}])))
        assert f"**1.** {line}" in listing.splitlines(), listing
        # The thread's day as the language writes it.
        day = format_date(due.date(), "medium", locale=locale)
        assert f"**⏳** Alice's exam · {thread.format(day=day)}" in listing.splitlines(), listing
        assert f"{due:%Y-%m-%d}" not in listing and "told" not in listing and "today" not in listing


async def test_export_me_counts_in_the_clients_plural_forms(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice keeps bees", category="hobbies")
    await h.store.people.ensure_user(USER2_ID, "bob")
    h.discord.set_locale(USER_ID, "de")
    h.discord.set_locale(USER2_ID, "ja")
    assert (await export(h, USER_ID))["content"] == (
        "Alles, was Finn über dich gespeichert hat: 2 Einträge aus 2 Bereichen, in dieser Datei (nur du "
        "siehst diese Nachricht). `/vergiss_mich` löscht alles.")
    assert (await export(h, USER2_ID))["content"] == (
        "Finnがあなたについて保存しているすべて：1種類・1件の記録をこのファイルにまとめました（このメッセージはあなたにしか"
        "見えません）。`/私を忘れて` ですべて削除できます。")


async def test_an_admins_facts_list_dates_in_their_language(harness: Harness) -> None:
    h = harness
    await h.store.people.ensure_user(USER_ID, "alice")
    await h.store.facts.add(USER_ID, "Alice ran the Leeds half marathon", category="hobbies", lasting=True,
                            said_at=TOLD, happened_at=HAPPENED)
    told = {"de": "(erzählt am 02.03.2026, geschehen am 28.02.2026 und dauerhaft)",
            "ja": "(2026/03/02に聞いた、2026/02/28の出来事、継続的)"}
    for locale, label in told.items():
        h.discord.set_locale(ADMIN_ID, locale)
        listing = await run(h, "facts", "list", user=str(USER_ID))
        assert label in listing, listing
