"""A recurring reminder's rule said in the reader's language (bot/features/reminders/described.py), not as the
RRULE it is stored as.

Units: the rules people set (weekdays, intervals, days of the month, dates of the year, times of day, COUNT
and UNTIL) in English, German, Japanese and Russian, plural intervals among them; a rule these words cannot
say is the rule itself, in backticks. Over the wire (the real discord.py client against the fake Discord): a
person whose Discord client is German, then Japanese, lists a weekly reminder with ``/reminders`` and reads
it described in that language, never ``FREQ=WEEKLY``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.features.reminders.described import describe
from database.reminders import NewReminder
from tests.fakes.discord_lead import panel_texts
from tests.harness import USER_ID, MakeHarness, ephemeral

WEEKLY = "FREQ=WEEKLY;BYDAY=MO,WE"

# (rule, {language: how it reads})
SAID = [
    (WEEKLY, {"en": "every Monday and Wednesday", "de": "jeden Montag und Mittwoch",
              "ja": "毎週月曜日、水曜日", "ru": "каждую неделю: понедельник и среда"}),
    ("FREQ=WEEKLY;BYDAY=FR,MO,WE", {"en": "every Monday, Wednesday and Friday",
                                   "de": "jeden Montag, Mittwoch und Freitag"}),
    ("FREQ=DAILY", {"en": "every day", "de": "jeden Tag", "ja": "毎日", "ru": "каждый день"}),
    ("FREQ=DAILY;INTERVAL=2", {"en": "every 2 days", "de": "alle 2 Tage", "ja": "2日ごと",
                               "ru": "каждые 2 дня"}),
    ("FREQ=DAILY;INTERVAL=5", {"ru": "каждые 5 дней"}),
    ("FREQ=DAILY;INTERVAL=21", {"ru": "каждый 21 день"}),
    ("RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", {"en": "every 2 weeks on Friday",
                                               "de": "alle 2 Wochen am Freitag", "ja": "2週間ごとの金曜日",
                                               "ru": "каждые 2 недели: пятница"}),
    ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", {"en": "every weekday", "de": "montags bis freitags",
                                         "ja": "毎週月曜日から金曜日", "ru": "по будням"}),
    ("FREQ=DAILY;BYDAY=SA,SU", {"en": "every Saturday and Sunday", "de": "jeden Samstag und Sonntag"}),
    ("FREQ=MONTHLY;BYMONTHDAY=1", {"en": "every month on day 1", "de": "jeden Monat am Tag 1",
                                   "ja": "毎月1日", "ru": "каждый месяц, 1-го числа"}),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", {"en": "every month on days 1 and 15",
                                      "de": "jeden Monat an den Tagen 1 und 15", "ja": "毎月1、15日"}),
    ("FREQ=MONTHLY;INTERVAL=3", {"en": "every 3 months", "de": "alle 3 Monate", "ja": "3か月ごと",
                                 "ru": "каждые 3 месяца"}),
    ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1", {"en": "every year on March 1", "de": "jedes Jahr am 1. März",
                                            "ja": "毎年3月1日", "ru": "каждый год, 1 марта"}),
    ("FREQ=HOURLY;INTERVAL=4", {"en": "every 4 hours", "de": "alle 4 Stunden", "ja": "4時間ごと",
                                "ru": "каждые 4 часа"}),
    ("FREQ=DAILY;BYHOUR=9;BYMINUTE=30", {"en": "every day at 9:30\u202fAM", "de": "jeden Tag um 09:30",
                                         "ja": "毎日9:30に", "ru": "каждый день в 09:30"}),
    ("FREQ=DAILY;COUNT=5", {"en": "every day, 5 times", "de": "jeden Tag, 5-mal", "ja": "毎日、5回",
                            "ru": "каждый день, 5 раз"}),
    ("FREQ=DAILY;COUNT=1", {"en": "every day, 1 time"}),
    ("FREQ=WEEKLY;UNTIL=20270301T090000;BYDAY=MO,WE",
     {"en": "every Monday and Wednesday until March 1, 2027",
      "de": "jeden Montag und Mittwoch bis zum 1. März 2027", "ja": "2027年3月1日まで毎週月曜日、水曜日",
      "ru": "каждую неделю: понедельник и среда до 1 марта 2027\u202fг."}),
]


@pytest.mark.parametrize(("rule", "said"), SAID)
def test_a_rule_reads_as_its_language_says_it(rule: str, said: dict[str, str]) -> None:
    for language, expected in said.items():
        assert describe(rule, language) == expected, (rule, language)


@pytest.mark.parametrize("rule", [
    "FREQ=MONTHLY;BYDAY=+1MO",  # the first Monday of the month: not said here
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1",
    "FREQ=MONTHLY;BYMONTHDAY=-1",  # the month's last day
    "FREQ=YEARLY;BYWEEKNO=20",
    "FREQ=DAILY;BYHOUR=9",  # its minute is the first occurrence's
    "FREQ=SECONDLY",
    "not a rule",
])
def test_a_rule_the_words_cannot_say_is_itself_in_backticks(rule: str) -> None:
    for language in ("en", "de", "ja", "ru"):
        assert describe(rule, language) == f"`{rule}`"


def test_a_language_without_a_catalog_is_english_and_none_is_english() -> None:
    assert describe(WEEKLY, None) == "every Monday and Wednesday"
    assert describe(WEEKLY, "it") == "every Monday and Wednesday"  # not English words around Italian days


async def test_reminders_lists_a_weekly_reminder_in_the_readers_language(make_harness: MakeHarness) -> None:
    h = await make_harness()
    now = datetime.now(UTC)
    await h.store.reminders.add(NewReminder(USER_ID, "alice", 0, None, True, "water the kelp",
                                            now + timedelta(days=2), "Europe/Berlin", WEEKLY,
                                            "2030-01-07T09:00:00"), now)
    seen = {"de": "wiederholt sich jeden Montag und Mittwoch (Europe/Berlin)",
            "ja": "繰り返し：毎週月曜日、水曜日（Europe/Berlin）",
            "en-US": "repeats every Monday and Wednesday (Europe/Berlin)"}
    for locale, line in seen.items():
        h.discord.set_locale(USER_ID, locale)
        listed = "\n".join(panel_texts(await ephemeral(await h.slash("reminders", dm=True))))
        assert line in listed and "water the kelp" in listed, listed
        assert "FREQ=" not in listed, listed
