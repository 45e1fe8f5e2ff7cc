"""A fractional count takes the form its number as shown takes, per CLDR: ``checkin_after_days=0.5`` makes
/checkin on say "0.5 days" in English (not "0.5 day"), "1,5 jour" in French (French 0.5 and 1.5 are "one"),
"0,5 dnia" in Polish and "0,5 дня" in Russian (a fraction's own form, which no whole number takes); whole
numbers keep their catalog's plural forms. The log channel's check-in line says a silence under a day in
tenths of a day, with the same forms. Over the wire, with the pure pieces (bot/core/numbers.py) beside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.core.lines import Quantity
from bot.core.numbers import as_shown, quantity
from bot.features.checkins.rounds import sent_line
from tests.harness import USER_ID, MakeHarness, log_posts, run_round
from tests.server_support import answer, sub
from tests.test_admin_log_channel import wait_until
from tests.test_alive_feelings import checkin_request

# (the client's locale, checkin_after_days, what /checkin on says of the days)
CHECKIN = [
    ("en-US", "0.5", "if I haven't heard from you for 0.5 days (never more"),
    ("en-US", "1.5", "if I haven't heard from you for 1.5 days (never more"),
    ("en-US", "1", "if I haven't heard from you for 1 day (never more"),
    ("en-US", "1.0", "if I haven't heard from you for 1 day (never more"),
    ("fr", "1.5", "pendant 1,5\xa0jour, je t'enverrai"),
    ("fr", "2", "pendant 2 jours, je t'enverrai"),
    ("pl", "0.5", "przez 0,5 dnia, napiszę"),
    ("pl", "5", "przez 5 dni, napiszę"),
    ("ru", "0.5", "Если от тебя не будет вестей 0,5 дня, я"),
    ("ru", "21", "Если от тебя не будет вестей 21 день, я"),
    ("de", "0.5", "Wenn ich 0,5 Tage lang nichts von dir höre"),
    ("ja", "2.5", "2.5 日間あなたから連絡がなかったら"),
    ("zh-CN", "0.5", "如果0.5天没有你的消息"),
]


@pytest.mark.parametrize(("locale", "days", "said"), CHECKIN, ids=[f"{c[0]}-{c[1]}" for c in CHECKIN])
async def test_checkin_on_says_its_days_in_the_form_their_number_takes(
        make_harness: MakeHarness, locale: str, days: str, said: str) -> None:
    h = await make_harness(checkin_after_days=days)
    h.discord.set_locale(USER_ID, locale)
    text = await answer(await h.slash("checkin", sub("on")))
    assert said in text, text


def zone_at_noon(moment: datetime) -> str:
    """A fixed-offset zone where ``moment`` falls between noon and one o'clock."""
    offset = (12 - moment.hour) % 24
    offset = offset - 24 if offset > 14 else offset  # (Etc/GMT-14 to Etc/GMT+12, their signs reversed)
    return f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"


async def test_a_check_in_after_half_a_day_says_so_in_the_log_channel(make_harness: MakeHarness) -> None:
    # 14 hours after the DM, at an hour a check-in may go out (10:00-20:00 in the zone): the zone is picked
    # so that it is about noon there then, whatever time of day the test runs at
    hours = 14
    zone = zone_at_noon(datetime.now(UTC) + timedelta(hours=hours))
    h = await make_harness(checkin_after_days="0.5", timezone=zone, quiet_hours="23-7",
                           verbose_logging="true")
    assert "0.5 days" in await answer(await h.slash("checkin", sub("on")))
    await h.dm("hello finn")
    dm = await h.dm_channel_id()
    await h.replies(dm, 1)
    await h.bot.in_flight.drain()
    last_seen = datetime.now(UTC)
    h.claude.script("Alice! Quiet day?", match=checkin_request)
    assert await run_round(h, "checkins", last_seen + timedelta(hours=hours, minutes=5)) == \
        "1 of 1 check-in(s) sent"
    tenths = round((hours + 5 / 60) / 24, 1)
    line = f"Check-in sent to user {USER_ID} ({tenths} days of silence)."
    await wait_until(h, lambda: line in log_posts(h), "the check-in line")


def test_a_number_picks_its_form_as_it_is_shown() -> None:
    assert as_shown(1.0) == 1 and isinstance(as_shown(1.0), int)
    assert as_shown(0.5) == Decimal("0.5") and as_shown(2.0004) == 2 and as_shown(0.1 + 0.2) == Decimal("0.3")
    assert [quantity(n, "day", "en") for n in (0.5, 1, 1.0, 1.5, 2)] == [
        "0.5 days", "1 day", "1 day", "1.5 days", "2 days"]
    assert [quantity(n, "day", "fr") for n in (0.5, 1.5, 2)] == ["0,5\xa0jour", "1,5\xa0jour", "2\xa0jours"]
    assert [quantity(n, "day", "ru") for n in (0.5, 1, 2, 5, 21)] == [
        "0,5 дня", "1 день", "2 дня", "5 дней", "21 день"]
    assert [quantity(n, "day", "pl") for n in (0.5, 1, 2, 5)] == ["0,5 dnia", "1 dzień", "2 dni", "5 dni"]
    assert [quantity(n, "hour", "pt") for n in (0.5, 2)] == ["0,5 hora", "2 horas"]  # Babel's short forms
    assert quantity(1.5, "day", "zh") == "1.5天" and quantity(1.5, "day", "ko") == "1.5일"
    assert quantity(0.5, "day", "xx") == quantity(0.5, "day", None) == "0.5 days"  # unknown: English


def test_the_check_in_line_counts_whole_days_or_tenths_of_one() -> None:
    assert sent_line(7, 0.54).english() == "Check-in sent to user 7 (0.5 days of silence)."
    assert sent_line(7, 0.01).english() == "Check-in sent to user 7 (0.1 days of silence)."
    assert sent_line(7, 1.7).english() == "Check-in sent to user 7 (1 day of silence)."
    assert sent_line(7, 0.54).render("ru") == "Проверка связи отправлена пользователю 7 (0,5 дня молчания)."
    assert sent_line(7, 0.54).render("pl") == "Wysłano zapytanie do użytkownika 7 (0,5 dnia ciszy)."
    assert sent_line(7, 2.2).render("ru") == "Проверка связи отправлена пользователю 7 (2 дня молчания)."
    assert Quantity(1.5, "day").render("fr") == "1,5\xa0jour"
