"""Recall: the user's long-term facts that belong in this reply's prompt, within a token budget.

Registered as a :attr:`bot.reply.engine.ReplyEngine.context_providers` entry. In order, as long as they fit in
``recall_token_budget`` tokens:

1. pinned facts (an admin pinned them: always relevant, never expire);
2. the facts most similar to the message being answered (cosine similarity of embeddings);
3. the most referenced facts (what the user talks about most), most recently mentioned first on ties.

Facts not mentioned for ``fact_expiry_days`` are left out even before the daily job prunes them; facts learnt
in direct messages are recalled only in direct messages. Relationship metrics and the daily mood reach the
prompt separately (bot/reply/prompting.py), read from the database at every reply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot.core.config import MemorySettings
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming
from bot.core.tokens import count_tokens
from database.models import utcnow
from database.records import FactRow, PromptData
from memory.consent import Consent
from memory.embeddings import Embedder, encode_async
from memory.facts import FactCache, FactIndex

log = logging.getLogger(__name__)

# Below this a fact is not "about" the message; the most-referenced pass may still add it.
MIN_SIMILARITY = 0.3
MAX_SIMILAR = 12
MIN_LINE_TOKENS = 4  # "- x\n": nothing shorter fits in what is left
MAX_MISSES = 25  # stop looking for a fact short enough for the rest of the budget


def choose(index: FactIndex, query: np.ndarray | None, *, budget: int, private: bool, now: datetime,
           expiry_days: int) -> list[FactRow]:
    """The facts to recall, in prompt order, within ``budget`` tokens (each fact costs its line's tokens).

    Filtering and ranking are numpy operations over the whole index; only the few candidates that can fill
    the budget are looked at one by one, so thousands of facts cost little more than a handful."""
    n = len(index.rows)
    if not n or budget <= 0:
        return []
    allowed = np.ones(n, dtype=bool)
    if expiry_days:
        allowed &= index.pinned | (index.last_mentioned >= (now - timedelta(days=expiry_days)).timestamp())
    if not private:
        allowed &= ~index.private
    order = index.by_references
    pinned = order[(index.pinned & allowed)[order]].tolist()
    similar: list[int] = []
    if query is not None:
        scores = np.where(allowed, index.scores(query), -np.inf)
        top = min(MAX_SIMILAR, n)
        best = np.argpartition(-scores, top - 1)[:top]
        similar = [int(i) for i in best[np.argsort(-scores[best])] if scores[i] >= MIN_SIMILARITY]
    chosen: list[FactRow] = []
    seen: set[int] = set()
    left = budget
    misses = 0
    for i in (*pinned, *similar, *(int(i) for i in order)):
        if i in seen or not allowed[i]:
            continue
        seen.add(i)
        cost = index.costs.get(i)
        if cost is None:
            cost = index.costs[i] = count_tokens(line(index.rows[i]))
        if cost <= left:
            chosen.append(index.rows[i])
            left -= cost
            misses = 0
        else:
            misses += 1
        if left < MIN_LINE_TOKENS or misses >= MAX_MISSES:
            break
    return chosen


def line(row: FactRow) -> str:
    return f"- {row.fact}\n"


def render(facts: Sequence[FactRow], user: str) -> str:
    if not facts:
        return ""
    return (f"[What you remember about {user} from earlier days "
            "(bring it up only where it fits; never recite "
            "it)]\n" + "".join(line(f) for f in facts).rstrip("\n"))


class Recall:
    def __init__(self, cache: FactCache, embedder: Embedder, settings: MemorySettings,
                 consent: Consent) -> None:
        self.cache = cache
        self.embedder = embedder
        self.settings = settings
        self.consent = consent

    async def facts_for(self, user_id: int, text: str, *, private: bool, now: datetime | None = None,
                        stamp: tuple[Any, ...] | None = None, budget: int | None = None) -> list[FactRow]:
        """``budget``: tokens of facts (default ``recall_token_budget``; more for memory questions)."""
        now = now or utcnow()
        index = await self.cache.get(user_id, stamp)
        if not index.rows:
            return []
        query: np.ndarray | None = None
        # The model is only loaded (and a message only encoded) when there is something to compare with.
        if text.strip() and len(index.positions):
            query = (await encode_async(self.embedder, [text]))[0]
        budget = self.settings.recall_token_budget if budget is None else budget
        return choose(index, query, budget=budget, private=private, now=now,
                      expiry_days=self.settings.fact_expiry_days)

    async def provide(self, persona: Persona, msg: Incoming, data: PromptData | None = None, *,
                      budget: int | None = None) -> str:
        """The context provider: '' when there is nothing to recall (or the user is not remembered).
        ``data``: the prompt data of this reply, which already holds the user's consent answer; ``budget``:
        see facts_for."""
        budget = self.settings.recall_token_budget if budget is None else budget
        if budget <= 0 or msg.author_is_bot:
            return ""
        remembered = (self.consent.allows(data.memory_consent, await self.consent.mode_for(msg.guild_id))
                      if data is not None else await self.consent.remembers(msg.author_id, msg.guild_id))
        if not remembered:
            return ""
        facts = await self.facts_for(msg.author_id, msg.content, private=msg.is_dm,
                                     stamp=data.fact_stamp if data is not None else None, budget=budget)
        return render(facts, msg.author_name)
