"""/poll over the wire: buttons with live counts, one changeable vote each, results with a PNG bar chart at
the closing time, bad input refused with nothing left behind, and polls surviving a restart (their buttons
and their closing timers)."""

from __future__ import annotations

import re
import string
import struct
import time
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.core.durations import BadInput
from bot.core.locales import SPOKEN
from bot.discord.panels import MAX_COMPONENTS, MAX_TEXT
from bot.discord.ui import MESSAGE_LIMIT
from bot.features.polls import Poll, PollLifecycle, PollRecord, Polls
from bot.features.polls.charts import (
    FONT,
    GLYPH_H,
    GLYPH_W,
    PAD,
    ROW_H,
    TEXT,
    TITLE_H,
    WINNER,
    labels_drawn,
    render_bar_chart,
)
from bot.features.polls.lifecycle import (
    MAX_OPTIONS,
    OPTION_MAX_CHARS,
    QUESTION_MAX_CHARS,
    parse_poll,
    result_lines,
)
from bot.features.polls.results import results_message
from cogs.polls import poll_buttons, poll_panel
from database.alive_models import ScheduledJob
from tests.dbtools import open_polls, timers_of_kind
from tests.fakes.discord_components import V2_FLAG, refuse_components, walk_components
from tests.fakes.discord_lead import panel_texts
from tests.harness import ADMIN_ID, CHANNEL_ID, GUILD_ID, USER2_ID, USER_ID, Harness, eventually
from tests.server_support import answer, opts


def button_ids(message: dict[str, Any]) -> list[str]:
    """The vote buttons, wherever the poll's panel nests them."""
    return [c["custom_id"] for c in walk_components(message.get("components") or []) if c["type"] == 2]


def shown(h: Harness, message: dict[str, Any]) -> str:
    """What the poll's panel says now (its text displays)."""
    current = h.discord.messages[int(message["id"])]
    assert current["flags"] & V2_FLAG and not current["content"] and not current["embeds"]
    return "\n".join(panel_texts(current))


async def start_poll(h: Harness, question: str, options: str, duration: str | None = None) -> dict[str, Any]:
    ix = await h.slash("poll", opts(question=question, options=options, duration=duration), user=USER_ID)
    message = await ix.message()
    assert not message["flags"] & 64  # a poll is for everyone to see
    return message


async def vote(h: Harness, message: dict[str, Any], option: int, user: int) -> str:
    ix = await h.click(message, button_ids(message)[option], user=user)
    response = await ix.response()
    assert response["type"] == 7  # the poll message itself is updated: the live counts
    return (await ix.followup())["content"]


def rows(h: Harness) -> Polls:
    """The polls' repository the running feature reads and writes."""
    return h.bot.services.part(PollLifecycle).polls


async def _with_message(h: Harness, poll_id: int) -> Any:
    poll = await rows(h).get(poll_id)
    return poll if poll is not None and poll.message_id is not None else None


def results(h: Harness) -> list[dict[str, Any]]:
    return [m for m in h.discord.posted(CHANNEL_ID) if m.get("attachments")]


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw RGB rows with their filter bytes) of an 8-bit RGB PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        assert (
            zlib.crc32(kind + chunk) & 0xFFFFFFFF
            == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        )
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert (depth, color) == (8, 2)
            size = (width, height)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return size[0], size[1], zlib.decompress(idat)


_GLYPHS = {glyph: ch for ch, glyph in FONT.items()}


def lit_pixels(png: bytes, color: tuple[int, int, int] = TEXT) -> tuple[int, int, set[tuple[int, int]]]:
    width, height, raw = decode_png(png)
    stride = width * 3 + 1
    return width, height, {(x, y) for y in range(height) for x in range(width)
                           if tuple(raw[y * stride + 1 + x * 3 : y * stride + 4 + x * 3]) == color}


def drawn_text(png: bytes, x: int, y: int, cells: int, scale: int = 2) -> str:
    """The chart's text from x, y (its top-left) as drawn: ``cells`` 5x7 cells read back into the font's
    letters (bot/features/polls/charts.py draws one every 6 units, ``scale`` pixels a unit)."""
    _, _, lit = lit_pixels(png)
    read = []
    for cell in range(cells):
        left = x + cell * (GLYPH_W + 1) * scale
        glyph = bytes(sum(1 << row for row in range(GLYPH_H) if (left + col * scale, y + row * scale) in lit)
                      for col in range(GLYPH_W))
        read.append(_GLYPHS.get(glyph, "\ufffd"))
    return "".join(read).rstrip()


