"""Writes docs/prompts.md: one request of each kind, as the fake Claude received it, part by part.

Each kind's prompt is built by its real builder (bot/reply/prompting.py, bot/alive/initiative.py,
memory/summarizer.py, memory/batching.py) on benchmarks/bench_prompt_tokens.py's fixed data (Finn, Alice,
a fixed clock), sent by the real model client (bot/core/claude.py: the backend's shaping, the anthropic SDK)
to the fake Claude (tests/fakes/claude_server.py), and what the fake received is itemized by the parts the
layout named (bot/core/models/sent.py, as the dashboard's prompt inspector does) with each part's tokens.
Deterministic: no date, id or answer in the output depends on when it runs; tests/test_docs.py checks the
file is what this script writes.

The DM and channel replies come from a live run of the bot itself (tests/prompt_live.py), so pinned notes
and recall are as the bot sends them.

Run: .venv/bin/python -m tests.prompt_docs  (writes docs/prompts.md; --check: exit 1 when it differs)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from benchmarks.bench_prompt_tokens import finn, prompts
from bot.alive.initiative import SelfPortrait, initiative_prompt
from bot.alive.status import ASK as STATUS_ASK
from bot.core.claude import ClaudeClient, Prompt
from bot.core.config import BY_KEY, PROJECT_ROOT, load_settings
from bot.core.models.base import CallUsage
from bot.core.models.sent import SentRequest, itemize
from bot.core.models.tools import web_search
from bot.core.persona.model import Persona
from bot.reply.deciding.voting import Ballot
from bot.servertools.knowing import MemberInfo, React, RecentMessages, ScheduledEvents, allowed_emojis
from memory.consolidation import EXTRACTION_MAX_TOKENS
from memory.facts import EXTRACTION_SCHEMA
from tests.fakes.claude_server import FakeClaude
from tests.harness import TEST_CONFIG
from tests.prompt_live import live_requests

TARGET = PROJECT_ROOT / "docs" / "prompts.md"
AT = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)

# What each kind is for, and how it is laid out (said once, above its parts).
KINDS: dict[str, str] = {
    "dm reply": (
        "Alice's fourth message to Finn in a DM, from a live run of the bot (tests/prompt_live.py: the bot "
        "against the fake Discord and the fake Claude, on a fixed clock). The character block (system) "
        "names no one unless the card says {{user}}; the person's block opens the conversation and is "
        "cached with it; the message, as the history will show it at the next reply, is the last "
        "breakpoint (the next reply reads it from the cache); what changes each reply (the time, the state, "
        "lore, recall, the instructions) comes after it."),
    "channel reply": (
        "Alice @mentions Finn in #general, from the same live run. The transcript is one block per line, "
        "append-only, so everyone's replies in the channel read one cached prefix; the person being "
        "answered comes after it, uncached."),
    "search reply": (
        "The DM reply again, with web search on (web_search=dms): the tool's declaration comes first in the "
        "cache order, built the same way every time, so the cached prefix still holds for every reply."),
    "server tools reply": (
        "The channel reply again, with the server's tools on (server_tools=true): member_info, "
        "scheduled_events, recent_messages and react, each with a strict schema (react's enum is the "
        "react_emojis allow-list), first in the cache order and the same bytes for every reply there."),
    "vote": (
        "Nobody addressed Finn: should Finn join in? The voting model sees who Finn is (cached, shared by "
        "every vote), the recent lines (cached), then the latest message and the question."),
    "summary": (
        "Alice's DM grew long: the oldest turns are summarized in Finn's voice, with dated lines and the "
        "earlier summary. Its builder (memory/summarizer.py) names no parts: the one user turn holds the "
        "task and the dated lines."),
    "extraction": (
        "Consolidation reads what Alice said and keeps lasting facts and the relationship's change, as JSON "
        "held to a schema. Its builder (memory/batching.py) names no parts: the one user turn holds the "
        "dated messages and the task."),
    "proactive": ("Finn speaks up in a quiet channel unprompted. The instructions part holds the place, the "
                  "channel's recent lines and the ask, as bot/alive/proactive.py writes them."),
    "check-in": "Alice has not written for nine days: Finn writes her a DM first.",
    "status": "Finn writes its own Discord custom status.",
}

# What each part is (the labels of bot/reply/prompting.py and bot/alive/initiative.py, and the block
# defaults of bot/core/models/sent.py).
PARTS: dict[str, str] = {
    "tools": "The tools the model may use (bot/core/models/tools.py, bot/servertools/knowing.py): first in "
             "the cached prefix.",
    "system": "The character: its prompt, who it is, its mood today (and for a vote or a summary, the task).",
    "character": "The character's own prompt, as the card wrote it.",
    "world": "The lorebook's always-on entries, fenced as data.",
    "character: mood": "Today's mood (bot/alive/mood.py), stable for the day, so cached with the character.",
    "character: emotes": "The server's custom emotes.",
    "where": "Where the message was written.",
    "person": "The person as quoted data (their core memories).",
    "person: core memories": "What the character always remembers about the person, quoted as data.",
    "person: summary": "The summary of their earlier conversation, quoted as data.",
    "person: notes": "What the person asked to be remembered, in their words: wishes to honour.",
    "lore: at a depth": "Lore and the card's depth prompt placed at their depth of the chat.",
    "transcript": "The conversation: the person's turns (in a channel, one line per block).",
    "transcript: the character's turn": "The character's own earlier replies, as assistant turns.",
    "time": "Today's date, weekday and local time in the character's zone, and how long since the person "
            "last wrote: after the cache breakpoint, so it never breaks the cached prefix.",
    "time: macros": "What the card's time macros stand for now.",
    "room": "In a channel: who has been talking there lately, and why the character answers (addressed, or "
            "chose to join in after the votes: then brief and light).",
    "character: state": "How the character feels about the person, in one line: the recent feeling, since "
                        "when, and how it has come to feel about them over the days (bot/alive/regard.py, "
                        "memory/relationships.py); and how the person writes (bot/alive/mirroring.py); "
                        "fenced apart from anyone's words; only the current version, after the cache "
                        "breakpoint.",
    "person: feelings": "How the character feels right now (bot/alive/feelings.py).",
    "feelings": "How the character feels: toward the person in a check-in; in a proactive message, the room "
                "there (bot/alive/feelings.py).",
    "person: style": "How the person writes (bot/alive/mirroring.py).",
    "lore": "Lorebook entries the recent messages triggered, fenced as data.",
    "person: recall": "Facts recalled for this message, under the day they were told.",
    "person: open threads": "What the person said they would do or are waiting for, with its day.",
    "message": "The message being answered (in a DM, cached as its history will show it next time).",
    "instructions": "What the character is asked to do, after the history.",
    "layout: tags and headers": "The layout's own text around the parts: XML tags, headers.",
    "tools: in character": "One sentence per family of the tools declared (bot/reply/looking.py): when the "
                           "character uses them and how it says what they found; the last of the system "
                           "prompt, cached with the tools.",
}


def settings_for(claude: FakeClaude) -> Any:
    env = {"ANTHROPIC_API_KEY": "fake-anthropic-key", "ANTHROPIC_BASE_URL": claude.base_url,
           "DISCORD_TOKEN": "unused", "DATABASE_URL": "sqlite+aiosqlite:///:memory:", **TEST_CONFIG}
    return load_settings(PROJECT_ROOT / "characters" / "finn", None, environ=env)


def build() -> tuple[Persona, dict[str, Prompt]]:
    persona = finn()
    built: dict[str, Prompt] = prompts(persona)
    portrait = SelfPortrait({"trait": ["Finn hums sea shanties when nervous."]}, "")
    built["status"] = initiative_prompt(persona, portrait, STATUS_ASK)
    built["search reply"] = dataclasses.replace(built["dm reply"], tools=(web_search(max_uses=3),))
    emojis = allowed_emojis(str(BY_KEY["react_emojis"].default))
    built["server tools reply"] = dataclasses.replace(built["channel reply"], tools=(
        MemberInfo.DECLARED, ScheduledEvents.DECLARED, RecentMessages.DECLARED, React.declared(emojis)))
    return persona, built


async def capture(persona: Persona, built: dict[str, Prompt]) -> list[tuple[str, SentRequest]]:
    """Each kind's request, sent to the fake Claude: (kind, the request it received, with the layout's
    parts)."""
    claude = await FakeClaude(min_cache_tokens=0).start()
    client = ClaudeClient(settings_for(claude), None)
    models = client.settings.models
    reply = models.default_model
    length, heat = persona.max_tokens, persona.temperature
    calls: dict[str, Callable[[Prompt], Awaitable[Any]]] = {
        "dm reply": lambda p: client.generate(p, model=reply, user_id=1, guild_id=None,
                                              max_tokens=persona.max_tokens, temperature=persona.temperature),
        "search reply": lambda p: client.generate(p, model=reply, user_id=1, guild_id=None,
                                                  max_tokens=persona.max_tokens,
                                                  temperature=persona.temperature),
        "channel reply": lambda p: client.generate(p, model=reply, user_id=1, guild_id=None,
                                                   max_tokens=persona.max_tokens,
                                                   temperature=persona.temperature),
        "server tools reply": lambda p: client.generate(p, model=reply, user_id=1, guild_id=1,
                                                        max_tokens=persona.max_tokens,
                                                        temperature=persona.temperature),
        "vote": lambda p: Ballot(client, client.settings).ask(p, count=1, user_id=1, guild_id=None),
        "summary": lambda p: client.summarize(p, user_id=1, guild_id=None, purpose="summary",
                                              max_tokens=2000),
        "extraction": lambda p: client.complete(p, user_id=1, guild_id=None, purpose="consolidation",
                                                max_tokens=EXTRACTION_MAX_TOKENS, schema=EXTRACTION_SCHEMA),
        "proactive": lambda p: client.generate(p, model=reply, user_id=None, guild_id=None,
                                               purpose="proactive", max_tokens=length, temperature=heat),
        "check-in": lambda p: client.generate(p, model=reply, user_id=1, guild_id=None, purpose="checkin",
                                              max_tokens=length, temperature=heat),
        "status": lambda p: client.complete(p, guild_id=None, purpose="status", max_tokens=80),
    }
    out: list[tuple[str, SentRequest]] = []
    try:
        for number, (kind, call) in enumerate(calls.items(), 1):
            prompt = built[kind]
            await call(prompt)
            body = claude.requests[-1].body
            out.append((kind, SentRequest(number, AT, kind, str(body.get("model")), None, body, prompt.parts,
                                          CallUsage(), "")))
    finally:
        await client.close()
        await claude.close()
    return out


def fenced(text: str) -> str:
    return "````text\n" + text.strip("\n") + "\n````"


def render_kind(kind: str, sent: SentRequest) -> str:
    items = itemize(sent)
    settings = {k: v for k, v in sent.request.items() if k not in ("system", "messages")}
    title = kind.replace("dm ", "DM ")
    lines = [f"## {title[0].upper()}{title[1:]}", "", KINDS[kind], "",
             f"Sent as: `{json.dumps(settings, sort_keys=True)}`", "",
             "| # | block | part | tokens |", "|---:|---|---|---:|"]
    for n, item in enumerate(items, 1):
        mark = " ⚑" if item.breakpoint else ""
        lines.append(f"| {n} | {item.where}{mark} | {item.label} | {item.tokens} |")
    lines += [f"| | | **total** | **{sum(i.tokens for i in items)}** |", ""]
    for n, item in enumerate(items, 1):
        about = PARTS.get(item.label, "")
        mark = ", ends a cache breakpoint" if item.breakpoint else ""
        lines += [f"**{n}. {item.label}** ({item.where}, {item.tokens} tokens{mark}"
                  + (f"). {about}" if about else ")"), "", fenced(item.text), ""]
    return "\n".join(lines)


HEAD = """# Prompts, part by part

