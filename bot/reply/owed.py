"""The replies one character owes, as this process knows them: the one owner of the owed state.

A reply is marked owed in the database (database/owed.py) before any model call, so a crash cannot lose it;
this process claims each mark it writes (or, at start-up, each it takes over from a previous run) before
the mark can be read, so the start-up recovery (bot/reply/recovery.py), reading the marks at the same
time, sees it is being answered here. Settling clears both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from database.log import MessageLog
from database.owed import OwedReplies


class OwedMarks:
    """One character's owed replies: its marks in the database, and which of them this process answers."""

    def __init__(self, character_key: str, owed: OwedReplies, log: MessageLog) -> None:
        self._key = character_key
        self._owed = owed
        self._log = log
        self._claimed: set[int] = set()  # marked owed and not yet answered, by this process

    def is_owed(self, message_id: int) -> bool:
        """Whether this process has claimed the reply to ``message_id`` and not settled it yet."""
        return message_id in self._claimed

    def owing(self) -> int:
        """How many replies this process has claimed and not settled yet."""
        return len(self._claimed)

    def claim(self, message_id: int) -> bool:
        """Claim the reply to ``message_id`` for this process; False when it was claimed already."""
        if message_id in self._claimed:
            return False
        self._claimed.add(message_id)
        return True

    @contextlib.contextmanager
    def claiming(self, message_id: int, *, owed: bool = True) -> Iterator[None]:
        """Around a write that marks the reply owed (``owed``): claimed before the write, released if the
        write fails (a mark claimed earlier stays claimed)."""
        claimed = owed and self.claim(message_id)
        try:
            yield
        except BaseException:
            if claimed:
                self._claimed.discard(message_id)
            raise

    async def owe(self, message_id: int, channel_id: int) -> None:
        """Mark the reply owed in a write of its own, unless a log write did (a reply decided by a vote, or
        by the cast of several characters)."""
        if message_id not in self._claimed:
            with self.claiming(message_id):
                await self._owed.mark(self._key, message_id, channel_id)

    async def delivering(self, message_id: int, delivered: int, parts: list[str] | None = None) -> None:
        """A reply of several parts: how many are out (and, before the first, what they are)."""
        await self._owed.delivering(self._key, message_id, delivered, parts)

    async def settle(self, message_id: int, *, at_once: bool = False) -> None:
        """Clear the mark, if this process claimed it; ``at_once``: a reply that will not be given (refused,
        consumed), cleared in a write of its own, not with the log's next batch, so a crash meanwhile leaves
        no mark behind for the restart to answer."""
        if message_id in self._claimed:
            if at_once:
                await self._owed.settle(self._key, message_id)
            else:
                await self._log.settle_owed(self._key, message_id)  # batched with the log
            self._claimed.discard(message_id)
