"""SillyTavern's world-info timing and recursion, for :func:`bot.core.persona.lorebook.activate`.

* **Recursion**: the content of the entries a scan activated is scanned in turn for other entries' keys,
  a few rounds at most (:data:`MAX_ROUNDS`), unless the book turns it off (``recursive_scanning`` false).
  An entry with ``exclude_recursion`` is activated only by the messages; one with ``prevent_recursion``
  activates nothing further.
* **Timed effects** (each entry's ``sticky``, ``cooldown`` and ``delay``, counted in messages): a sticky
  entry stays active that many messages after it was triggered; after that, a cooldown keeps it off for as
  many more; a delayed one cannot activate before the chat has that many messages.

SillyTavern keeps the timers in the chat's metadata. Here they are worked out again at each reply from the
conversation's own messages (the entry's triggers at each of the last few messages, replayed): no state to
keep, the same after a restart, and per conversation by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.core.persona.lorekeys import Matcher, key_index
from bot.core.persona.model import Lorebook, LoreEntry

MAX_ROUNDS = 3  # recursion rounds after the scan of the messages
REPLAY_LIMIT = 100  # messages replayed at most for one entry's timers


def _number(entry: LoreEntry, *names: str) -> int:
    for name in names:
        value = entry.extensions.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return int(value)
    return 0


def sticky(entry: LoreEntry) -> int:
    return _number(entry, "sticky")


def cooldown(entry: LoreEntry) -> int:
    return _number(entry, "cooldown")


def delay(entry: LoreEntry) -> int:
    return _number(entry, "delay")


def _flag(entry: LoreEntry, *names: str) -> bool:
    return any(entry.extensions.get(name) is True for name in names)


def timed(entry: LoreEntry) -> bool:
    return bool(sticky(entry) or cooldown(entry) or delay(entry))


def recurse(book: Lorebook, chosen: dict[int, LoreEntry], usable: Callable[[int, LoreEntry], bool]) -> None:
    """Add to ``chosen`` (index -> entry) the entries the chosen ones' content triggers, round by round."""
    if not book.recursive:
        return
    fresh = dict(chosen)
    for _ in range(MAX_ROUNDS):
        text = "\n".join(e.content for e in fresh.values()
                         if not _flag(e, "prevent_recursion", "preventRecursion"))
        if not text.strip():
            return
        matcher = Matcher(key_index(book), text)
        fresh = {i: e for i, e in enumerate(book.entries)
                 if i not in chosen and usable(i, e) and not e.constant
                 and not _flag(e, "exclude_recursion", "excludeRecursion") and matcher.triggered(i, e)}
        if not fresh:
            return
        chosen.update(fresh)


def timed_active(book: Lorebook, index: int, entry: LoreEntry, messages: Sequence[str], now: bool) -> bool:
    """Whether a timed entry is active at the end of ``messages`` (``now``: triggered by this scan)."""
    count = len(messages)
    if count < delay(entry):
        return False
    hold, rest = sticky(entry), cooldown(entry)
    if not hold and not rest:
        return now
    depth = book.scan_depth
    # a few timer spans back, so the replay reaches a point where the entry was free of its timers
    first = max(1, count - min(REPLAY_LIMIT, 3 * (hold + rest + 1)))
    active_until = cooling_until = 0
    active = False
    for length in range(first, count + 1):  # the chat as it was after each of its last messages
        if length <= active_until:
            active = True
            continue
        if length <= cooling_until:
            active = False
            continue
        if length == count:
            triggered = now
        else:
            window = messages[max(0, length - depth):length] if depth > 0 else []
            triggered = bool(window) and Matcher(key_index(book), "\n".join(window)).triggered(index, entry)
        active = triggered
        if triggered:
            active_until = length + hold
            cooling_until = active_until + rest
    return active
