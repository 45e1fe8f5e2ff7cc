"""Writes docs/prompts.md: one request of each kind, as the fake Claude received it, part by part.

Every kind comes from one live run of the bot itself (tests/prompt_live.py: the real bot against the fake
Discord and the fake Claude, on a fixed clock, through an evening, its night and a check-in days later):
each request is made by the path that makes it in production (a message, a round, a timer's handler),
with the real speakers and the run's own times, and what the fake received is itemized by the parts the
layout named (bot/core/models/sent.py, as the dashboard's prompt inspector does) with each part's tokens.
Deterministic: no date, id or answer in the output depends on when it runs; tests/test_docs.py checks the
file is what this script writes.

Run: .venv/bin/python -m tests.prompt_docs  (writes docs/prompts.md; --check: exit 1 when it differs)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from typing import Any

from bot.core.config import PROJECT_ROOT
from bot.core.models.sent import SentRequest, itemize
from bot.reply.felt import INSTRUCTION
from tests.prompt_live import live_requests

TARGET = PROJECT_ROOT / "docs" / "prompts.md"

# What each kind is for, and how it is laid out (said once, above its parts).
KINDS: dict[str, str] = {
    "dm reply": (
        "Alice's fourth message to Finn in a DM. The character block (system) names no one unless the card "
        "says {{user}}; the person's block opens the conversation and is cached with it; the message, as the "
        "history will show it at the next reply, is the last breakpoint (the next reply reads it from the "
        "cache); what changes each reply (the time, the state, lore, recall, the instructions) comes after "
        "it. The DM's tools (reminders; react, as server_tools is on in this run) come first in the cache "
        "order, the same bytes every time. With the feelings on (off in this run: their daily rhythm follows "
        "the wall clock), the character block ends asking the model for its own judgement of what the "
        "message moves in the character, in any language (bot/reply/felt.py), the same words in every reply "
        f"(cached): \"{INSTRUCTION}\" The tag is taken out of everything shown or kept and moves the "
        "feeling after the reply; the state line is the feeling as kept through the messages before, led by "
        "what the newest judged message carried while it is recent (relief clears a concern; surprise and "
        "banter show), with only the message's language-neutral signs (emoji, \"?!\") applied to its "
        "levels (its distress leads)."),
    "tool reply": (
        "Alice asks for a reminder: the reply's first request, where the model answers with a set_reminder "
        "tool call."),
    "tool follow-up": (
        "The same reply's next request: the tool call (an assistant turn) and its result (fenced as data) "
        "appended after the first request's turns, so the first request's cache holds."),
    "channel reply": (
        "Alice @mentions Finn in #general. The transcript is one block per line, append-only, so everyone's "
        "replies in the channel read one cached prefix; the person being answered comes after it, uncached."),
    "swipe": (
        "Alice presses 🔄 under that answer (a swipe; /reroll is the same): another answer to the same "
        "message, built as the reply is, tools and all, so it reads the reply's cached prefix whole."),
    "server tools reply": (
        "Bob asks Finn who Alice is, in #general with the server's tools switched on (/bot server-tools): "
        "member_info, scheduled_events, recent_messages and react, each with a strict schema, first in the "
        "cache order and the same bytes for every reply there; the model asks for member_info."),
    "server tools follow-up": (
        "The same reply's next request, with member_info's result fenced as data."),
    "vote": (
        "Bob says something to nobody: should Finn join in? The voting model sees who Finn is (cached, "
        "shared by every vote), the recent lines (cached), then the latest message and the question."),
    "proactive": ("#general has gone quiet: Finn speaks up unprompted (the proactive round). The "
                  "channel's recent lines come as a reply's transcript shows them (each person's line with "
                  "its time and whom it replies to, Finn's own as its turns), then the ask "
                  "(bot/features/proactive/rounds.py)."),
    "reminder": ("Alice's reminder comes due: its timer's handler asks Finn to deliver it in character "
                 "(bot/features/reminders/delivery.py), the reminder quoted as hers."),
    "summary": (
        "Alice's DM grew long: the summary pass folds its oldest turns into a summary in Finn's voice, "
        "with dated lines and the earlier summary. Its builder (memory/summarizer.py) names no parts: the "
        "one user turn holds the task and the dated lines."),
    "summary rewrite": (
        "Some of Alice's facts changed (closed as past by the night's consolidation): the DM's summary is "
        "rewritten, told what is known of her now (memory/summarizer.py ``refresh_summaries``)."),
    "core memories": (
        "The same pass then rewrites what Finn always remembers about Alice, from the new summary and the "
        "old core memories (memory/summarizer.py)."),
    "extraction": (
        "The night's consolidation reads what Alice wrote in her DM (Finn's lines as context) and keeps "
        "lasting facts and the relationship's change, as JSON held to a schema. Its builder "
        "(memory/batching.py) names no parts: the one user turn holds the dated messages and the task."),
    "mood": "A new day begins: Finn's mood for the day (bot/alive/mood.py), the night's round after the "
            "consolidation.",
    "status": "Then Finn writes its own Discord custom status, from what it said in the server lately.",
    "check-in": ("Alice has not written for days: Finn writes her a DM first "
                 "(bot/features/checkins/rounds.py)."),
    "/ask": ("Bob asks Finn privately with /ask (bot/operator/asking.py): a reply as a DM's is, in Bob's "
             "own private scope, answered through the interaction."),
    "voice-channel reply": (
        "Alice speaks to Finn in a voice call in the server (bot/discord/voicechat/talk.py): her transcribed "
        "words are the message, and an instruction after the history says the answer will be spoken "
        "aloud (bot/features/voice/aloud.py)."),
}

# What each part is (the labels of bot/reply/prompting.py and bot/alive/initiative.py, and the block
# defaults of bot/core/models/sent.py).
PARTS: dict[str, str] = {
    "tools": "The tools the model may use (bot/core/models/tools.py, bot/features/servertools/knowing.py): "
             "first in the cached prefix.",
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
                        "memory/relationships.py); and how the person writes (bot/alive/style.py); "
                        "fenced apart from anyone's words; only the current version, after the cache "
                        "breakpoint.",
    "person: feelings": "How the character feels right now (bot/alive/feelings.py).",
    "person: style": "How the person writes (bot/alive/style.py).",
    "lore": "Lorebook entries the recent messages triggered, fenced as data.",
    "person: recall": "Facts recalled for this message, under the day they were told.",
    "person: open threads": "What the person said they would do or are waiting for, with its day.",
    "message": "The message being answered (in a DM, cached as its history will show it next time).",
    "instructions": "What the character is asked to do, after the history.",
    "tool call": "The model's call of a tool, in the reply's assistant turn (shown here as its name and "
                 "input).",
    "tool result": "What the tool gave back, fenced as data: the next request "
                   "appends the call and its result after the previous request's turns.",
    "layout: tags and headers": "The layout's own text around the parts: XML tags, headers.",
    "tools: in character": "One sentence per family of the tools declared (bot/reply/generation.py): when "
                           "the character uses them and how it says what they found; the last of the system "
                           "prompt, cached with the tools.",
}


def fenced(text: str) -> str:
    return "````text\n" + text.strip("\n") + "\n````"


TOOL_LABELS = {"[tool_use": "tool call", "[tool_result": "tool result"}


def spelled_out(block: dict[str, Any]) -> dict[str, Any]:
    """A tool call or result as text (the itemizer shows only its kind): the call's name and input, the
    result's text; its cache breakpoint kept."""
    if block.get("type") == "tool_use":
        text = f"[tool_use {block.get('name')}] {json.dumps(block.get('input'), sort_keys=True)}"
    elif block.get("type") == "tool_result":
        content = block.get("content")
        text = content if isinstance(content, str) else "\n".join(
            str(b.get("text", "")) for b in content or [] if isinstance(b, dict))
        text = f"[tool_result{' (error)' if block.get('is_error') else ''}]\n{text}"
    else:
        return block
    return {"type": "text", "text": text} | ({"cache_control": block["cache_control"]}
                                             if "cache_control" in block else {})


