"""Where a request's cache breakpoints go and how long each lives: the lifetime policy (issue 48).

Prompt builders mark the blocks worth caching (bot/reply/prompting.py); this pass, run on the request as it
is shaped for its model (bot/core/models/anthropic.py), decides what the marks become:

* A breakpoint whose prefix (tools, system, messages up to and including its block) is shorter than the
  model's minimum cacheable length (the capability table's ``min_cache_tokens``) caches nothing: its mark is
  dropped, so it neither counts against the 4-breakpoint limit nor pretends to save anything.
* Each remaining breakpoint lives 5 minutes or 1 hour, whichever the conversation's own pace pays for. A
  5-minute entry is refreshed free by every read within 5 minutes; after a longer pause the next request
  writes the whole prefix again (1.25x instead of 0.1x). A 1-hour entry costs 2x to write instead of 1.25x,
  on what the request newly writes at that breakpoint. So the hour pays when
  ``share of recent gaps between 5 minutes and 1 hour x 1.15 x prefix > 0.75 x newly written``:
  a long history with even one long pause among the last dozen; a short prompt never read after a pause
  does not. A conversation with no long pause keeps today's 5-minute entries (back to back costs the same).
* The API requires every 1-hour breakpoint to come before every 5-minute one (prompt order): a breakpoint
  before a 1-hour one is 1 hour too (it is the stable part, written once and read after).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from bot.core.tokens import count_tokens
from database.boundary import Json, JsonObject

SHORT_TTL = 300.0
LONG_TTL = 3600.0
# A gap a little under 5 minutes already loses a 5-minute entry: the entry's clock started at the previous
# request, sent a few seconds after the message it answers.
SHORT_MARGIN = 20.0
RECENT_GAPS = 12  # the pauses the policy looks at: the conversation's latest, as it moves now
# Anthropic's multipliers of the input price: 5-minute write, 1-hour write, read.
WRITE_5M, WRITE_1H, READ = 1.25, 2.0, 0.1


@lru_cache(maxsize=512)
def _tokens(text: str) -> int:
    # The larger of two estimates (the local tokenizer's, and the rule of thumb of 4 characters a token):
    # a breakpoint is dropped only when both say the prefix is short, since keeping one that caches nothing
    # costs nothing and dropping one that would have cached costs a whole prefix. Tokenized once: the same
    # character and person blocks come back on every reply.
    return max(count_tokens(text), len(text) // 4 + 1)


def _text(block: Json) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        text = block.get("text")
        if isinstance(text, str):
            return text
        return str({k: v for k, v in block.items() if k != "cache_control"})
    return str(block)


def _blocks(request: JsonObject) -> list[tuple[JsonObject | None, str]]:
    """Every prompt block in cache order (tools, system, messages) with its dict (None: a plain string,
    which carries no mark)."""
    out: list[tuple[JsonObject | None, str]] = []
    for tool in request.get("tools") or ():
        out.append((tool if isinstance(tool, dict) else None, _text(tool)))
    system = request.get("system")
    for block in [system] if isinstance(system, str) else (system or ()):
        out.append((block if isinstance(block, dict) else None, _text(block)))
    for message in request.get("messages") or ():
        content = message.get("content", "") if isinstance(message, dict) else message
        for block in [content] if isinstance(content, str) else content:
            out.append((block if isinstance(block, dict) else None, _text(block)))
    return out


def long_gap_share(gaps: Sequence[float]) -> float:
    """The share of the latest :data:`RECENT_GAPS` pauses that outlive a 5-minute entry but not an hour's."""
    recent = list(gaps)[-RECENT_GAPS:]
    if not recent:
        return 0.0
    return sum(SHORT_TTL - SHORT_MARGIN <= g < LONG_TTL for g in recent) / len(recent)


def hour_pays(share: float, prefix: float, new: float) -> bool:
    """Whether a 1-hour entry costs less than a 5-minute one on a prefix of ``prefix`` tokens of which
    ``new`` are written by this request, when ``share`` of the next requests come after a long pause."""
    return share * (WRITE_5M - READ) * prefix > (WRITE_1H - WRITE_5M) * new


def place_cache(request: JsonObject, *, min_tokens: int, token_factor: float,
                gaps: Sequence[float] = ()) -> JsonObject:
    """``request`` with its breakpoints decided (see the module): marks under ``min_tokens`` dropped, each
    other one given its lifetime from ``gaps`` (seconds between the conversation's recent messages). The
    caller's blocks are not changed: the marked ones are copied."""
    blocks = _blocks(request)
    marks = [i for i, (block, _) in enumerate(blocks) if block is not None and "cache_control" in block]
    if not marks:
        return request
    # Counting stops once the prefix passes the minimum: later breakpoints all qualify (a long history is
    # never tokenized here). The lifetime arithmetic only needs sizes, so characters / 4 do.
    counted = 0
    reached = len(blocks)
    for i, (_, text) in enumerate(blocks[: marks[-1] + 1]):
        counted += _tokens(text) if text else 0
        if counted * token_factor >= min_tokens:
            reached = i
            break
    sizes = [len(text) / 4 * token_factor for _, text in blocks]
    share = long_gap_share(gaps)
    ttl: dict[int, str | None] = {}
    prefix = 0.0
    upto = 0
    previous = -1
    for i in marks:
        prefix += sum(sizes[upto: i + 1])
        upto = i + 1
        if i < reached:
            ttl[i] = None  # too short to cache: no mark
            continue
        # What this request newly writes here: a message breakpoint's last two blocks (one exchange since
        # the previous request); a system or tool breakpoint is stable, written once and read after.
        in_messages = i >= _first_message_block(request)
        new = sum(sizes[max(previous + 1, i - 1): i + 1]) if in_messages else 0.0
        ttl[i] = "1h" if share and hour_pays(share, prefix, new) else "5m"
        previous = i
    longest = False
    for i in reversed(marks):  # 1-hour entries first in prompt order
        if ttl[i] == "1h":
            longest = True
        elif ttl[i] == "5m" and longest:
            ttl[i] = "1h"
    return _rewritten(request, {id(blocks[i][0]): ttl[i] for i in marks})


def _first_message_block(request: JsonObject) -> int:
    system = request.get("system")
    return len(request.get("tools") or ()) + (1 if isinstance(system, str) else len(system or ()))


def _rewritten(request: JsonObject, ttl: dict[int, str | None]) -> JsonObject:
    """A copy of ``request`` whose marked blocks carry their decided ``cache_control`` (or none)."""

    def block(b: Json) -> Json:
        if not isinstance(b, dict) or id(b) not in ttl:
            return b
        out = {k: v for k, v in b.items() if k != "cache_control"}
        life = ttl[id(b)]
        if life is not None:
            out["cache_control"] = ({"type": "ephemeral", "ttl": "1h"} if life == "1h"
                                    else {"type": "ephemeral"})
        return out

    out = dict(request)
    if request.get("tools"):
        out["tools"] = [block(t) for t in request["tools"]]
    system = request.get("system")
    if isinstance(system, list):
        out["system"] = [block(b) for b in system]
    messages = []
    for message in request.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(isinstance(b, dict) and id(b) in ttl for b in content):
            message = {**message, "content": [block(b) for b in content]}
        messages.append(message)
    out["messages"] = messages
    return out
