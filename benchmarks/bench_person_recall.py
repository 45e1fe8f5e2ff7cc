"""How much of what recall brings a reply the person block already says, over the real wire.

The real bot between the fake Discord and the fake Claude (tests/harness.py), with the shipped embedding
model (the pair, ``embedding_model`` empty). Two people DM Finn, each with a person block as the nightly
passes leave it (core memories written by the summary's core-memory pass, a note of their own words, a
summary) and the facts consolidation kept of the same conversations: some say again what the block says, in
other words (the memory "lives in Leeds with her partner Sam and their greyhound Biscuit" against the facts
"Alice lives in Leeds", "Alice's partner is called Sam"), some in another language than the block's (a fact
kept in Spanish, as the person said it); the rest say something the block does not. alice's block and
facts are in English, with two facts in Spanish; bea's block is in Spanish and so are her facts, but for two
in English. Each asks a greeting, small talk and questions about what the block and the facts hold.

The measure: of the recalled facts' tokens (each ``- ...`` line of ``<recalled_facts>``, as cl100k tokens,
bot/core/tokens.py), the share on facts labelled here as said by the block (:data:`PEOPLE`: by hand, in
whatever language, not by a word list or a threshold of the rule measured); and how often the facts the block
does not say are recalled (what a stricter rule would cost).

Run: .venv/bin/python -m benchmarks.bench_person_recall [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.tokens import count_tokens
from tests.harness import USER2_ID, USER_ID, Harness

REPLY_MODEL = "claude-test-default"


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    memories: tuple[str, ...]  # core memories, as the core-memory pass writes them
    notes: tuple[str, ...]  # their own words, kept with /remember
    summary: str
    said: tuple[str, ...]  # facts the block already says (in other words, or in another language)
    new: tuple[str, ...]  # facts it does not say
    messages: tuple[str, ...]


PEOPLE = (
    Person(USER_ID, "alice",
           ("Alice lives in Leeds with her partner Sam and their greyhound Biscuit.",
            "Alice works night shifts as a nurse at St James's hospital."),
           ("I am vegetarian",),
           "Alice told me she is training for the Leeds half marathon in May. Her sister Beth is getting "
           "married in June.",
           ("Alice lives in Leeds", "Alice's partner is called Sam", "Alice has a greyhound called Biscuit",
            "Alice works as a nurse", "Alice doesn't eat meat", "Alice is training for a half marathon",
            "Alice's sister Beth is getting married", "Alice vive en Leeds con Sam",
            "Alice trabaja de enfermera por la noche"),
           ("Alice bakes sourdough every Sunday", "Alice plays the cello", "Alice is afraid of swans",
            "Alice's partner Sam teaches at a primary school", "Biscuit is scared of thunder",
            "Alice's favourite tea is seafoam chai", "Alice colecciona cristal marino"),
           ("hi finn!", "any ideas for dinner tonight?", "what do you remember about me?",
            "how do you think Biscuit is doing?", "I'm nervous about the race",
            "what should I get my sister for her wedding?", "tell me about Sam", "long night at work again",
            "what should I do this Sunday?")),
    Person(USER2_ID, "bea",
           ("Bea vive en Sevilla y trabaja como arquitecta en un estudio pequeño.",
            "Bea tiene dos gatos, Churro y Canela."),
           ("soy alérgica a los frutos secos",),
           "Bea me contó que está aprendiendo japonés para un viaje a Kioto en otoño.",
           ("Bea vive en Sevilla", "Bea es arquitecta", "Bea tiene un gato que se llama Churro",
            "Bea tiene una gata llamada Canela", "Bea es alérgica a las nueces",
            "Bea está aprendiendo japonés", "Bea planea viajar a Kioto", "Bea is an architect",
            "Bea has two cats"),
           ("Bea toca la guitarra flamenca", "Bea corre por el río cada mañana",
            "A Bea le encanta el gazpacho", "Bea's brother Luis lives in Madrid",
            "Bea tiene miedo a volar", "Churro duerme en su teclado"),
           ("¡hola!", "¿qué me recomiendas cenar hoy?", "¿qué recuerdas de mí?", "¿cómo estarán mis gatos?",
            "estoy nerviosa por el viaje", "mucho trabajo en el estudio esta semana",
            "¿qué hago esta mañana antes del trabajo?", "¿te acuerdas de mi hermano?")),
)


def recalled_lines(body: str) -> list[str]:
    """The recalled facts of a reply request (its ``<recalled_facts>`` lines), without the bullet."""
    out: list[str] = []
    rest = body
    while (start := rest.find("<recalled_facts")) >= 0:
        block, _, rest = rest[start:].partition("</recalled_facts>")
        out += [line[2:] for line in block.splitlines() if line.startswith("- ")]
    return out


async def _setup(h: Harness, person: Person) -> None:
    from sqlalchemy import update

    from database.models import Conversation

    assert h.bot is not None
    key = h.bot.services.pipeline.character_key
    await h.store.people.ensure_user(person.user_id, person.name)
    for memory in person.memories:
        await h.store.memories.add_core_memory(key, person.user_id, memory, source="summary_dm")
    for note in person.notes:
        await h.store.memories.add_core_memory(key, person.user_id, note, source="user")
    told = datetime.now(UTC) - timedelta(days=3)
    for text in (*person.said, *person.new):
        vector = await h.bot.services.memory.embed(text)
        await h.store.facts.add(person.user_id, text, embedding=vector, category="personal", said_at=told)
    # a first exchange opens the DM's conversation, which the summary then tells
    dm = await h.dm_channel_id(person.user_id)
    await h.dm("hey", user=person.user_id)
    await h.replies(dm, 1)
    await h.bot.in_flight.drain()
    async with h.store.engine.begin() as conn:
        await conn.execute(update(Conversation).where(Conversation.user_id == person.user_id).values(
            summary=person.summary, summary_since=datetime.now(UTC) - timedelta(days=2)))


async def run(tmp_path: Path) -> list[dict[str, Any]]:
    """Each reply request's recalled facts, labelled."""
    h = Harness(db_url=f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}", tmp_path=tmp_path,
                config={"timezone": "UTC", "max_typing_time": "0"})
    await h.start_world()
    await h.start_bot()
    rows: list[dict[str, Any]] = []
    try:
        for person in PEOPLE:
            await _setup(h, person)
            dm = await h.dm_channel_id(person.user_id)
            for n, text in enumerate(person.messages, 2):
                await h.dm(text, user=person.user_id)
                await h.replies(dm, n)
                assert h.bot is not None
                await h.bot.in_flight.drain()
                body = h.claude.last_request(REPLY_MODEL).all_text()
                lines = recalled_lines(body)
                unknown = [f for f in lines if f not in person.said and f not in person.new]
                assert not unknown, unknown
                rows.append({"person": person.name, "message": text, "recalled": lines,
                             "tokens": sum(count_tokens(f"- {f}") for f in lines),
                             "said": sum(count_tokens(f"- {f}") for f in lines if f in person.said),
                             "new": [f for f in lines if f in person.new]})
        return rows
    finally:
        await h.close()


def report(rows: list[dict[str, Any]]) -> str:
    tokens = sum(r["tokens"] for r in rows)
    said = sum(r["said"] for r in rows)
    lines = [f"{'person':<7}{'message':<44}{'recalled':>9}{'said':>6}  facts"]
    for r in rows:
        marks = [("*" if f not in r["new"] else "") + f for f in r["recalled"]]
        lines.append(f"{r['person']:<7}{r['message'][:43]:<44}{r['tokens']:>9}{r['said']:>6}  "
                     + "; ".join(marks))
    new_total = sum(len(p.new) for p in PEOPLE)
    new_seen = {f for r in rows for f in r["new"]}
    lines.append(f"recalled fact tokens {tokens}; on facts the person block already says: {said} "
                 f"({said / max(1, tokens):.1%}) (* above)")
    lines.append(f"facts the block does not say recalled at least once: {len(new_seen)} of {new_total}; "
                 f"recalled lines of them: {sum(len(r['new']) for r in rows)}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the per-request rows here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(run(Path(tmp)))
    print(report(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
