"""Replies owed at start-up: what a crash (kill -9, a lost machine) left unanswered.

Every message that will be answered is marked owed in the write that logs it (database/owed.py) and the
mark is cleared once the reply is posted; a reply of several parts records them, and how many were posted,
as it goes out, and one cut short is resumed from its first part not posted. At start-up, owed replies
younger than ``reply_recovery_minutes`` re-enter the reply sequence at admission (bot/reply/pipeline.py
``recover``): the mark may have been written before a gate refused the message, so a late answer passes the
same gates and decision as a live one; those it lets through are answered, the prompt telling the character
that time passed. Older ones are closed as dropped (a late answer to a conversation long moved on would be
stranger than none) and logged. The posts carry the same nonce as the first try (bot/discord/posting.py), so
a reply that reached Discord just before the crash is not posted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bot.core.config.service import RecoverySettings
from bot.core.persona.model import Persona
from bot.core.stages import Incoming, Outlet
from bot.reply.pipeline import ReplySequence
from database.models import utcnow
from database.owed import Owed, OwedReplies
from database.records import PromptData

log = logging.getLogger(__name__)

ANSWERED = "answered"
NOT_MINE = "not mine"
# The owed message as Discord has it now; None: deleted, or its channel gone; ANSWERED: a reply to it is
# already in the channel (posted just before the crash, longer ago than Discord keeps a nonce); NOT_MINE: it
# came on a shard another process of the cluster runs (that process answers it, or will at its restart).
# Found, it comes with each character's outlet for answering it (several characters: webhooks).
Fetch = Callable[[Owed], Awaitable[tuple[Incoming, Callable[[str], Outlet]] | str | None]]


def late_note(minutes: int) -> str:
    if minutes < 1:
        return "(You are answering this a little late; you were briefly away.)"
    unit = "minute" if minutes == 1 else "minutes"
    return f"(You are answering this {minutes} {unit} late; you were briefly away.)"


class LateReplies:
    """The replies being written late (owed since before a restart), and the note that says so in their
    prompt: a prompt part (an instruction) of every character's replies."""

    slot = "instructions"
    in_dms = True

    def __init__(self) -> None:
        self.minutes: dict[int, int] = {}  # message id -> minutes late, while its reply is written

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        minutes = self.minutes.get(msg.message_id)
        return late_note(minutes) if minutes is not None else ""


class ReplyRecovery:
    """Answers, or closes, the replies a previous run of this bot's characters still owed."""

    def __init__(self, settings: RecoverySettings, owed: OwedReplies, sequence: ReplySequence,
                 characters: Sequence[str], late: LateReplies) -> None:
        """``sequence``: the one every live message goes through; ``characters``: the keys of its cast;
        ``late``: the prompt part every character was built with (the composition root gives both)."""
        self.settings = settings  # the recovery section, read at each use (a live reload applies)
        self.owed = owed
        self.sequence = sequence
        self.characters = tuple(characters)
        self.late = late.minutes

    async def triage(self, now: datetime | None = None) -> list[tuple[Owed, int]]:
        """The owed replies still worth giving, with how many minutes late each is; closes the rest."""
        now = now or utcnow()
        limit = self.settings.reply_recovery_minutes * 60
        fresh: list[tuple[Owed, int]] = []
        pending = [o for key in self.characters for o in await self.owed.pending(key)]
        for owed in sorted(pending, key=lambda o: (o.owed_since, o.message_id)):
            if self.sequence.answering(owed.character, owed.message_id):
                continue  # owed by this very process, answering it now (it came before we were ready)
            age = (now - owed.owed_since).total_seconds()
            if age <= limit:
                fresh.append((owed, int(age // 60)))
                continue
            await self.owed.settle(owed.character, owed.message_id)
            log.warning("dropped the reply owed to message %s in channel %s: %d minutes old (limit %g)",
                        owed.message_id, owed.channel_id, age // 60,
                        self.settings.reply_recovery_minutes)
        return fresh

    async def run(self, fetch: Fetch) -> int:
        """Answer every fresh owed reply, oldest first; the number answered."""
        answered = 0
        for owed, minutes in await self.triage():
            try:
                found = await fetch(owed)
            except Exception:  # Discord unreachable: still owed, tried again at the next start
                log.exception("could not fetch message %s to answer it late", owed.message_id)
                continue
            if found == NOT_MINE:
                continue
            if found is None or isinstance(found, str):
                await self.owed.settle(owed.character, owed.message_id)
                if found is None:
                    log.warning("dropped the reply owed to message %s: the message is gone", owed.message_id)
                else:
                    log.info("message %s was answered before the restart; nothing owed", owed.message_id)
                continue
            msg, outlet_for = found
            self.late[msg.message_id] = minutes
            try:
                result = await self.sequence.recover(msg, outlet_for, owed.character, owed.parts,
                                                     owed.delivered)
                if result is None:
                    log.info("message %s, owed a reply from before a restart, is no longer answered",
                             msg.message_id)
                elif owed.parts:
                    log.info("sent the last %d of %d parts of the reply to message %s (cut short by a "
                             "restart)", len(owed.parts) - owed.delivered, len(owed.parts), msg.message_id)
                else:
                    log.info("answered message %s %d minutes late (owed from before a restart)",
                             msg.message_id, minutes)
                answered += result is not None
            except Exception:
                log.exception("the late reply to message %s failed; still owed", msg.message_id)
            finally:
                self.late.pop(msg.message_id, None)
        return answered

