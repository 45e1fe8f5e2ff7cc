"""The requests this process sent to the model lately, as sent, for the operator's prompt inspector
(the dashboard's /prompts page; SillyTavern's "prompt itemization").

:class:`SentLog` is a ring bounded by what it holds (:data:`KEPT_BYTES` of text, and :data:`KEPT` requests at
most, per process, in memory only: a restart or a second process starts empty), filled by the model client
with each answered call: the request as its backend shaped it, less the bytes of its images and documents
(their kind and size stay: the inspector itemizes text; a 4-image DM would otherwise hold some 21 MB), the
labelled parts the prompt layout placed in it (``Prompt.parts``, written by bot/reply/prompting.py; no second
copy of the layout here), and the usage the answer reported. It is kept only while the dashboard is served
(its one reader; none without it); anyone who can DM the bot fills it, so its memory is bounded by bytes.
/forget_me takes a person's requests out (:meth:`SentLog.forget`).

:func:`itemize` splits each block of such a request into those parts (text no part claims is named by where
it stands: ``system``, ``transcript``, the character's own turns), counts each part's tokens with the
project's counter (bot/core/tokens.py, an estimate of Claude's), and says which were read from the cache:
the usage gives how many of the prompt's tokens were read and written, the breakpoints where entries end,
and the blocks are mapped onto those figures by their counted size.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.models.base import CallUsage
from bot.core.tokens import count_tokens
from database.boundary import Json, JsonObject

KEPT = 50
KEPT_BYTES = 8 * 2**20  # what the kept requests may hold (Python's size of their text); the oldest go first
FORGETS_KEPT = 1024  # people forgotten lately whose requests still in flight are not kept when answered
LAYOUT = "layout: tags and headers"
READ, WRITTEN, UNCACHED = "read from cache", "written to cache", "not cached"
# Claude's tokens and ours differ a little: a block whose counted end lies within this share of the
# read figure is taken as read.
SLACK = 0.03


@dataclass(frozen=True)
class SentRequest:
    number: int  # counts up from 1 in this process
    at: datetime
    purpose: str  # "reply", "vote", "summary", ...
    model: str
    user_id: int | None
    request: JsonObject  # what the backend sent: model, system, messages, ...
    parts: tuple[tuple[str, str], ...]  # (label, text) as the layout placed them
    usage: CallUsage
    answer: str
    held: int = 0  # bytes it holds, as SentLog counts them
    people: frozenset[int] = frozenset()  # whose words it quotes besides user_id's (Prompt.people)

    @property
    def private(self) -> bool:
        """A DM's request (the layout's "where" part says so): its text is the operator's only."""
        return any(label == "where" and "private direct message" in text for label, text in self.parts)


class SentLog:
    """The latest answered requests of this process, newest last: :data:`KEPT` at most, and no more than
    ``budget`` bytes of them (the newest is kept whatever its size: one request is bounded by the model's
    context)."""

    def __init__(self, kept: int = KEPT, budget: int = KEPT_BYTES) -> None:
        self._ring: deque[SentRequest] = deque(maxlen=kept)
        self._numbers = itertools.count(1)
        self.budget = budget
        self.held = 0  # bytes the kept requests hold
        self._forgotten: OrderedDict[int, float] = OrderedDict()  # person -> when (monotonic) forgotten

    def add(self, *, purpose: str, model: str, user_id: int | None, request: JsonObject,
            parts: Sequence[tuple[str, str]], usage: CallUsage, answer: str, at: datetime,
            begun: float | None = None, people: frozenset[int] = frozenset()) -> None:
        """Keep an answered request. ``begun`` (``time.monotonic()`` when the call began): a request for or
        quoting someone forgotten since (a reply in flight during their /forget_me) is not kept."""
        if begun is not None and any(self._forgotten.get(p, float("-inf")) >= begun
                                     for p in (user_id, *people) if p is not None):
            return
        # The request's dicts are the SDK's to send and ours to keep: nothing mutates them after sending, and
        # the slim copy shares all but the containers of the bytes it leaves out.
        slim, size = slimmed(request)
        kept_parts = tuple(parts)
        size += sum(sys.getsizeof(label) + sys.getsizeof(text) for label, text in kept_parts)
        size += sys.getsizeof(answer)
        if len(self._ring) == self._ring.maxlen:
            self.held -= self._ring[0].held
        self._ring.append(SentRequest(next(self._numbers), at, purpose, model, user_id, slim, kept_parts,
                                      usage, answer, size, people))
        self.held += size
        while self.held > self.budget and len(self._ring) > 1:
            self.held -= self._ring.popleft().held

    def forget(self, user_id: int, now: float) -> int:
        """Take out every request made for or quoting ``user_id`` (their /forget_me), and keep none still in
        flight (begun before ``now``, a ``time.monotonic()``). Returns how many were taken out."""
        self._forgotten.pop(user_id, None)
        self._forgotten[user_id] = now
        while len(self._forgotten) > FORGETS_KEPT:
            self._forgotten.popitem(last=False)
        kept = [r for r in self._ring if r.user_id != user_id and user_id not in r.people]
        gone = len(self._ring) - len(kept)
        if gone:
            self._ring.clear()
            self._ring.extend(kept)
            self.held = sum(r.held for r in kept)
        return gone

    def recent(self) -> list[SentRequest]:
        return list(reversed(self._ring))

    def get(self, number: int) -> SentRequest | None:
        return next((r for r in self._ring if r.number == number), None)

    def __len__(self) -> int:
        return len(self._ring)


