"""The swipes feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(SwipeSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class SwipeSettings:
    """Other answers to a reply, paged with buttons on it (bot/features/swipes/)."""

    TITLE: ClassVar[str] = "Swipes"
    swipes: bool = key(
        True, "Swipe buttons (◀ ▶ 🔄) on the character's latest reply, to page through other answers to the "
        "same message (each new one is a model call, asked for by a press). false: replies go out without "
        "them; /bot swipes turns them on or off for a channel or a server.")
    swipe_timeout_seconds: int = key(
        900, "Seconds the swipe buttons (◀ ▶ 🔄) stay on the character's latest reply, from when it is "
        "posted; they also go when the next message arrives there.", min=1)