def question_marks(png: bytes, scale: int = 2) -> int:
    """How many "?" the chart draws, wherever they are (a 5x7 cell lit exactly as the font's "?")."""
    _, _, lit = lit_pixels(png)
    bits = FONT["?"]
    c0, r0 = next((col, row) for col in range(GLYPH_W) for row in range(GLYPH_H) if bits[col] >> row & 1)
    corners = {(x - c0 * scale, y - r0 * scale) for x, y in lit}
    matches = sum(all(((x + col * scale, y + row * scale) in lit) == bool(bits[col] >> row & 1)
                      for col in range(GLYPH_W) for row in range(GLYPH_H)) for x, y in corners)
    return matches // scale**2  # each drawn unit is scale x scale pixels: a glyph matches at each of them


def labels(png: bytes, count: int, *, title: bool) -> list[str]:
    """Each bar's label as drawn, from the top of the chart's rows (under the question where it is drawn)."""
    top = PAD + (TITLE_H if title else 0)
    return [drawn_text(png, PAD, top + i * ROW_H + 2, 14) for i in range(count)]


# A poll in words the chart's ASCII font cannot draw (its question, options; its results message's list)
UNDRAWN = {
    "ja": ("好きなおやつは？", ("昆布", "オキアミ", "プランクトン"),
           "*Finnは票を数える。* 投票「**好きなおやつは？**」は締め切られました："
           "**オキアミ**の勝ち（3票）。"),
    "ru": ("Любимая закуска?", ("Ламинария", "Криль", "Планктон"),
           "*Finn считает голоса.* Опрос **Любимая закуска?** завершён: Побеждает **Криль** (3 голоса)."),
}
KEYS = {"ja": "\n\n**1.** 昆布\n**2.** オキアミ\n**3.** プランクトン",
        "ru": "\n\n**1.** Ламинария\n**2.** Криль\n**3.** Планктон"}


@pytest.mark.parametrize("language", ["ja", "ru"])
def test_a_chart_its_font_cannot_label_numbers_its_bars_and_its_message_lists_them(language: str) -> None:
    """No "?" where a label or the question was: the bars carry their numbers, the question is left off, and
    the message posted with the chart lists the options by those numbers in the poll's words."""
    question, options, said = UNDRAWN[language]
    counts = [0, 3, 0]
    png = render_bar_chart(question, options, counts, language)
    assert question_marks(png) == 0
    assert labels(png, 3, title=False) == ["1", "2", "3"]
    _, height, _ = decode_png(png)
    assert height == PAD * 2 + ROW_H * 3 + 18  # no band for a question it cannot draw
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, question, options, datetime.now(UTC), True)
    assert results_message("Finn", poll, counts, language, limit=MESSAGE_LIMIT) == said + KEYS[language]


def test_a_chart_its_font_draws_is_labelled_in_words_as_before() -> None:
    png = render_bar_chart("Snack?", ["Kelp", "Krill"], [1, 3])
    assert drawn_text(png, PAD, PAD, 16) == "SNACK?"
    assert labels(png, 2, title=True) == ["1 KELP", "2 KRILL"]
    assert question_marks(png) == 1  # the question's own
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "Snack?", ("Kelp", "Krill"), datetime.now(UTC),
                      True)
    assert results_message("Finn", poll, [1, 3], limit=MESSAGE_LIMIT) == (
        "*Finn counts the votes.* The poll **Snack?** has closed: **Krill** wins (4 votes).")


def test_one_option_the_font_cannot_draw_numbers_every_bar() -> None:
    """All or none: a bar with words beside bars with a number alone reads as if the others were missing."""
    png = render_bar_chart("Drink?", ["Tea", "Чай"], [2, 1], "en")
    assert labels(png, 2, title=True) == ["1", "2"] and question_marks(png) == 1  # the question's own
    assert labels_drawn(["Tea", "Coffee"]) and not labels_drawn(["Tea", "Чай"])
    assert labels_drawn([string.printable.strip()])  # all of ASCII is drawn: "$5", "[x]", "~2" stay words
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "Drink?", ("Tea", "Чай"), datetime.now(UTC),
                      True)
    assert results_message("Finn", poll, [2, 1], limit=MESSAGE_LIMIT).endswith(
        "(3 votes).\n\n**1.** Tea\n**2.** Чай")


