"""Where a prompt's tokens go, per request kind: the character (system), the person, recalled facts, lore,
the transcript, the time, and the boilerplate around them (headers, tags, instructions).

Each kind's prompt is built by its real builder (bot/reply/prompting.py, bot/alive/initiative.py,
memory/summarizer.py, memory/consolidation.py) for Finn, with the same fixed data: three core memories, a
summary, three recalled facts, one lore entry, six lines of conversation. Tokens are counted with the
project's counter (bot/core/tokens.py, cl100k); each part is the tokens of the data it shows (its text, as
many times as it is shown), and boilerplate is what is left. Deterministic: no model, no database.

Run: python -m benchmarks.bench_prompt_tokens
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dotenv import dotenv_values

from bot.alive.initiative import SelfPortrait, initiative_prompt
from bot.alive.regard import Regard, room_line, state_line
from bot.core.claude import Prompt
from bot.core.config import PROJECT_ROOT
from bot.core.localtime import DISCORD_EPOCH_MS
from bot.core.persona.loader import load_persona
from bot.core.persona.macros import Moment
from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from bot.core.tokens import count_tokens
from bot.features.checkins.rounds import ASK
from bot.features.proactive.rounds import COMMENT
from bot.reply.prompting import (
    CHANNEL_USER,
    ReplyExtras,
    build_reply_prompt,
    fence,
    format_recent,
)
from bot.reply.voteprompt import build_vote_prompt
from database.records import History, PromptData, RelationshipRecord, SeenMessage, Turn
from memory.batching import Batch, answered_lines, extraction_prompt
from memory.passtext import NEUTRAL_USER
from memory.relationships import lasting
from memory.summarizer import Summarizer
from tests.place_support import place

NOW = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
USER, BOB, BOT_ID = 1001, 1002, 1003
IDENTITY = {"trait": ["Finn hums sea shanties when nervous."], "fact": ["Finn's stall is on pier 3."]}
MOOD = "Cheerful but a little tired after the storm."
CORE = ["Alice is training for a half marathon in March.", "Alice has a cat called Biscuit.",
        "Alice works night shifts as a nurse at Leeds General."]
SUMMARY = ("Alice told Finn about her move to Leeds and her new job. They joked about crabs and Finn "
           "promised her a cup of kelp tea next time she visits the pier.")
REL = RelationshipRecord(anger=0, rapport=8, trust=7, formality=-3)
# the feelings part's one line toward alice (bot/alive/regard.py): glad of her since the afternoon, on the
# ground of the relationship; proactive talk says the room's instead
GLAD = Regard.calm(NOW.replace(hour=17)).moved(("praise",), NOW.replace(hour=17))
FEEL = state_line("alice", GLAD.advanced(NOW), mood=MOOD, lasting=lasting(REL), quiet=True, zone=UTC)
ROOM_FEEL = room_line(Regard.calm(NOW).moved(("warmth",), NOW))
STYLE = "alice writes short, lowercase messages with few emojis; match her register loosely."
FACTS = ["Alice's sister Jo lives in York.", "Alice dislikes coriander.", "Alice ran 10k on Sunday."]
RECALL = "told 2026-11-02:\n" + "\n".join(f"- {f}" for f in FACTS)
LORE = ["The pier festival is held every first full moon of winter; lanterns float on the tide."]
LINES = ["hey finn, long shift again", "Oh no, another one? Sit, I'll pour you some kelp tea.",
         "thanks. biscuit knocked my mug over this morning", "Ha! That cat has opinions about mugs.",
         "are you going to the festival?", "Wouldn't miss it. The lanterns are the best part."]
HISTORY = [Turn("user" if i % 2 == 0 else "assistant", t, i + 1) for i, t in enumerate(LINES)]
MESSAGE = "what should I bring to the festival?"
RECENT = [SeenMessage(100 + i, 5, 7, (USER, BOB, BOT_ID)[i % 3], ("alice", "bob", "Finn")[i % 3],
                      i % 3 == 2, False, t, NOW - timedelta(minutes=20 - i)) for i, t in enumerate(LINES)]
KINDS = ("system", "person", "recall", "lore", "transcript", "time")


def finn() -> Persona:
    folder = PROJECT_ROOT / "characters" / "finn"
    env = {k.lower(): v or "" for k, v in dotenv_values(folder / "character.env").items()}
    return load_persona(Path(folder), env)


def incoming(dm: bool) -> Incoming:
    # its Discord id holds its time (NOW), as a real message's does: a DM's history marks its turns by it
    snowflake = (int(NOW.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22 | 999
    return Incoming(message_id=snowflake, author_id=USER, author_name="alice", content=MESSAGE,
                    created_at=NOW, place=place(5, True) if dm else place(5, False, 7, guild_name="Tide Pool",
                                                                          channel_name="general"))


def texts(prompt: Any) -> list[str]:
    out = [b["text"] for b in prompt.system]
    for m in prompt.messages:
        content = m["content"]
        out += [content] if isinstance(content, str) else [b.get("text", "") for b in content]
    return out


def breakdown(prompt: Any, persona: Persona) -> dict[str, int]:
    """Tokens per part: each piece of data, as often as it is shown; boilerplate is the rest."""
    shown = "\n".join(texts(prompt))
    total = sum(count_tokens(t) for t in texts(prompt))
    rendered = {persona.render(persona.system_prompt, u) for u in ("alice", CHANNEL_USER, NEUTRAL_USER,
                                                                     "everyone")}
    pieces = {"system": [*rendered, *(i for v in IDENTITY.values() for i in v), MOOD, persona.description],
              "person": [*CORE, SUMMARY, FEEL, STYLE], "recall": FACTS, "lore": LORE,
              "transcript": [*LINES, MESSAGE]}
    out = {kind: sum(shown.count(p) * count_tokens(p) for p in dict.fromkeys(ps) if p)
           for kind, ps in pieces.items()}
    out["time"] = sum(count_tokens(m) for m in re.findall(r"<now>.*?</now>", shown))
    out["boilerplate"] = total - sum(out.values())
    out["total"] = total
    return out


def prompts(persona: Persona) -> dict[str, Any]:
    data = PromptData(identity=IDENTITY, core_memories=CORE, relationship=REL, mood=MOOD, premium=False,
                      history=History(1, SUMMARY, HISTORY), recent=[])
    extras = ReplyExtras(lore="\n\n".join(LORE), recall=RECALL, feelings=FEEL, style=STYLE)
    moment = Moment(NOW, timedelta(hours=3))
    channel = PromptData(identity=IDENTITY, core_memories=CORE, relationship=REL, mood=MOOD, premium=False,
                         history=History(2, SUMMARY, []), recent=RECENT)
    out = {"dm reply": build_reply_prompt(persona, data, incoming(True), extras=extras, moment=moment),
           "channel reply": build_reply_prompt(persona, channel, incoming(False), extras=extras,
                                               moment=moment, own_ids={BOT_ID}, transcript=RECENT),
           "vote": build_vote_prompt(persona, RECENT, incoming(False), own_ids={BOT_ID})}
    captured: dict[str, Any] = {}

    async def ask(p: Persona, user_name: str, text: str, *_: Any) -> str:
        system = Summarizer._system(None, p, user_name)  # type: ignore[arg-type]
        captured["summary"] = Prompt(system=system, messages=[{"role": "user", "content": text}])
        return ""

    stand_in = SimpleNamespace(_ask=ask, _summary_text=Summarizer._summary_text)
    asyncio.run(Summarizer._summary(stand_in, persona,  # type: ignore[arg-type]
                                    History(1, SUMMARY, HISTORY), HISTORY, USER, "alice", True, "", None))
    out["summary"] = captured["summary"]
    batch = Batch(USER, "alice", True, [(i, m) for i, m in enumerate(RECENT) if m.author_id == USER])
    batch.answers = {i: m for i, m in answered_lines(list(enumerate(RECENT))).items() if i in batch.log_ids}
    out["extraction"] = extraction_prompt(persona, batch, 1.0, structured=True)  # the default lineup
    portrait = SelfPortrait(IDENTITY, MOOD)
    context = ("[Where: #general on the server Tide Pool]\n\n[Recent messages in this channel]\n"
               f"{format_recent(RECENT, {BOT_ID}, persona.name)}\n\n[{COMMENT}]")
    out["proactive"] = initiative_prompt(persona, portrait, context, feeling=ROOM_FEEL, moment=Moment(NOW))
    person = fence("person", "\n".join(f"- {m}" for m in CORE), name="alice")
    out["check-in"] = initiative_prompt(persona, portrait, ASK.format(name="alice"), feeling=FEEL,
                                        moment=Moment(NOW, timedelta(days=9)), name="alice", person=person)
    return out


def main() -> None:
    persona = finn()
    print(f"{'kind':14s} " + " ".join(f"{k:>11s}" for k in (*KINDS, "boilerplate", "total")))
    for kind, prompt in prompts(persona).items():
        figures = breakdown(prompt, persona)
        print(f"{kind:14s} " + " ".join(f"{figures[k]:>11d}" for k in (*KINDS, "boilerplate", "total")))


if __name__ == "__main__":
    main()