def render_kind(kind: str, sent: SentRequest) -> str:
    messages = [m | {"content": [spelled_out(b) for b in m["content"]]} if isinstance(m.get("content"), list)
                else m for m in sent.request.get("messages") or []]
    spelled = tuple((TOOL_LABELS[b["text"].split(" ", 1)[0].split("]", 1)[0]], b["text"])
                    for m in messages if isinstance(m.get("content"), list) for b in m["content"]
                    if b.get("type") == "text" and b["text"].startswith(tuple(TOOL_LABELS)))
    items = itemize(dataclasses.replace(sent, request=sent.request | {"messages": messages},
                                        parts=sent.parts + spelled))
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
`.venv/bin/python -m tests.prompt_docs` after changing a prompt). Each request is made by the bot on its
own paths in one live run (`tests/prompt_live.py`: the bot against a fake Discord and a fake Claude, on a
fixed clock from 20 November 2026, 18:30 UTC: Alice and Bob talk with Finn), as the fake Claude received
it, and itemized as the dashboard's prompt inspector (`/prompts`) itemizes a live one: each part as the
layout (`bot/reply/prompting.py`) named it, with its tokens (cl100k, `bot/core/tokens.py`). ⚑ marks a block
that ends a cache breakpoint: everything up to it is cached; what follows the last one is sent fresh each
time. Text a person or a card wrote is quoted data inside XML tags, never system instructions.

The layout, and why each part is where it is: the module docstring of `bot/reply/prompting.py`. Token
totals per kind, before and after issue 44:
[benchmarks.md](benchmarks.md#every-token-counted-where-a-prompts-tokens-go).
"""


def render() -> str:
    """docs/prompts.md's text: every kind from one live run of the bot (tests/prompt_live.py), in its own
    event loop."""
    captured = asyncio.run(live_requests())
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