OMITTED = "omitted_bytes"  # what a left-out source says instead of its data: how long the data was


def slimmed(request: JsonObject) -> tuple[JsonObject, int]:
    """``request`` without the data of its base64 sources (images, PDFs: ``{"type": "base64", "data": ...}``,
    which keep their media type and say how long the data was), and the bytes the copy holds. Containers
    are copied only on the way to a source left out; everything else is shared with ``request``."""
    size = 0

    # Scalars are sized where they stand and only containers are walked: the count runs on the event loop
    # for every answered request, and a call per string was most of its cost.
    def walk(value: Json) -> Json:
        nonlocal size
        size += sys.getsizeof(value)
        if isinstance(value, dict):
            if value.get("type") == "base64" and isinstance(value.get("data"), str):
                out = {k: v for k, v in value.items() if k != "data"}
                out[OMITTED] = len(value["data"])
                size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in out.items())
                return out
            copy: dict[str, Json] | None = None
            for k, v in value.items():
                size += sys.getsizeof(k)
                if type(v) is dict or type(v) is list:
                    w = walk(v)
                    if w is not v:
                        if copy is None:
                            copy = dict(value)
                        copy[k] = w
                else:
                    size += sys.getsizeof(v)
            return value if copy is None else copy
        if isinstance(value, list):
            items: list[Json] | None = None
            for i, v in enumerate(value):
                if type(v) is dict or type(v) is list:
                    w = walk(v)
                    if w is not v:
                        if items is None:
                            items = list(value)
                        items[i] = w
                else:
                    size += sys.getsizeof(v)
            return value if items is None else items
        return value

    slim = walk(request)
    assert isinstance(slim, dict)
    return slim, size


@dataclass(frozen=True)
class Item:
    """One part of one block of the request."""

    where: str  # "system" or the message's role and number: "user 1", "assistant 2"
    label: str
    text: str
    tokens: int
    cache: str  # READ, WRITTEN or UNCACHED
    breakpoint: bool  # the block it ends carries cache_control


@dataclass(frozen=True)
class Block:
    where: str
    text: str
    breakpoint: bool
    default: str  # the label of text no part claims


def blocks(request: JsonObject) -> Iterator[Block]:
    """The request's text blocks in the API's prompt order (tools, system, then messages)."""
    for tool in request.get("tools") or []:
        declared = {k: v for k, v in tool.items() if k != "cache_control"} if isinstance(tool, dict) else tool
        yield Block("tools", json.dumps(declared, sort_keys=True), isinstance(tool, dict) and "cache_control"
                    in tool, "tools")
    system = request.get("system") or []
    for b in [{"text": system}] if isinstance(system, str) else system:
        yield Block("system", b.get("text", ""), "cache_control" in b, "system")
    for n, message in enumerate(request.get("messages") or [], 1):
        role = message.get("role", "user")
        default = "transcript: the character's turn" if role == "assistant" else "transcript"
        content = message.get("content", "")
        for b in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            text = b.get("text", "") if b.get("type", "text") == "text" else placeholder(b)
            yield Block(f"{role} {n}", text, "cache_control" in b, default)


