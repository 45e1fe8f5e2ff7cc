"""The character's own custom status: one line Claude writes once a day after consolidation (and at start-up
when none is set) from who the character is (traits, lore, facts), the day's mood, and what it said in the
servers' public channels over the last day. Kept in global state (``custom_status``), set with Discord's
custom activity by the Discord side, which re-applies it on every connect and resume. A Claude failure keeps
the old status.

It is shown to everyone, everywhere: it never goes by the character-wide feeling (bot/alive/feelings.py),
which anyone's DMs move, and what it said is read from the log and the archive together, since the nightly
consolidation, its daily moment, has just moved the day's lines to the archive.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.alive.initiative import initiative_prompt, self_portrait
from bot.alive.speaker import Speaker
from bot.core.claude import ClaudeUnavailable
from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.models.tools import read_back
from bot.core.persona.register import in_place
from database.visibility import everywhere_for, line_origin, may_enter

log = logging.getLogger(__name__)

STATUS_KEY = "custom_status"
STATUS_AT_KEY = "custom_status_at"
MAX_STATUS = 128  # Discord's limit for a custom status
RECENT_SAID = 5
SAID_WITHIN = timedelta(days=1)  # the day's lines: what it said since this time yesterday

ASK = ("[Write your Discord custom status: one short line (at most 80 characters) in your own voice, saying "
       "what you are up to or how you feel right now. Let it come from who you are, your mood and what you "
       "did lately. No quotes and no hashtags. Answer with the line only.]")


def clean_status(text: str) -> str | None:
    """The first usable line of Claude's answer as a status, or None when there is none."""
    for line in text.strip().splitlines():
        line = re.sub(r"^(?:custom\s+)?status\s*:\s*", "", line.strip(), flags=re.I)
        line = " ".join(line.strip().strip('"\u201c\u201d*_`').split())
        if len(line) >= 2:
            if len(line) > MAX_STATUS:
                line = line[: MAX_STATUS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "\u2026"
            return line
    return None


class StatusKeeper:
    def __init__(self, speaker: Speaker, *, apply: Callable[[str], Awaitable[None]],
                 mirror: Callable[[Line], None]) -> None:
        self.speaker = speaker
        self.apply = apply
        self.mirror = mirror

    async def current(self) -> str:
        return await self.speaker.store.state.get(STATUS_KEY)

    async def refresh(self, now: datetime) -> str | None:
        """Write, store and show a new status; None (the old one kept, nothing shown) when Claude fails."""
        speaker = self.speaker
        persona = in_place(speaker.persona, False)  # shown everywhere: a mature one's safe register
        portrait = await self_portrait(speaker.store.identity, speaker.store.state, speaker.character_key)
        # shown in every server: only its own words said where anyone may hear them (database/visibility.py)
        seen = await speaker.store.log.said_by(speaker.own_author_ids, limit=RECENT_SAID,
                                               since=now - SAID_WITHIN)
        said = [read_back(m) for m in seen if may_enter(line_origin(m), everywhere_for(m.author_id))]
        lately = "\n".join(f"- {' '.join(s.split())[:150]}" for s in said if s.strip())
        context = (f"[What you said lately in the server]\n{lately}\n\n" if lately else "") + ASK
        try:
            completion = await speaker.claude.complete(
                initiative_prompt(persona, portrait, context), guild_id=None,
                purpose="status", max_tokens=80)
        except ClaudeUnavailable as exc:
            log.warning("custom status not refreshed: Claude failed (%s); the old one stays", exc)
            self.mirror(Line(N_("Custom status not refreshed: Claude failed ({error}); the old one stays."),
                             error=exc))
            return None
        status = clean_status(completion.text)
        if status is None:
            log.warning("custom status not refreshed: unusable answer %r", completion.text[:80])
            self.mirror(Line(N_("Custom status not refreshed: Claude's answer was unusable; the old one "
                                "stays.")))
            return None
        await speaker.store.state.set(STATUS_KEY, status)
        await speaker.store.state.set(STATUS_AT_KEY, now.isoformat())
        log.info("custom status: %s", status)
        self.mirror(Line(N_("Custom status set: {status}"), status=status))
        await self.apply(status)
        return status

    async def ensure(self, now: datetime) -> str | None:
        """At start-up: write one when none is set yet."""
        return None if await self.current() else await self.refresh(now)

    async def reapply(self) -> str:
        """Show the stored status again (a new gateway session starts without one)."""
        status = await self.current()
        if status:
            await self.apply(status)
        return status
