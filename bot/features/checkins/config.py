"""The checkins feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(CheckinSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class CheckinSettings:
    """One DM to who asked for it after days of silence (bot/features/checkins/, /checkin)."""

    TITLE: ClassVar[str] = "Check-ins"
    checkins: bool = key(
        True, "Allow /checkin: one DM to people who opted in after checkin_after_days of silence.")
    checkin_after_days: float = key(
        7.0, "Days of silence after which someone who ran /checkin on gets one check-in DM.", above=0)