def placeholder(block: JsonObject) -> str:
    """What stands for a block that is not text: its kind, and for a source left out its media type and
    size (``[image block: image/png, 5,242,880 bytes of base64]``)."""
    source = block.get("source")
    if isinstance(source, dict) and OMITTED in source:
        return (f"[{block.get('type')} block: {source.get('media_type', '?')}, "
                f"{source[OMITTED]:,} bytes of base64]")
    return f"[{block.get('type')} block]"


def split(text: str, parts: Sequence[tuple[str, str]], default: str) -> list[tuple[str, str]]:
    """``text`` as (label, piece): each part found in it (first place not yet claimed), the rest under
    ``default``; blank pieces between parts are left out (their tokens are the block's)."""
    claimed: list[tuple[int, int, str]] = []
    for label, part in parts:
        if not part.strip():
            continue
        start = text.find(part)
        while start >= 0 and any(s < start + len(part) and start < e for s, e, _ in claimed):
            start = text.find(part, start + 1)
        if start >= 0:
            claimed.append((start, start + len(part), label))
    # Around named parts in a turn, what is left is the layout's own text (tags, headers), or what the turn
    # stands for (a line of the transcript: a DM's earlier turn opens with the notes pinned to it); a block
    # with no named part is what it stands for (the system prompt, a turn of the transcript).
    def rest(piece: str) -> str:
        if not claimed or default == "system":
            return default
        return LAYOUT if _layout_only(piece) else default

    out: list[tuple[str, str]] = []
    at = 0
    for start, end, label in sorted(claimed):
        if text[at:start].strip():
            out.append((rest(text[at:start]), text[at:start].strip()))
        out.append((label, text[start:end]))
        at = end
    if text[at:].strip():
        out.append((rest(text[at:]), text[at:].strip()))
    return out


def _layout_only(piece: str) -> bool:
    """Whether ``piece`` is only the layout's tags and headers (each line a ``<tag>``, ``[header]`` or
    ``## heading``), not a person's or the character's words."""
    lines = [line.strip() for line in piece.splitlines() if line.strip()]
    return all((line.startswith("<") and line.endswith(">")) or (line.startswith("[") and line.endswith("]"))
               or line.startswith("#") for line in lines)


def itemize(sent: SentRequest) -> list[Item]:
    """The request part by part, each with its tokens and whether the model read it from the cache."""
    found = list(blocks(sent.request))
    sizes = [count_tokens(b.text) for b in found]
    usage = sent.usage
    # Our count scaled to the model's: everything the prompt cost (read, written, and the rest).
    real = usage.cache_read_tokens + usage.cache_creation_tokens + usage.input_tokens
    scale = real / sum(sizes) if sum(sizes) else 1.0
    last_breakpoint = max((i for i, b in enumerate(found) if b.breakpoint), default=-1)
    items: list[Item] = []
    end = 0
    for i, (block, size) in enumerate(zip(found, sizes, strict=True)):
        end += size
        if i > last_breakpoint:
            cache = UNCACHED
        elif end * scale <= usage.cache_read_tokens * (1 + SLACK) + 1 and usage.cache_read_tokens:
            cache = READ
        else:
            cache = WRITTEN if usage.cache_creation_tokens else UNCACHED
        pieces = split(block.text, sent.parts, block.default)
        for n, (label, text) in enumerate(pieces):
            items.append(Item(block.where, label, text, count_tokens(text), cache,
                              block.breakpoint and n == len(pieces) - 1))
    return items


def totals(items: Sequence[Item]) -> dict[str, int]:
    """Tokens per label, in the order the labels first appear."""
    out: dict[str, int] = {}
    for item in items:
        out[item.label] = out.get(item.label, 0) + item.tokens
    return out
