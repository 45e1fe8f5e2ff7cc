"""Helpers shared by the memory tests: a deterministic embedder, settings for driving memory/ directly, the
real model loaded once per test process, and a fake-Claude responder speaking the consolidation format."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import PROJECT_ROOT, Settings, load_settings
from bot.core.timers import Dispatcher, Timers
from bot.runtime.jobs import MemoryJobs, daily_rounds
from database.records import SeenMessage
from database.store import Store
from memory.consolidation_report import ConsolidationReport
from memory.embeddings import Embedder, SentenceEmbedder
from memory.service import MemoryService
from tests.fakes.claude_models import lineup_capabilities

FINN = PROJECT_ROOT / "characters" / "finn"
FACT_LINE = re.compile(r"FACT\[(?P<category>\w+)\]:\s*(?P<fact>[^\n]+)")
# How the extraction prompt dates a message.
MESSAGE_DATE = re.compile(r"\[(?P<day>\d{4}-\d\d-\d\d) \d\d:\d\d\] ")
HAPPENED = re.compile(r"\s*HAPPENED\[(?P<day>\d{4}-\d\d-\d\d)\]")
FEEL_LINE = re.compile(r"FEEL\[(?P<metric>\w+)\]:\s*(?P<delta>-?[\d.]+)")
T = TypeVar("T")


async def on_a_copy(template: Path, path: Path, run: Callable[[Store], Awaitable[T]]) -> T:
    """``run`` on a database of its own: a copy of the migrated SQLite ``template`` at ``path`` (not the
    test's own store's file), closed after."""
    shutil.copyfile(template, path)
    other = await Store(f"sqlite+aiosqlite:///{path}").open()
    try:
        return await run(other)
    finally:
        await other.close()


class HashEmbedder:
    """Bag-of-words vectors (hashed into 256 dimensions, normalised): the same words give the same vector, so
    identical facts match and unrelated ones do not, without loading a model. Counts its calls."""

    dim = 256
    floors = (0.0, 0.0, 0.0)  # hashed words' cosines are not a model's: recall's floor is the model's

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(sentences), self.dim), dtype="<f4")
        for row, sentence in enumerate(sentences):
            for word in re.findall(r"[a-z0-9']+", sentence.lower()):
                out[row, int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(),
                                        "little") % self.dim] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1
        return out / norms


_REAL: SentenceEmbedder | None = None


def real_embedder() -> SentenceEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once per test process (memory.embeddings caches the model)."""
    global _REAL
    if _REAL is None:
        _REAL = SentenceEmbedder()
    return _REAL


def memory_settings(db_url: str, claude_url: str = "http://127.0.0.1:9", **overrides: Any) -> Settings:
    env = {"DISCORD_TOKEN": "x", "ANTHROPIC_API_KEY": "fake-anthropic-key", "ANTHROPIC_BASE_URL": claude_url,
           "DATABASE_URL": db_url, "SUMMARIZE_TIMEOUT": "5", "LLM_TIMEOUT": "5",
           "DEFAULT_MODEL": "claude-test-default",
           # the test names stand for the lineup the suite runs on (KINDRED_TEST_LINEUP), as in the harness
           "MODEL_CAPABILITIES": lineup_capabilities(),
           **{k.upper(): str(v) for k, v in overrides.items()}}
    return load_settings(FINN, None, environ=env)


async def consolidate_round(store: Store, claude: ClaudeClient, settings: Settings, embedder: Embedder,
                            now: datetime | None = None) -> ConsolidationReport:
    """A consolidation as the bot runs it, without a bot: the memory's daily round (bot/runtime/jobs.py)
    registered on a timer loop of its own and run at ``now`` through it; its report, once the archive's
    vectors it starts are written too."""
    key = settings.character_name_slug
    persona = CharacterSource(FINN, None, environ={}).current
    memory = MemoryService(settings.memory, store, claude, key, persona, embedder=embedder)
    jobs = MemoryJobs(memory, settings.memory, settings.storage, lambda line: None)

    async def new_day(at: datetime) -> str:  # the character's mood is not these tests'
        return ""

    rounds = daily_rounds(key, settings.memory, jobs, new_day, skip=("mood", "retention", "summary-sweep"))
    try:
        result = await Dispatcher(Timers(store.timers), rounds=rounds).run_round(f"consolidation:{key}", now)
        await memory.consolidator.embedded()
    finally:
        await memory.close()
    assert jobs.last is not None and jobs.last.describe() == result, result
    return jobs.last