def test_the_bar_chart_is_a_real_png_with_the_leader_drawn_longest() -> None:
    png = render_bar_chart("Snack?", ["Kelp", "Krill"], [1, 3])
    width, height, raw = decode_png(png)
    assert width == 640 and len(raw) == height * (width * 3 + 1)

    def pixel(x: int, y: int) -> tuple[int, ...]:
        start = y * (width * 3 + 1) + 1 + x * 3
        return tuple(raw[start : start + 3])

    # the middle of each bar (see bot/features/polls/charts.py)
    row_y = [16 + 36 + i * 30 + 9 for i in range(2)]
    bar_end = 640 - 16 - 110 - 1
    assert pixel(bar_end, row_y[1]) == WINNER  # krill leads: its bar is full length, in green
    assert pixel(bar_end, row_y[0]) != WINNER  # kelp's bar stops a third of the way


def test_poll_input_rules() -> None:
    assert parse_poll("Tea?", "Green | Black ; Mint", "2h").options == ["Green", "Black", "Mint"]
    for question, options, duration, problem in [
        ("Tea?", "Green", None, "at least 2 options"),
        ("Tea?", " | ".join(f"t{i}" for i in range(26)), None, "at most 25 options (you gave 26)"),
        ("Tea?", "a | b", "forever", "I don't understand the poll duration 'forever'"),
        ("Tea?", "a | b", "31d", "too long: at most 30 days"),
        ("Tea?", "a | A", None, "Two options are the same"),
        ("  ", "a | b", None, "needs a question"),
    ]:
        with pytest.raises(BadInput, match=re.escape(problem)):
            parse_poll(question, options, duration)


async def test_bad_polls_get_one_line_and_leave_nothing(harness: Harness) -> None:
    h = harness
    for options, duration, expected in [
        ("Tea", None, "A poll needs at least 2 options, separated by | (you gave 1)."),
        (
            " | ".join(f"option {i}" for i in range(26)),
            None,
            "A poll can have at most 25 options (you gave 26).",
        ),
        (
            "Tea | Coffee",
            "someday",
            "I don't understand the poll duration 'someday': use a number and a unit, like 10m, 2h or 7d.",
        ),
    ]:
        ix = await h.slash("poll", opts(question="Drink?", options=options, duration=duration))
        assert await answer(ix) == expected
    assert await open_polls(h.store) == []
    assert h.discord.posted(CHANNEL_ID) == []


async def test_a_poll_whose_message_fails_leaves_no_row(harness: Harness) -> None:
    h = harness
    h.discord.fail_next("POST /interactions/*", 404, 10062, "Unknown interaction")
    ix = await h.slash("poll", opts(question="Drink?", options="Tea | Coffee"))
    await h.discord.wait_for(
        lambda d: d.requests and any("/interactions/" in r.path for r in d.requests[1:]),
        what="the failed poll answer",
    )
    assert "went wrong" in await answer(ix)  # the apology, after the failed first answer
    assert await open_polls(h.store) == []
    assert await timers_of_kind(h.store, "poll") == []  # no closing timer either


