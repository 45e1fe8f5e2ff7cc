"""Where a 2-day DM's reply tokens go: the character, memories, recall, summary, history, over the real wire.

The real bot between the fake Discord and the fake Claude (tests/harness.py), on a virtual clock (the
messages' times; tests/harness.py ``Clock``): alice DMs Finn for an evening (her dog Biscuit, a half
marathon, seafoam chai, Leeds, an exam on Friday), the nightly consolidation runs (the fake answers the
extraction with facts read off her lines, and an open thread for the exam where the request asks for
threads), a morning of day 2 ("morning!", "what should I bring?", "I moved to York", "night!"), a second
consolidation, then a few messages on day 3. Summaries are triggered by a low
``conversation_token_threshold`` (:data:`THRESHOLD`; the default 25,000 is never reached by so short a DM);
the fake answers the summary and the core-memory passes with text built from what they quote. The days are
Monday to Wednesday of the week of two days ago (recall and threads read the real clock): the same figures
all week.

Each reply request is split by the layout's fences (bot/reply/prompting.py, docs/prompts.md) into parts, in
tokens (bot/core/tokens.py): system, core memories (``<memories>``), notes/pins (``<notes>``, the feelings
and style notes pinned in the history), summary, facts/recall and excerpts (``<recalled_facts>``, split at
"[Words from your earlier conversations"), open threads, history (the turns and the message), other
(where, relationship, headers, the variety note closing the message's turn); any other tag counts under
its own name. Redundancy: the share of recalled
tokens (facts + excerpts) on lines whose text (normalized) is already in the same request's history,
summary or core memories.

Run: .venv/bin/python -m benchmarks.bench_dm_requests [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import tempfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.core.tokens import count_tokens
from tests.harness import Clock, Harness
from tests.memory_support import MESSAGE_DATE, first_user_text, is_extraction

REPLY_MODEL = "claude-test-default"
THRESHOLD = 400  # history tokens that trigger a summary here (the default 25,000: never in so short a DM)
CONFIG = {"summary_model": "claude-test-sonnet", "conversation_token_threshold": str(THRESHOLD),
          "consolidation_batch": "false", "timezone": "UTC", "max_typing_time": "0"}
TAG = re.compile(r"<(?P<tag>[a-z_]+)(?P<attrs>(?: [a-z_]+=\"[^\"]*\")*)>(?P<body>.*?)</(?P=tag)>", re.S)
WORDS = "[Words from your earlier conversations"
NOTE = re.compile(r"\n\n\[[^\n]*\]$")  # a bracketed note closing the message's turn (the variety note)
CATEGORY = {"memories": "core memories", "notes": "notes/pins", "summary": "summary",
            "open_threads": "open threads", "recalled_facts": "facts/recall"}
PARTS = ("system", "core memories", "facts/recall", "excerpts", "summary", "open threads", "notes/pins",
         "history", "other")

# (what alice says, what the fake Claude answers as Finn); the days' lines, then the consolidations between
DAY1 = [("hi Finn! long day, just back from walking my dog Biscuit along the canal",
         "*waves a fin* Welcome back! How was Biscuit on the canal, any ducks harmed?"),
        ("he's a scruffy terrier, Biscuit barks at every swan in Leeds",
         "Ha! Brave little terrier. Swans are terrifying, I'd bark at them too."),
        ("I live in Leeds, near Hyde Park, been there four years",
         "Four years in Leeds! Do you still get lost near Hyde Park?"),
        ("I'm training for a half marathon in March, did 10k this morning",
         "A half marathon! Glub. 10k before breakfast is more than I walk in a month."),
        ("my legs are dead. what do you drink after a long run?",
         "Something warm and sweet. Kelp tea if you're brave, seafoam chai if you're sensible."),
        ("I love seafoam chai, it's my favourite thing on your menu",
         "*blushes a little pinker* Then a seafoam chai is on the house next time."),
        ("can I get a large seafoam chai with extra foam?",
         "One large seafoam chai, extra foam, coming right up. *froths with great ceremony*"),
        ("I've got an exam on Friday, biochemistry, and I'm dreading it",
         "Biochemistry on Friday? You'll be fine. What's the scariest part?"),
        ("revising enzymes all week, it's so dry",
         "Enzymes! Tiny workers, like crabs on a pier. Make them into a story and they stick."),
        ("Biscuit keeps sitting on my notes though, so that helps",
         "A study partner with opinions. Biscuit is clearly guarding the important pages."),
        ("any tips for staying calm before an exam?",
         "Sleep, a walk with Biscuit, and a warm drink. And breathe slower than the tide."),
        ("thanks Finn, that actually helps",
         "Anytime. That's what the stall is for, tea and a bit of calm."),
        ("my sister says I should bring Biscuit to the half marathon finish line",
         "Yes! A terrier at the finish line is the best medal there is."),
        ("okay I should sleep, early run tomorrow", "Go on then, rest those legs. Good luck with the run."),
        ("night Finn!", "Night, alice! Give Biscuit a scratch from me.")]
DAY2 = [("morning!", "Morning! *pours the first pot* How did you sleep?"),
        ("there's a picnic at the tide pools on Saturday",
         "A picnic at the pools! The crabs will be jealous."),
        ("what should I bring?", "A blanket, something crunchy, and a flask of seafoam chai. Maybe Biscuit."),
        ("I moved to York", "York! Glub, that's big news. How is the new place?"),
        ("the flat is tiny but Biscuit loves the park next door",
         "Tiny flats are cosy flats. And a park for Biscuit, perfect."),
        ("night!", "Night night! Sleep well in the new flat.")]
DAY3 = [("morning Finn, first run in York today", "Morning! How were the hills? York has proper hills."),
        ("how's the stall?", "Busy! The gulls are behaving, mostly. *eyes the sky*"),
        ("wish me luck for Friday!", "All the luck in the tide pools. You know those enzymes cold.")]
REPLIES = dict(DAY1 + DAY2 + DAY3)

# Facts the extraction "finds", by a cue in a line (category, fact)
FACTS = {"my dog Biscuit": ("relationships", "alice has a dog, a scruffy terrier named Biscuit."),
         "I live in Leeds": ("personal", "alice lives in Leeds, near Hyde Park."),
         "half marathon in March": ("hobbies", "alice is training for a half marathon in March."),
         "love seafoam chai": ("preferences", "alice's favourite drink is seafoam chai."),
         "exam on Friday": ("plans", "alice has a biochemistry exam on Friday."),
         "moved to York": ("personal", "alice moved to York.")}
MEMORIES = {"Biscuit": "alice has a scruffy terrier called Biscuit who barks at swans.",
            "half marathon": "alice is training for a half marathon in March.",
            "seafoam chai": "alice's favourite is a large seafoam chai with extra foam.",
            "Leeds": "alice lives in Leeds.", "exam": "alice has a biochemistry exam on Friday.",
            "York": "alice has just moved to York."}


def monday() -> date:
    """The Monday of the week of two days ago: days 1 to 3 are past, the exam's Friday close."""
    day = datetime.now(UTC).date() - timedelta(days=2)
    return day - timedelta(days=day.weekday())


