"""The reply's model judging what a message carries for the character, as a test scripts it (the real model
reads the message's meaning, in any language; the fake is told what it would say): the next reply request
that asks for the judgement (bot/reply/felt.py INSTRUCTION in its system prompt) is answered with a
``<felt>`` tag, then the answer."""

from __future__ import annotations

from typing import Any

from bot.reply.felt import INSTRUCTION
from tests.fakes.claude_server import FakeClaude, Rule

ANSWER = "Hello from fake Claude."


def asks_felt(body: dict[str, Any]) -> bool:
    """Whether a request asks the model for its judgement (a reply's does, with the feelings on)."""
    return INSTRUCTION in FakeClaude.system_text(body)


def feels(claude: FakeClaude, felt: str, answer: str = ANSWER) -> Rule:
    """The next reply judges its message to carry ``felt`` (the tag's text: "distress", "praise, warmth",
    "none"), then says ``answer``."""
    return says(claude, f"<felt>{felt}</felt>\n{answer}")


def says(claude: FakeClaude, whole: str) -> Rule:
    """The next reply that asks for the judgement answers ``whole`` as it is (a tag malformed, missing)."""
    return claude.script(whole, match=asks_felt)