async def test_votes_count_live_change_and_close_with_a_chart(harness: Harness) -> None:
    h = harness
    # Open long enough for every vote however slow the machine; closed by its timer once they are in.
    message = await start_poll(h, "Best snack?", "Kelp | Plankton | Krill", "10m")
    ids = button_ids(message)
    assert len(ids) == 3 and "### 📊 Best snack?" in shown(h, message)
    assert f"Poll by <@{USER_ID}>" in shown(h, message) and "**0 votes** · Closes <t:" in shown(h, message)
    [poll] = await eventually(lambda: open_polls(h.store), "the poll row")
    poll = await eventually(lambda: _with_message(h, poll.id), "the poll's message id")
    assert poll.message_id == int(message["id"]) and poll.options == ("Kelp", "Plankton", "Krill")

    assert await vote(h, message, 0, USER_ID) == "You voted for **Kelp**. Press another option to change it."
    assert "1 vote (100%)" in shown(h, message)
    assert (
        await vote(h, message, 1, USER2_ID)
        == "You voted for **Plankton**. Press another option to change it."
    )
    assert await vote(h, message, 1, USER_ID) == "Your vote moved to **Plankton**."
    assert await vote(h, message, 1, USER_ID) == "You already voted for **Plankton**."
    assert await rows(h).counts(poll.id) == {1: 2}  # one vote per person
    live = shown(h, message)
    assert "2 votes (100%)" in live and "**2 votes** · Closes <t:" in live and "0 votes (0%)" in live

    # its closing time now
    await h.bot.services.part(PollLifecycle).arm(replace(poll, closes_at=datetime.now(UTC)))
    [posted] = await h.discord.wait_for(lambda d: results(h), what="the poll results")
    assert posted["content"] == (
        "*Finn counts the votes.* The poll **Best snack?** has closed: **Plankton** wins (2 votes)."
    )
    [chart] = posted["attachments"]
    assert chart["filename"] == f"poll-{poll.id}.png"
    png = h.discord.messages[int(posted["id"])]["attachments"][0]["_data"]
    width, _, _ = decode_png(png)
    assert width == 640
    # words its font draws: the question and each bar's label drawn, as the panel numbers them
    assert drawn_text(png, PAD, PAD, 16) == "BEST SNACK?"
    assert labels(png, 3, title=True) == ["1 KELP", "2 PLANKTON", "3 KRILL"]
    assert posted["embeds"] == [] and not posted["flags"] & V2_FLAG  # the character's words, plain
    closed = h.discord.messages[int(message["id"])]
    assert "**2 votes** · Closed <t:" in shown(h, message) and "This poll has closed." in shown(h, message)
    assert (await rows(h).get(poll.id)).closed

    assert await rows(h).counts(poll.id) == {1: 2}
    assert ids and not button_ids(closed)

    # A click that lands after the poll closed in the database, before its buttons were retired, is refused.
    other = await start_poll(h, "Second?", "Yes | No", "10m")
    [row] = await eventually(lambda: open_polls(h.store), "the second poll")
    assert await rows(h).close(row.id)
    ix = await h.click(other, button_ids(other)[0], user=USER2_ID)
    assert await answer(ix) == "This poll has closed; votes are no longer counted."
    assert await rows(h).counts(row.id) == {}


@pytest.mark.parametrize(("language", "locale"), [("ja", "ja"), ("ru", "ru")])
async def test_a_poll_in_words_the_chart_cannot_draw_gets_numbered_bars_and_its_options_by_number(
        harness: Harness, language: str, locale: str) -> None:
    """Over the wire: the chart posted at close has no "?" for the poll's words, its bars carry the numbers
    the poll's panel shows, and the message posted with it lists the options by them in the poll's words."""
    h = harness
    h.discord.set_locale(USER_ID, locale)
    question, options, said = UNDRAWN[language]
    message = await start_poll(h, question, " | ".join(options), "10m")
    assert f"**2.** {options[1]}" in shown(h, message)  # the panel's numbers, the chart's
    [poll] = await eventually(lambda: open_polls(h.store), "the poll row")
    poll = await eventually(lambda: _with_message(h, poll.id), "the poll's message id")
    for voter in (USER_ID, USER2_ID, ADMIN_ID):
        await vote(h, message, 1, voter)
    await eventually(lambda: timers_of_kind(h.store, "poll"), "the poll's closing timer")
    assert h.bot is not None
    await h.bot.services.part(PollLifecycle).arm(replace(poll, closes_at=datetime.now(UTC)), language)
    [posted] = await h.discord.wait_for(lambda d: results(h), what="the poll results")
    png = h.discord.messages[int(posted["id"])]["attachments"][0]["_data"]
    assert question_marks(png) == 0 and labels(png, 3, title=False) == ["1", "2", "3"]
    assert posted["content"] == said + KEYS[language]