def responder(start: date) -> Any:
    friday = (start + timedelta(days=4)).isoformat()

    def answer(body: dict[str, Any]) -> str | None:
        text = first_user_text(body)
        if body.get("model") == REPLY_MODEL:
            said = final(body).rsplit("alice: ", 1)[-1].strip()
            return REPLIES.get(said, "Glub! Tell me more.")
        if is_extraction(body):
            facts, opened = [], []
            for line in text.splitlines():
                stamp = MESSAGE_DATE.match(line)
                for cue, (category, fact) in FACTS.items():
                    if stamp and cue in line:
                        facts.append({"fact": fact, "category": category, "said": stamp["day"]})
                        if cue == "exam on Friday":
                            opened.append({"thread": "alice has her biochemistry exam", "due": friday,
                                           "said": stamp["day"]})
            out: dict[str, Any] = {"facts": facts, "relationship": {"rapport": 0.2}}
            if '"threads"' in json.dumps(body):  # the layout asks for open threads (not the baseline)
                out["threads"] = {"open": opened, "done": []}
            return json.dumps(out)
        if "What you remember about" in text:
            return "\n".join(f"- {m}" for cue, m in MEMORIES.items() if cue in text) or "- alice visits."
        if "<transcript place=" in text:
            told = [cue for cue in MEMORIES if cue in text]
            return ("alice dropped by the stall and we talked about " + ", ".join(told or ["her day"])
                    + ". I made her a seafoam chai and told her to rest before her exam.")
        return None

    return answer


