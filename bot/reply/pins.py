"""Where a DM's slow-changing notes sit in its history: how the character feels and how the person writes
(issue 48's back-to-back cache share).

Those notes change now and then, not every reply. Placed before the history they would make each change
rewrite the whole cached history; placed after its breakpoint (as issue 44 did) they are sent uncached with
every reply, about 100 tokens each time, which took the DM back-to-back cache-read share from 94.7 % to
93.1 %. Pinned instead: a version of the notes opens the user turn where it first applied and stays there,
inside the cached history; a change pins the new version to the message being answered (the old one stays
where it was, earlier in the conversation), so nothing before it is rewritten. Kept in memory only: after a
restart, or when the summarizer drops the turn a version was pinned to, the notes are pinned again to the
next message (one uncached turn).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection

Key = tuple[int, int]  # (the person, the DM channel)


class NotePins:
    """Per DM: the notes by the Discord id of the user turn each version opens, oldest first."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit  # conversations remembered (the least recently answered forgotten first)
        self._pins: OrderedDict[Key, list[tuple[int, str]]] = OrderedDict()

    def pin(self, key: Key, shown: Collection[int], current: int, notes: str) -> dict[int, str]:
        """The versions to show: those whose turn is still in the history (``shown``: its user turns'
        Discord ids), and ``notes`` pinned to ``current`` (the message answered) when it differs from the
        latest of them."""
        pins = [(at, text) for at, text in self._pins.get(key, ()) if at in shown or at == current]
        if (pins[-1][1] if pins else "") != notes:
            pins = [(at, text) for at, text in pins if at != current] + [(current, notes)]
        self._pins[key] = pins
        self._pins.move_to_end(key)
        while len(self._pins) > self.limit:
            self._pins.popitem(last=False)
        return dict(pins)