async def test_polls_survive_a_restart(harness: Harness) -> None:
    h = harness
    long_poll = await start_poll(h, "Picnic day?", "Saturday | Sunday", "10m")
    short_poll = await start_poll(h, "Bring crabs?", "Yes | No", "10m")
    await vote(h, long_poll, 0, USER_ID)
    await vote(h, short_poll, 1, USER_ID)
    await h.stop_bot()
    # While the bot is down the short poll comes due (a closing time set in the row, not a wait the
    # restart's own length could outrun on a loaded machine).
    short_id = int(button_ids(short_poll)[0].split(":")[1])
    soon = datetime.now(UTC) + timedelta(seconds=1)
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Poll).where(Poll.id == short_id).values(closes_at=soon))
        # Its closing timer, a row of its own.
        await conn.execute(update(ScheduledJob).where(ScheduledJob.name == f"poll:{short_id}")
                           .values(next_due=soon))
    restarted_at = time.perf_counter()
    await h.start_bot()

    # The buttons of a poll posted before the restart still count votes (and update the message).
    assert (
        await vote(h, long_poll, 1, USER2_ID)
        == "You voted for **Sunday**. Press another option to change it."
    )
    long_id = int(button_ids(h.discord.messages[int(long_poll["id"])])[0].split(":")[1])
    assert await rows(h).counts(long_id) == {0: 1, 1: 1}
    # The short poll closes from its timer's row after the restart, once.
    [posted] = await h.discord.wait_for(lambda d: results(h), what="the short poll's results")
    assert posted["_at"] > restarted_at and "**No** wins (1 vote)" in posted["content"]

    async def settled() -> bool:
        return {r.key for r in await timers_of_kind(h.store, "poll")} == {f"poll:{long_id}"}

    await eventually(settled, "the closed poll's timer to retire")
    assert len(results(h)) == 1
    assert GUILD_ID == (await rows(h).get(long_id)).guild_id


def long_options(n: int, width: int) -> list[str]:
    return [f"option {i:02d} " + "x" * (width - 10) for i in range(n)]


def panel_body(poll: PollRecord, counts: list[int], *, buttons: int) -> dict[str, Any]:
    view = poll_panel(poll, counts, buttons=poll_buttons(poll.id, poll.options)[:buttons])
    return {"flags": V2_FLAG, "components": view.to_components()}


def test_the_panel_of_the_largest_poll_keeps_within_v2_limits_and_shows_every_option() -> None:
    options = long_options(MAX_OPTIONS, OPTION_MAX_CHARS)
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "q" * QUESTION_MAX_CHARS, tuple(options),
                      datetime.now(UTC), False)
    counts = [10**9 + i for i in range(MAX_OPTIONS)]  # wide numbers in every line
    body = panel_body(poll, counts, buttons=MAX_OPTIONS)
    every = walk_components(body["components"])
    assert refuse_components(body) is None
    text = "\n".join(c["content"] for c in every if c["type"] == 10)
    assert len(every) <= MAX_COMPONENTS and len(text) <= MAX_TEXT
    assert len(button_ids(body)) == MAX_OPTIONS  # a button for each option
    assert all(option in text for option in options) and "more option" not in text

    # Laid out naively, one text display per option beside its buttons, the same poll is refused.
    [container] = body["components"]
    naive = {"flags": V2_FLAG, "components": [{**container, "components": [
        {"type": 10, "content": line} for line in result_lines(options, counts)] + [
        c for c in container["components"] if c["type"] == 1]}]}
    refused = refuse_components(naive)
    assert refused is not None and refused.status == 400


def test_a_poll_past_the_input_rules_is_cut_between_whole_options_never_refused() -> None:
    options = long_options(60, 300)  # more and longer than /poll takes: the builder still keeps the limits
    poll = PollRecord(2, GUILD_ID, CHANNEL_ID, None, USER_ID, "Which?", tuple(options), datetime.now(UTC),
                      True)
    body = panel_body(poll, [1] * 60, buttons=60)
    assert refuse_components(body) is None and len(walk_components(body["components"])) == MAX_COMPONENTS
    [listing] = [c["content"] for c in walk_components(body["components"])
                 if c["type"] == 10 and "option 00" in c["content"]]
    lines = listing.splitlines()
    entries = result_lines(options, [1] * 60)
    kept = (len(lines) - 1) // 2
    assert 0 < kept < 60 and lines[:-1] == "\n".join(entries[:kept]).splitlines()
    assert lines[-1] == f"-# … and {60 - kept} more options, too long to show here."


async def test_a_poll_of_many_long_options_is_a_panel_the_fake_accepts(harness: Harness) -> None:
    h = harness
    options = long_options(MAX_OPTIONS, OPTION_MAX_CHARS)
    message = await start_poll(h, "q" * QUESTION_MAX_CHARS, " | ".join(options), "1h")
    assert message["flags"] & V2_FLAG and len(button_ids(message)) == MAX_OPTIONS
    assert await vote(h, message, MAX_OPTIONS - 1, USER2_ID) == (
        f"You voted for **{options[-1]}**. Press another option to change it.")
    live = shown(h, message)
    assert all(option in live for option in options) and "**1 vote** · Closes <t:" in live


