"""One reply's model call, as a value the engine hands on: the engine decides what is asked (the prompt, the
model, the effort) and builds a :class:`Generation`; delivery (bot/reply/delivery.py) runs it while the
typing indicator shows, streamed when it posts the text as it is written. Neither calls back into the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Completion
from bot.core.models.base import Prompt, SoFar
from bot.reply.media import Media


@dataclass(frozen=True)
class ModelCall:
    """How a reply is asked of the model (the engine chooses: the model by tier and intent, the effort by
    tier, the persona's length and temperature)."""

    model: str
    user_id: int
    guild_id: int | None  # the server the call is spent for (None: a DM)
    max_tokens: int | None
    temperature: float | None
    effort: str

    async def ask(self, claude: ClaudeClient, prompt: Prompt,
                  on_text: Callable[[str], None] | None = None) -> Completion:
        """The model's answer to ``prompt``; with ``on_text``, streamed, and it sees the text so far."""
        return await claude.generate(
            prompt, model=self.model, user_id=self.user_id, guild_id=self.guild_id,
            purpose="reply", max_tokens=self.max_tokens,
            temperature=self.temperature, on_text=on_text, stream=True if on_text is not None else None,
            effort=self.effort)


@dataclass
class Generation:
    """The reply to one message, written by the model: the prompt and the files the message carried (read
    into it when asked). A picture whose header is sound but whose pixels the model cannot decode is named as
    not seen, and the rest of the message is asked again (once per picture); ``notice`` then says so.
    Streamed, the model client writes the text so far into ``written`` (a value of the core), for delivery to
    read (``so_far``, ``changed``): no module of the reply is called back."""

    claude: ClaudeClient
    prompt: Prompt
    media: Media
    call: ModelCall
    notice_lines: tuple[str, str, str]  # Media.notice's lines: the unreadable file's, the name, the left-out
    label: str = "reply"  # how log lines name this reply
    log: logging.Logger = logging.getLogger("bot.reply.engine")  # whose log lines these are
    notice: str = field(init=False)  # a line said before the reply (e.g. files that could not be opened)
    written: SoFar = field(init=False, default_factory=SoFar)  # streamed: the text written so far

    def __post_init__(self) -> None:
        self.notice = self.media.notice(*self.notice_lines)

    @property
    def so_far(self) -> str:
        return self.written.text

    @property
    def changed(self) -> asyncio.Event:  # set when so_far changes
        return self.written.changed

    async def write(self, *, streamed: bool) -> Completion:
        """The completion (raises ClaudeUnavailable); ``streamed``: ``so_far`` follows it as it is written."""
        shown = self.media
        while True:
            built = shown.into(self.prompt)
            try:
                return await self.call.ask(self.claude, built, self.written.wrote if streamed else None)
            except ClaudeUnavailable as exc:
                refused = shown.refused_image(built, str(exc))
                if refused is None:
                    raise
                self.log.warning("%s: Claude could not process %s (%s); asking again without it", self.label,
                                 refused.filename, exc)
                shown = shown.without(refused, "Claude could not process it")
                self.notice = shown.notice(*self.notice_lines)