def blocks(content: Any) -> list[str]:
    """The text blocks of a system prompt or a message's content."""
    if isinstance(content, str):
        return [content]
    return [b.get("text", "") for b in content if b.get("type") == "text"]


def final(body: dict[str, Any]) -> str:
    """The request's last turn: what follows the history, and the message."""
    return "\n\n".join(blocks(body["messages"][-1]["content"]))


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.casefold()).split())


def split_tags(text: str, out: Counter[str], recalled: list[tuple[str, str]], plain: str) -> None:
    """Count ``text``'s tagged parts under their category, the rest under ``plain``; each recalled line
    (category, text) goes to ``recalled``."""
    at = 0

    def untagged(chunk: str) -> None:  # the blank lines between parts are layout
        out[plain if chunk.strip() else "other"] += count_tokens(chunk)

    for m in TAG.finditer(text):
        untagged(text[at:m.start()])
        at = m.end()
        tag, body = m["tag"], m["body"]
        opening, closing = m.group(0)[:m.start("body") - m.start()], f"</{tag}>"
        if tag == "person":  # a container: its own tags are layout
            out["other"] += count_tokens(opening + closing)
            split_tags(body, out, recalled, "other")
            continue
        if tag != "recalled_facts":
            out[CATEGORY.get(tag, tag)] += count_tokens(m.group(0))
            continue
        out["facts/recall"] += count_tokens(opening + closing)
        facts, _, said = body.partition(WORDS)
        for name, chunk in (("facts/recall", facts), ("excerpts", WORDS + said if said else "")):
            out[name] += count_tokens(chunk)
            recalled += [(name, line) for line in chunk.splitlines() if line.startswith("- ")]
    untagged(text[at:])


def breakdown(body: dict[str, Any], sent: set[str]) -> dict[str, Any]:
    """One request's tokens by part, and its recalled tokens already said elsewhere in it."""
    out: Counter[str] = Counter()
    recalled: list[tuple[str, str]] = []
    out["system"] += sum(count_tokens(t) for t in blocks(body.get("system") or []))
    messages = body["messages"]
    for i, message in enumerate(messages):
        for block in blocks(message["content"]):
            if i == len(messages) - 1 and message["role"] == "user":
                # the message, then the fenced parts of this turn (the time, the state, recall, threads),
                # before or after it as the layout places them; a bracketed note of its own (the variety
                # note) is other; the rest untagged is the message
                notes = NOTE.findall(block)
                out["other"] += sum(count_tokens(n) for n in notes)
                split_tags(NOTE.sub("", block), out, recalled, "history")
            elif message["role"] == "user" and not TAG.search(block) and not block.startswith("[Where"):
                said = max((s for s in sent if block.endswith(s)), key=len, default=block)
                out["history"] += count_tokens(said)
                out["notes/pins"] += count_tokens(block[:len(block) - len(said)])
            else:
                split_tags(block, out, recalled, "history" if message["role"] == "assistant" else "other")
    elsewhere = norm(" ".join(_history_text(body)))
    redundant = sum(count_tokens(line) for _, line in recalled if _said(line) and _said(line) in elsewhere)
    return {"parts": dict(out), "total": sum(out.values()), "recalled_lines": len(recalled),
            "redundant": redundant}


def _said(line: str) -> str:
    """A recalled line's words: no bullet, no speaker, no quotes or '…'."""
    text = re.sub(r"^- (?:\w+: )?", "", line)
    return norm(text.replace("…", " "))