# The longest tie /poll allows: the most options, each as long as it may be, under the longest question.
# Options in words the chart draws ("option 00 xxx") are named; in words it cannot ("вариант 00 жжж") they
# are listed by number under the results, which then say the tie by those numbers.
def tie_options(word: str, filler: str) -> list[str]:
    return [f"{word} {i:02d} " + filler * (OPTION_MAX_CHARS - len(word) - 4) for i in range(MAX_OPTIONS)]


# The tie's words in each language: its opening, the named options' separator, and its end by how many
# options it left unnamed (named in words) or its numbers (listed by number).
TIE = {
    "en": ("A tie between **", "**, **", "** and {more} more options ({votes} votes)."),
    "de": ("Gleichstand zwischen **", "**, **", "** und {more} weiteren Optionen ({votes} Stimmen)."),
    "ja": ("**", "**、**", "**、ほか{more}個の選択肢の同点（{votes}票）。"),
}
NUMBERS = [str(n) for n in range(1, MAX_OPTIONS + 1)]
NUMBERED = {
    "ru": (f"Ничья между вариантами {', '.join(NUMBERS[:-1])} и {NUMBERS[-1]} ({{votes}} голосов).",
           "-# … и ещё {hidden} вариантов, слишком длинные, чтобы показать здесь."),
    "ja": (f"選択肢{'、'.join(NUMBERS)}の同点（{{votes}}票）。",
           "-# …ほか{hidden}個の選択肢は長すぎてここに表示できません。"),
}


def check_named_tie(content: str, options: list[str], language: str, votes: int) -> None:
    """The tie names its options from the first, as many as fit, and counts the rest in ``language``."""
    opening, between, end = TIE[language]
    named = sum(f"**{option}**" in content for option in options)
    assert 0 < named < len(options)
    result = opening + between.join(options[:named]) + end.format(more=len(options) - named, votes=votes)
    assert content.endswith(result)
    assert len(content) + len(between) + OPTION_MAX_CHARS > MESSAGE_LIMIT  # one more name would not fit


def check_numbered_tie(content: str, options: list[str], language: str, votes: int) -> None:
    """The tie says every option by its number; the numbered options under it, whole, as many as fit."""
    said, left_out = NUMBERED[language]
    head, listing = content.split("\n\n")
    assert head.endswith(said.format(votes=votes))
    *kept, note = listing.split("\n")
    assert kept == [f"**{i + 1}.** {option}" for i, option in enumerate(options[:len(kept)])]
    assert kept and note == left_out.format(hidden=len(options) - len(kept))


@pytest.mark.parametrize("language", ["en", "de", "ja"])
def test_the_longest_tie_fits_a_message_naming_what_fits(language: str) -> None:
    options = tie_options("option", "x")
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "q" * QUESTION_MAX_CHARS, tuple(options),
                      datetime.now(UTC), True)
    content = results_message("Finn", poll, [2] * MAX_OPTIONS, language, limit=MESSAGE_LIMIT)
    assert len(content) <= MESSAGE_LIMIT
    check_named_tie(content, options, language, 2 * MAX_OPTIONS)


@pytest.mark.parametrize("language", ["ru", "ja"])
def test_the_longest_tie_of_options_listed_by_number_is_said_by_their_numbers(language: str) -> None:
    options = tie_options("вариант", "ж")
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "в" * QUESTION_MAX_CHARS, tuple(options),
                      datetime.now(UTC), True)
    content = results_message("Finn", poll, [2] * MAX_OPTIONS, language, limit=MESSAGE_LIMIT)
    assert len(content) <= MESSAGE_LIMIT
    check_numbered_tie(content, options, language, 2 * MAX_OPTIONS)


def test_a_tie_named_whole_where_it_fits_even_beside_a_numbered_list() -> None:
    poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "Любимая?", ("Ламинария", "Криль", "Планктон"),
                      datetime.now(UTC), True)
    assert results_message("Finn", poll, [2, 2, 1], "ru", limit=MESSAGE_LIMIT) == (
        "*Finn считает голоса.* Опрос **Любимая?** завершён: Ничья между **Ламинария** и **Криль** "
        "(5 голосов).\n\n**1.** Ламинария\n**2.** Криль\n**3.** Планктон")


