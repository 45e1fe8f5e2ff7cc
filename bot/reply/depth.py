"""Notes at a depth of the chat, where SillyTavern puts them: a depth of N is before the N-th message from
the end (the message answered is the first; 0 is after it), so a card's depth prompt and at-depth lore sit
among the last few turns instead of being the last thing the model reads.

The chat before a note is the cached history, so the cache breakpoint moves to the block just before the
deepest note: the turns after it are re-sent each time (a few), and the next request, whose note sits two
turns later, reads this one's entry within the API's look-back. A note never goes inside the character's
own turn (it would read as its words): before an assistant turn it ends the user turn before.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.reply.transcript import LOOKBACK
from database.boundary import JsonObject

BREAKPOINTS = 4  # the API's limit per request


def place_at_depth(messages: list[JsonObject], notes: Sequence[tuple[int, str]], system_marks: int, *,
                   after: int = 0) -> None:
    """Insert each ``(depth, text)`` note (depth >= 1, deepest first) into ``messages``, the request's whole
    chat (its first block the opening one: a DM's cached opening or a channel's header), and move the
    chat's cache breakpoints before the deepest note; ``system_marks``: breakpoints the system part uses;
    ``after``: blocks at the end that follow the message answered (a DM's notes after it), no message."""
    notes = [(d, t) for d, t in notes if d >= 1 and t.strip()]
    if not notes or not messages:
        return
    for m in messages:
        if isinstance(m["content"], str):
            m["content"] = [{"type": "text", "text": m["content"]}]
    units = [(mi, bi) for mi, m in enumerate(messages) for bi in range(len(m["content"]))
             if (mi, bi) != (0, 0)]
    units = units[:len(units) - after]
    merged: dict[int, list[str]] = {}
    for depth, text in notes:  # one block per place: the deeper notes first
        merged.setdefault(max(0, len(units) - depth), []).append(text)
    placed: list[JsonObject] = []
    for at in sorted(merged, reverse=True):  # from the end, so the earlier places keep their indexes
        block: JsonObject = {"type": "text", "text": "\n\n".join(merged[at])}
        placed.append(block)
        mi, bi = units[at] if at < len(units) else (len(messages) - 1, len(messages[-1]["content"]))
        if bi == 0 and messages[mi]["role"] == "assistant":
            messages[mi - 1]["content"].append(block)  # the end of the user turn before it
        else:
            messages[mi]["content"].insert(bi, block)
    opening = messages[0]["content"][0]
    flat = [b for m in messages for b in m["content"]]
    for b in flat:
        if b is not opening:
            b.pop("cache_control", None)
    deepest = min(flat.index(b) for b in placed)
    left = BREAKPOINTS - system_marks - (1 if "cache_control" in opening else 0)
    for n in range(max(0, left)):
        index = deepest - 1 - n * LOOKBACK
        if index < 1:
            break
        flat[index]["cache_control"] = {"type": "ephemeral"}
