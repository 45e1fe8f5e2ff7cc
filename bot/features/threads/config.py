"""The threads feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(ThreadSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class ThreadSettings:
    """Conversations that go on in a thread the character opens (bot/features/threads/, /bot threads)."""

    TITLE: ClassVar[str] = "Conversation threads"
    conversation_threads: bool = key(
        False, "A conversation started with the character (an @mention, a reply, a message it chose to "
        "answer) goes on in a thread it opens from that message, where it answers every message; "
        "/bot threads turns this on or off for a channel or a server.")