@pytest.mark.parametrize("language", sorted(SPOKEN))
@pytest.mark.parametrize("words", ["option", "вариант"])
def test_results_fit_a_message_in_every_language_whatever_the_poll_holds(language: str, words: str) -> None:
    """By design, not by the input rules alone: a poll past them (a stored row, a name from a character's
    file) still gets results Discord takes, every tie and winner said, every list saying what it left out."""
    for count, width, question, name in ((MAX_OPTIONS, OPTION_MAX_CHARS, QUESTION_MAX_CHARS, 80),
                                         (300, 500, 5000, 5000), (2, 3000, 10, 4)):
        options = tuple(f"{words} {i:03d} " + "ж" * (width - 12) for i in range(count))
        poll = PollRecord(1, GUILD_ID, CHANNEL_ID, None, USER_ID, "q" * question, options, datetime.now(UTC),
                          True)
        for counts in ([1] * count, [1] + [0] * (count - 1), [0] * count):
            content = results_message("F" * name, poll, counts, language, limit=MESSAGE_LIMIT)
            assert len(content) <= MESSAGE_LIMIT, (count, width, question, name, counts)


@pytest.mark.parametrize(("language", "words", "filler"),
                         [("en", "option", "x"), ("de", "option", "x"), ("ru", "вариант", "ж")])
async def test_the_longest_tie_is_posted_within_discords_limit(harness: Harness, language: str, words: str,
                                                               filler: str) -> None:
    """Over the wire, where Discord refuses a message over 2,000 characters (and the results would be lost):
    the longest tie /poll allows is posted, its words in the poll's language."""
    h = harness
    options = tie_options(words, filler)
    message = await start_poll(h, "q" * QUESTION_MAX_CHARS, " | ".join(options), "10m")
    [poll] = await eventually(lambda: open_polls(h.store), "the poll row")
    poll = await eventually(lambda: _with_message(h, poll.id), "the poll's message id")
    for voter, option in enumerate(range(MAX_OPTIONS), start=10**6):  # one vote each: all tied
        assert await rows(h).vote(poll.id, voter, option)
    await eventually(lambda: timers_of_kind(h.store, "poll"), "the poll's closing timer")
    await h.bot.services.part(PollLifecycle).arm(replace(poll, closes_at=datetime.now(UTC)), language)
    post = f"/channels/{CHANNEL_ID}/messages"
    await h.discord.wait_for(lambda d: [r for r in d.requests if r.method == "POST" and r.path == post],
                             what="the results' post")
    # Discord answers it at once: taken, or refused (400 50035) and lost
    [posted] = await h.discord.wait_for(lambda d: results(h), timeout=10, what="the results, taken")
    assert posted["message_reference"]["message_id"] == message["id"]  # under the poll
    content = posted["content"]
    assert len(content) <= MESSAGE_LIMIT
    if words == "option":
        check_named_tie(content, options, language, MAX_OPTIONS)
    else:
        check_numbered_tie(content, options, language, MAX_OPTIONS)


async def test_a_poll_from_before_panels_becomes_one_when_voted_on_and_closed(harness: Harness) -> None:
    h = harness
    message = await start_poll(h, "Old style?", "Yes | No", "10m")
    ids = button_ids(message)
    stored = h.discord.messages[int(message["id"])]
    # As the bot posted polls before: text, an embed and rows of buttons, without the V2 flag.
    stored.update(flags=0, content="*Finn sets up a ballot box.* Poll:", embeds=[{"title": "Old style?"}],
                  components=[{"type": 1, "components": [{"type": 2, "style": 2, "label": f"{i + 1}",
                                                          "custom_id": cid} for i, cid in enumerate(ids)]}])
    assert await vote(h, stored, 0, USER_ID) == "You voted for **Yes**. Press another option to change it."
    assert "1 vote (100%)" in shown(h, message) and button_ids(stored) == ids  # a panel now, its text gone

    [row] = await eventually(lambda: open_polls(h.store), "the poll row")
    stored.update(flags=0, content="old text", embeds=[{"title": "Old style?"}])  # closing one still old
    # due now: it closes
    await h.bot.services.part(PollLifecycle).arm(replace(row, closes_at=datetime.now(UTC)))
    await h.discord.wait_for(lambda d: results(h), what="the poll results")
    await h.discord.wait_for(lambda d: "This poll has closed." in "\n".join(panel_texts(stored)),
                             what="the closed panel")
    assert "**1 vote** · Closed <t:" in shown(h, message) and button_ids(stored) == []