What the model receives for each kind of request, generated by `tests/prompt_docs.py` (so it stays true:
`tests/test_docs.py` fails when this file differs from what the script writes; run
`.venv/bin/python -m tests.prompt_docs` after changing a prompt). Each request is built by the bot's own
builders on fixed data (Finn, Alice, 20 November 2026, 18:30 UTC: the data of
`benchmarks/bench_prompt_tokens.py`), sent by the bot's model client to the fake Claude, and itemized as
the dashboard's prompt inspector (`/prompts`) itemizes a live one: each part as the layout
(`bot/reply/prompting.py`) named it, with its tokens (cl100k, `bot/core/tokens.py`). ⚑ marks a block
that ends a cache breakpoint: everything up to it is cached; what follows the last one is sent fresh each
time. Text a person or a card wrote is quoted data inside XML tags, never system instructions.

The layout, and why each part is where it is: the module docstring of `bot/reply/prompting.py`. Token
totals per kind, before and after issue 44:
[benchmarks.md](benchmarks.md#every-token-counted-where-a-prompts-tokens-go).
"""


def render() -> str:
    """docs/prompts.md's text (builds the prompts, then runs its own event loop to send them); the two reply
    kinds from a live run of the bot (tests/prompt_live.py: pins and recall as the bot sends them)."""
    captured = dict(asyncio.run(capture(*build())))
    captured.update(asyncio.run(live_requests()))
    sections = [render_kind(kind, captured[kind]) for kind in KINDS]
    return HEAD + "\n" + "\n".join(sections).rstrip("\n") + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        return 0 if TARGET.read_text(encoding="utf-8") == text else 1
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
