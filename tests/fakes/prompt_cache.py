"""Anthropic's prompt caching rules, applied by the fake Claude (tests/fakes/claude_server.py) to request
bodies, so that a test or benchmark can read from ``usage`` how much of a prompt the real API would have
served from its cache.

The rules, as documented (docs.claude.com, "Prompt caching"):

* The prompt is one sequence of blocks in the order tools, system, messages (a plain-string system prompt
  or message content is one text block). A cache entry is the whole prefix up to and including a block
  that carries ``cache_control`` (a breakpoint), per model; ``cache_control`` itself is not part of it.
* At most :data:`MAX_BREAKPOINTS` breakpoints per request; more is a 400 ``invalid_request_error``.
* A hit needs an exact prefix match with an entry written earlier. For each breakpoint the API looks for
  an entry ending at that breakpoint, then at each earlier block boundary, at most :data:`LOOKBACK` blocks
  back (then moves on to the previous breakpoint); the longest hit is read.
* Every breakpoint whose prefix reaches the model's minimum cacheable length (:func:`minimum_tokens`) is
  written; what lies between the read prefix and the last such breakpoint is reported as
  ``cache_creation_input_tokens``, what follows the last breakpoint as ``input_tokens``. A shorter prefix
  is simply not cached: no error.
* An entry lives 5 minutes (``"ttl": "1h"``: one hour) from its last write or read. ``ttl`` takes "5m" or
  "1h" only, and when a request mixes them every 1-hour breakpoint must come before every 5-minute one in
  prompt order (tools, system, messages); either mistake is a 400 ``invalid_request_error``.

Token counts are a deterministic approximation, not a tokenizer: a block costs ``len(text) // 4 + 1``
(:func:`estimate_tokens`; a non-text block is counted on its canonical JSON). Ratios between cached and
uncached parts are what tests and benchmarks read, and those only need the same count on both sides.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LOOKBACK", "MAX_BREAKPOINTS", "Block", "CacheUsage", "PromptCache", "blocks", "estimate_tokens",
           "minimum_tokens"]

MAX_BREAKPOINTS = 4
LOOKBACK = 20
"""How many block boundaries before a breakpoint the API checks for a hit."""
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}

# Minimum cacheable prompt length per model family, from the documentation's table (checked November
# 2026): the first prefix of the model name that matches wins.
_MINIMUMS: tuple[tuple[str, int], ...] = (
    ("claude-sonnet-5-5", 512), ("claude-opus-5-5", 512), ("claude-haiku-5-5", 512),
    ("claude-sonnet-5", 1024), ("claude-opus-5", 1024),
    ("claude-opus-4-6", 4096), ("claude-opus-4-5", 4096), ("claude-haiku-4-5", 4096),
    ("claude-3-5-haiku", 2048), ("claude-3-haiku", 2048), ("claude-haiku-3", 2048),
)
SONNET_OPUS_MINIMUM = 1024  # Sonnet 4.6/4.5/4/3.7, Opus 4.1/4, and any other non-Haiku model name
HAIKU_MINIMUM = 2048  # a Haiku the table does not name (test names such as "claude-test-haiku")


def minimum_tokens(model: str) -> int:
    """The minimum cacheable prompt length (tokens up to a breakpoint) for ``model``."""
    from tests.fakes.claude_models import real_model

    model = real_model(model)
    for prefix, tokens in _MINIMUMS:
        if model.startswith(prefix):
            return tokens
    return HAIKU_MINIMUM if "haiku" in model else SONNET_OPUS_MINIMUM


def estimate_tokens(text: str, model: str | None = None) -> int:
    """The fake's token estimate for one block or one reply: about four characters per token, and about
    30 % more on the 5.x tokenizer (``model``: the request's; tests/fakes/claude_models.py)."""
    base = len(text) // 4 + 1
    if model is None:
        return base
    from tests.fakes.claude_models import token_factor

    return math.ceil(base * token_factor(model))


@dataclass(frozen=True)
class Block:
    """One prompt block in cache order: where it sits (tool, system or the message's role), its canonical
    text, whether it is a breakpoint, and the breakpoint's ttl."""

    tag: str
    text: str
    breakpoint: bool
    ttl: str | None = None


def _block(tag: str, block: Any) -> Block:
    if isinstance(block, str):
        return Block(tag, block, False)
    if not isinstance(block, dict):
        return Block(tag, str(block), False)
    control = block.get("cache_control")
    if block.get("type", "text") == "text" and isinstance(block.get("text"), str):
        text = block["text"]
    else:
        text = json.dumps({k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True)
    ttl = control.get("ttl") if isinstance(control, dict) else None
    return Block(tag, text, control is not None, ttl)


def blocks(body: dict[str, Any]) -> list[Block]:
    """Every block of the request's prompt, in cache order (tools, system, messages)."""
    out = [_block("tool", tool) for tool in body.get("tools") or []]
    system = body.get("system")
    if system:
        out.extend(_block("system", b) for b in ([system] if isinstance(system, str) else system))
    for message in body.get("messages") or []:
        content = message.get("content", "") if isinstance(message, dict) else message
        role = str(message.get("role")) if isinstance(message, dict) else "?"
        out.extend(_block(role, b) for b in ([content] if isinstance(content, str) else content))
    return out


@dataclass(frozen=True)
class CacheUsage:
    """A request's input tokens, split as the API reports them (they add up to the prompt's size)."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    written_1h: int = 0  # of cache_creation_input_tokens, those written with a one-hour ttl

    @property
    def total(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


class PromptCache:
    """The server side of prompt caching: entries written by earlier requests, read by later ones.

    ``min_tokens`` None applies each model's documented minimum; a number applies that one to every model
    (0: cache any prefix, for tests whose prompts are a few words). ``clock`` (seconds) drives the ttl.
    """

    def __init__(self, *, min_tokens: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.min_tokens = min_tokens
        self.clock = clock
        self._entries: dict[bytes, tuple[float, float]] = {}  # prefix key -> (expiry, its ttl), seconds

    def clear(self) -> None:
        self._entries.clear()

    def minimum(self, model: str) -> int:
        return minimum_tokens(model) if self.min_tokens is None else self.min_tokens

    @staticmethod
    def problem(body: dict[str, Any]) -> str | None:
        """The 400 the API gives a request with too many breakpoints, an unknown ttl, or a 1-hour
        breakpoint after a 5-minute one, if any."""
        marks = [b for b in blocks(body) if b.breakpoint]
        if len(marks) > MAX_BREAKPOINTS:
            return (f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                    f"Found {len(marks)}.")
        for mark in marks:
            if mark.ttl is not None and mark.ttl not in TTL_SECONDS:
                return f"cache_control.ttl: Input should be '5m' or '1h' (got {mark.ttl!r})"
        seen_short = False
        for mark in marks:
            if (mark.ttl or "5m") == "5m":
                seen_short = True
            elif seen_short:
                return ("A cache_control block with ttl='1h' must not come after a cache_control block with "
                        "ttl='5m': when mixing TTLs, longer TTLs must appear first in the prompt (tools, "
                        "system, messages).")
        return None

    def usage(self, body: dict[str, Any], *, remember: bool = True) -> CacheUsage:
        """What the request reads from and writes to the cache; ``remember`` False leaves the cache alone."""
        parts = blocks(body)
        now = self.clock()
        totals: list[int] = []  # tokens up to and including block i
        running = 0
        model = str(body.get("model"))
        for block in parts:
            running += estimate_tokens(block.text, model)
            totals.append(running)
        marks = [i for i, b in enumerate(parts) if b.breakpoint]
        if not marks:
            return CacheUsage(running, 0, 0)
        keys = _prefix_keys(str(body.get("model")), parts[: marks[-1] + 1])

        def live(i: int) -> bool:
            entry = self._entries.get(keys[i])
            return entry is not None and entry[0] > now

        hit = -1
        for mark in reversed(marks):  # from the last breakpoint back, each looking LOOKBACK blocks back
            found = next((i for i in range(mark, max(-1, mark - LOOKBACK), -1) if live(i)), -1)
            hit = max(hit, found)
        read = totals[hit] if hit >= 0 else 0
        minimum = self.minimum(str(body.get("model")))
        writes = [i for i in marks if totals[i] >= minimum and i > hit]
        written = written_1h = 0
        start = read
        for i in writes:
            segment = totals[i] - start
            written += segment
            written_1h += segment if parts[i].ttl == "1h" else 0
            start = totals[i]
        if remember:
            for i in writes:
                self._entries[keys[i]] = (now + TTL_SECONDS.get(parts[i].ttl or "5m", 300.0),
                                          TTL_SECONDS.get(parts[i].ttl or "5m", 300.0))
            if hit >= 0:  # a read refreshes the entry's lifetime
                seconds = self._entries[keys[hit]][1]
                self._entries[keys[hit]] = (now + seconds, seconds)
            if len(self._entries) > 100_000:  # a long benchmark: forget expired entries
                self._entries = {k: e for k, e in self._entries.items() if e[0] > now}
        return CacheUsage(running - read - written, written, read, written_1h)


def _prefix_keys(model: str, parts: list[Block]) -> list[bytes]:
    """A key per block boundary: the hash of the model and every block up to and including it."""
    digest = hashlib.blake2b(model.encode(), digest_size=16)
    keys = []
    for block in parts:
        digest.update(block.tag.encode() + b"\x1f" + block.text.encode() + b"\x1e")
        keys.append(digest.digest())
    return keys
