"""Counts and refusals as the reader's language says them: a slash command's cooldown line with the form its
number of seconds takes ("1 Sekunde", "2 секунды", "5 секунд"), /checkin on's days written as the language
writes a number ("1,5 Tage", "1,500日間"), and @everyone refused as a staff role by /ticket setup in the very
line /settings set staff_role refuses it with. German, Japanese and Russian each, English as the control."""

from __future__ import annotations

import pytest
from discord import app_commands

from bot.discord.ui import describe_error
from bot.features.servertools.tickets import TicketDesk
from tests.harness import ADMIN_ID, GUILD_ID, USER_ID, Harness, MakeHarness
from tests.server_support import answer, sub
from tests.test_server_settings import setting
from tests.test_tickets import setup_staff, ticket

# --------------------------------------------------------------------------- a command's cooldown

# No command of Kindred's has a cooldown yet (one would be an operator's or a cog's to add), so the line the
# tree-wide error handler answers with is checked where it is made: (retry_after, the line).
COOLDOWN = {
    "de": [(0.3, "Etwas langsamer: Versuch es in 1 Sekunde noch einmal."),
           (4.2, "Etwas langsamer: Versuch es in 5 Sekunden noch einmal."),
           (1500, "Etwas langsamer: Versuch es in 1.500 Sekunden noch einmal.")],
    "ja": [(1, "少しゆっくりで：1秒後にもう一度お試しください。"),
           (1500, "少しゆっくりで：1,500秒後にもう一度お試しください。")],
    "ru": [(1, "Помедленнее: попробуй снова через 1 секунду."),
           (2, "Помедленнее: попробуй снова через 2 секунды."),
           (5, "Помедленнее: попробуй снова через 5 секунд."),
           (21, "Помедленнее: попробуй снова через 21 секунду."),
           (1500, "Помедленнее: попробуй снова через 1\xa0500 секунд.")],
    "en": [(1, "Slow down a little: try again in 1 second."),
           (1500, "Slow down a little: try again in 1,500 seconds.")],
}


@pytest.mark.parametrize("language", list(COOLDOWN))
def test_a_cooldowns_seconds_take_the_languages_form(language: str) -> None:
    for retry_after, line in COOLDOWN[language]:
        cooldown = app_commands.Cooldown(1, 60)
        assert describe_error(app_commands.CommandOnCooldown(cooldown, retry_after), language) == line


# --------------------------------------------------------------------------- /checkin on

# (language, the client's locale, checkin_after_days, what the answer says of the days)
CHECKIN = [
    ("de", "de", "1.5", "Wenn ich 1,5 Tage lang nichts von dir höre"),
    ("ru", "ru", "1.5", "Если от тебя не будет вестей 1,5 дня,"),
    ("ja", "ja", "1500", "1,500日間あなたから連絡がなかったら"),
    ("en", "en-US", "1500", "I haven't heard from you for 1,500 days"),
]


@pytest.mark.parametrize(("language", "locale", "days", "said"), CHECKIN, ids=[c[0] for c in CHECKIN])
async def test_checkin_on_writes_its_days_as_the_language_writes_a_number(
        make_harness: MakeHarness, language: str, locale: str, days: str, said: str) -> None:
    h = await make_harness(checkin_after_days=days)
    h.discord.set_locale(USER_ID, locale)
    text = await answer(await h.slash("checkin", sub("on")))
    assert said in text, text


# --------------------------------------------------------------------------- @everyone as the staff role

EVERYONE = {
    "de": "staff_role nimmt eine Rolle, die manche Mitglieder haben; @everyone ist jedes Mitglied des "
          "Servers. Wähle eine andere Rolle.",
    "ja": "staff_role には一部のメンバーが持つロールを指定してください。@everyone はサーバーのメンバー"
          "全員です。別のロールを選んでください。",
    "ru": "staff_role принимает роль, которая есть у некоторых участников; @everyone — это каждый "
          "участник сервера. Выбери другую роль.",
    "en": "staff_role takes a role some members have; @everyone is every member of the server. Choose "
          "another role.",
}
LOCALES = {"de": "de", "ja": "ja", "ru": "ru", "en": "en-US"}


@pytest.mark.parametrize("language", list(EVERYONE))
async def test_ticket_setup_refuses_everyone_as_settings_does(harness: Harness, language: str) -> None:
    h = harness
    await setup_staff(h)
    h.discord.set_locale(ADMIN_ID, LOCALES[language])
    by_ticket = await ticket(h, "setup", user=ADMIN_ID, staff_role=("role", GUILD_ID))  # @everyone's id
    by_settings = await setting(h, "staff_role", f"<@&{GUILD_ID}>")
    assert by_ticket == by_settings == EVERYONE[language]
    assert await h.bot.services.part(TicketDesk).setup_of(GUILD_ID) is None  # neither set it