def seen(message_id: int, author: int, text: str, *, channel: int = 10, dm: bool = False, bot: bool = False,
         name: str | None = None, at: datetime | None = None) -> SeenMessage:
    return SeenMessage(message_id, channel, None if dm else 1, author, name or f"user{author}", bot, dm, text,
                       at or datetime.now(UTC))


def last_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)


def first_user_text(body: dict[str, Any]) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "\n".join(b.get("text", "") for b in content)


def extraction_answer(body: dict[str, Any]) -> str:
    """A well-formed consolidation answer computed from the request: every "FACT[category]: text" in the
    messages is a fact, every "FEEL[metric]: delta" a relationship change (deterministic, so a re-run
    gives the
    same answer)."""
    text = first_user_text(body)
    facts: list[dict[str, Any]] = []
    said = None
    for line in text.splitlines():  # as Claude would: each fact dated by the message it is in
        stamp = MESSAGE_DATE.match(line)
        said = stamp["day"] if stamp else said
        if stamp and line[stamp.end():].startswith("(context) "):
            continue  # someone else's line, shown for what the person answers: no fact of theirs
        for m in FACT_LINE.finditer(line):
            fact = {"fact": m["fact"].strip(), "category": m["category"], "said": said}
            happened = HAPPENED.search(fact["fact"])
            if happened:  # "FACT[...]: ... HAPPENED[2026-01-10]": when the person said it happened
                fact.update(fact=HAPPENED.sub("", fact["fact"]).strip(), happened=happened["day"])
            facts.append(fact)
    feel: dict[str, float] = {}
    for m in FEEL_LINE.finditer(text):
        feel[m["metric"]] = feel.get(m["metric"], 0.0) + float(m["delta"])
    return json.dumps({"facts": facts, "relationship": feel})


def is_extraction(body: dict[str, Any]) -> bool:
    return '"facts"' in first_user_text(body)


def consolidation_responder(other: Callable[[dict[str, Any]], str | None] | None = None
                            ) -> Callable[[dict[str, Any]], str | None]:
    def respond(body: dict[str, Any]) -> str | None:
        if is_extraction(body):
            return extraction_answer(body)
        if "what mood you are in today" in first_user_text(body):
            return "Bright as a spring tide."
        return other(body) if other is not None else None

    return respond


def fact_texts(rows: Sequence[Any]) -> list[str]:
    return sorted(r.fact for r in rows)


def tmp_db(tmp_path: Path, name: str = "k.db") -> str:
    return f"sqlite+aiosqlite:///{tmp_path / name}"


REPEATS = 0.8  # the share of a recalled line's words another line of the request holds for it to repeat that


def recalled_repeats(body: str) -> tuple[int, int]:
    """(tokens of the recalled lines, tokens of those that repeat the request): a recalled fact or excerpt
    ("- ..." in ``<recalled_facts>``) most of whose words (REPEATS, stemmed, function words out) one other
    line of the request holds, or an earlier recalled line does."""
    from bot.core.tokens import count_tokens
    from memory.lexical import terms

    start = body.find("<recalled_facts")
    if start < 0:
        return 0, 0
    block, end = body[start:].split("</recalled_facts>", 1)
    rest = [set(terms(line)) for line in (body[:start] + end).splitlines()]
    rest = [words for words in rest if words]
    total = repeated = 0
    for line in block.splitlines():
        if not line.startswith("- "):
            continue
        said = line[2:].split(": ", 1)[1] if re.match(r"- \w+: \"", line) else line[2:]
        words = set(terms(said))
        n = count_tokens(line)
        total += n
        if words and any(len(words & other) >= REPEATS * len(words) for other in rest):
            repeated += n
        rest.append(words)
    return total, repeated