def _history_text(body: dict[str, Any]) -> list[str]:
    """The history turns, the summary and the core memories of a request, as text."""
    texts: list[str] = []
    messages = body["messages"]
    for i, message in enumerate(messages):
        for block in blocks(message["content"]):
            if i == len(messages) - 1 and message["role"] == "user":
                texts.append(TAG.sub(" ", block))  # the message, not the recall beside it
                continue
            for m in TAG.finditer(block):  # the person's block holds the summary and the memories
                inner = TAG.finditer(m["body"]) if m["tag"] == "person" else iter([m])
                texts += [n["body"] for n in inner if n["tag"] in ("summary", "memories")]
            texts.append(TAG.sub(" ", block))
    return texts


async def run(tmp_path: Path) -> list[dict[str, Any]]:
    """The scenario on a fresh bot; each reply request's breakdown, with the message it answered."""
    start = monday()

    def day(d: int, hour: int) -> datetime:
        return datetime(start.year, start.month, start.day, hour, tzinfo=UTC) + timedelta(days=d)

    h = Harness(db_url=f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}", tmp_path=tmp_path, config=CONFIG)
    await h.start_world()
    clock = Clock(h, day(0, 18))
    h.claude.responder = responder(start)
    await h.start_bot()
    assert h.bot is not None
    bot = h.bot
    n = 0

    async def talk(lines: list[tuple[str, str]], at: datetime) -> None:
        nonlocal n
        clock.at = at
        for said, _ in lines:
            n += 1
            await h.dm(said)
            await h.replies(await h.dm_channel_id(), n, timeout=30)
            await bot.in_flight.drain()
            await bot.services.memory.summarizer.wait_idle()
            clock.at += timedelta(minutes=4)

    async def consolidate(days: int) -> None:
        await bot.in_flight.drain()
        await bot.services.memory.consolidator.run(now=day(days, 4))
        await bot.services.memory.consolidator.embedded()

    try:
        await talk(DAY1, day(0, 18))
        await consolidate(1)
        await talk(DAY2, day(1, 8))
        await consolidate(2)
        await talk(DAY3, day(2, 9))
        out = []
        for record in h.claude.requests_for(REPLY_MODEL):
            said = final(record.body).rpartition("\n\nalice: ")[2].strip()
            out.append({"message": said, **breakdown(record.body, set(REPLIES))})
        return out
    finally:
        await h.close()


def table(rows: list[dict[str, Any]]) -> str:
    totals: Counter[str] = Counter()
    for r in rows:
        totals.update(r["parts"])
    names = [p for p in PARTS if p in totals] + sorted(set(totals) - set(PARTS))
    total = sum(totals.values())
    n = max(1, len(rows))
    lines = [f"reply requests: {len(rows)}", f"{'part':<16}{'total':>9}{'mean':>9}{'share':>8}"]
    lines += [f"{p:<16}{totals[p]:>9,}{totals[p] / n:>9.0f}{totals[p] / max(1, total):>8.1%}" for p in names]
    lines.append(f"{'all':<16}{total:>9,}{total / n:>9.0f}{1:>8.0%}")
    recalled = totals["facts/recall"] + totals["excerpts"]
    redundant = sum(r["redundant"] for r in rows)
    lines.append(f"recalled (facts + excerpts) {recalled:,} tokens; already in the request (history, "
                 f"summary, core memories): {redundant:,} ({redundant / max(1, recalled):.1%})")
    return "\n".join(lines)


def per_request(rows: list[dict[str, Any]]) -> str:
    keys = ("core memories", "summary", "facts/recall", "excerpts", "history")
    head = f"{'#':>3} {'message':<40}" + "".join(f"{k[:9]:>10}" for k in keys) + f"{'redund.':>9}{'all':>7}"
    body = [f"{i:>3} {r['message'][:40]:<40}" + "".join(f"{r['parts'].get(k, 0):>10}" for k in keys)
            + f"{r['redundant']:>9}{r['total']:>7}" for i, r in enumerate(rows, 1)]
    return "\n".join([head, *body])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the per-request breakdown here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = asyncio.run(run(Path(tempfile.mkdtemp(prefix="kindred-bench-"))))
    print(per_request(rows))
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"threshold": THRESHOLD, "requests": rows}, indent=1))


if __name__ == "__main__":
    main()
