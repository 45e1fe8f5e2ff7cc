"""The reminders feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(ReminderSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key
from bot.core.i18n import N_


@dataclass(frozen=True)
class ReminderSettings:
    """Reminders people ask for, and the place tasks admins set (bot/features/reminders/)."""

    TITLE: ClassVar[str] = "Reminders and place tasks"
    reminders: bool = key(
        False, "Let people ask the character for reminders in servers' channels, where no admin used /bot "
        "reminders (a server opts in).")
    reminders_in_dms: bool = key(True, "Let people ask the character for reminders in its DMs.")
    reminders_max_open: int = key(10, "Reminders one person may have waiting at once.", min=1)
    reminders_per_day: int = key(10, "Reminders one person may set in 24 hours.", min=1)
    reminders_recurring_max: int = key(
        10, "Recurring reminders one person may have at once (each counts as one waiting).", min=0)
    reminders_recurring_per_server: int = key(
        50, "Recurring reminders a server's channels may have at once, everyone's together.", min=0)
    reminders_recurring_min_minutes: int = key(
        60, "Minutes a recurring reminder's occurrences must be apart at least (a closer rule is refused).",
        min=1)
    place_tasks_per_server: int = key(
        5, "Place tasks (/bot tasks: an admin's recurring instruction the character carries out in a "
        "channel) a server may have at once.", min=0)
    place_tasks_min_minutes: int = key(
        60, "Minutes a place task's occurrences must be apart at least (a closer rule is refused).", min=1)
    reminder_fallback_line: str = key(
        N_("{user}, you asked me to remind you: {reminder}"), "A reminder as it goes out when the model "
        "cannot write it ({user}: the person, {reminder}: what they asked, {name}: the character). Unset, it "
        "is said in the language the reminder was asked in (else the server's); set, as written.")
    reminder_missed_line: str = key(
        N_("{user}, I was away when your reminder came due, so I skipped it: {reminder}"), "What a recurring "
        "reminder says, when the model cannot write it, of an occurrence that came due while the bot was "
        "down (skipped, not made late; the same placeholders and languages).")
