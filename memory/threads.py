"""Open threads: what a person said they would do or are waiting for (an exam on Friday, a promise), kept as
such so that the character can ask how it went (database/threads.py stores them).

* **Opened and closed by consolidation.** The extraction request (memory/batching.py) shows the person's open
  threads of that batch's side (a DM batch every one; a channel batch those said in channels) by their ids,
  and its answer's ``"threads"`` key (apart from the facts) names new ones and the ids of those the messages
  show done, over or called off.
* **Closed by time.** A dated thread stays open :data:`DUE_GRACE` after its day, so that a reply or a check-in
  in the days after can still ask how it went; an undated one :data:`UNDATED_LIFE` after it was said. Past
  that it is not shown, and the nightly consolidation deletes it.
* **Closed with the reminder that stood for it.** A reminder delivered (a one-off) or cancelled closes the
  threads holding its words (:func:`served`): what it reminded of is then done or dropped.
* **Read with each reply's prompt data** (database/conversations.py: no trip of their own) **and afresh at
  each check-in**, with the privacy of facts (memory/recall.py): DM threads only in DMs; in a server only
  that server's, unless the person chose every server.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from bot.core.text import defuse
from database.boundary import JsonObject
from database.models import utcnow
from database.records import PromptData
from database.threads import NewThread, ThreadChanges, ThreadRow, Threads
from memory.consent import Consent
from memory.lexical import terms
from memory.worth import SAID_SHARE

log = logging.getLogger(__name__)

DUE_GRACE = timedelta(days=7)
UNDATED_LIFE = timedelta(days=30)
MAX_THREADS_PER_BATCH = 10
MAX_SHOWN = 12  # threads a prompt lists at most (soonest due first)

_DAY_OR_NULL: JsonObject = {"anyOf": [{"type": "string"}, {"type": "null"}]}
THREADS_SCHEMA: JsonObject = {
    "type": "object",
    "properties": {
        "open": {"type": "array", "items": {
            "type": "object",
            "properties": {"thread": {"type": "string"}, "due": _DAY_OR_NULL, "said": _DAY_OR_NULL},
            "required": ["thread", "due", "said"],
            "additionalProperties": False}},
        "done": {"type": "array", "items": {"type": "integer"}}},
    "required": ["open", "done"],
    "additionalProperties": False,
}
"""The ``"threads"`` key of the extraction answer (memory/facts.py EXTRACTION_SCHEMA)."""


@dataclass(frozen=True)
class ExtractedThread:
    thread: str
    due: date | None = None
    said: date | None = None


@dataclass(frozen=True)
class ExtractedThreads:
    opened: tuple[ExtractedThread, ...] = ()
    done: tuple[int, ...] = ()


NO_THREADS = ExtractedThreads()


def iso_day(raw: object) -> date | None:
    """A "YYYY-MM-DD" (or a longer ISO time) as a date; anything else (null, "unknown"): None."""
    if not isinstance(raw, str) or len(raw.strip()) < 10:
        return None
    try:
        return date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None


def parse_threads(raw: object) -> ExtractedThreads:
    """The ``"threads"`` of an extraction answer, leniently: threads are a side of the answer, so a missing or
    odd part is no thread rather than a malformed answer (the facts still count)."""
    if not isinstance(raw, dict):
        return NO_THREADS
    opened: list[ExtractedThread] = []
    seen: set[str] = set()
    items = raw.get("open")
    for item in items if isinstance(items, list) else ():
        text = item.get("thread") if isinstance(item, dict) else item
        if not isinstance(text, str) or not (text := " ".join(text.split())[:300]) or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        dated = isinstance(item, dict)
        opened.append(ExtractedThread(text, iso_day(item.get("due")) if dated else None,
                                      iso_day(item.get("said")) if dated else None))
    done = raw.get("done")
    ids = tuple(int(i) for i in (done if isinstance(done, list) else ())
                if isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**62)
    return ExtractedThreads(tuple(opened[:MAX_THREADS_PER_BATCH]), ids)


def thread_changes(found: ExtractedThreads, shown: Sequence[ThreadRow], times: Sequence[datetime], *,
                   private: bool, guild_id: int | None) -> ThreadChanges:
    """What a batch whose messages were written at ``times`` opens and closes: a new thread said on the day
    named if a message is of that day (else at the last message), due on the day named at noon UTC; closed,
    only threads the batch was shown (``shown``: an id of anything else is ignored)."""
    opened: list[NewThread] = []
    for t in found.opened:
        said = [m for m in times if t.said is not None and m.date() == t.said]
        due = datetime(t.due.year, t.due.month, t.due.day, 12, tzinfo=UTC) if t.due is not None else None
        opened.append(NewThread(t.thread, due, said[-1] if said else times[-1], private, guild_id))
    ids = {t.id for t in shown}
    return ThreadChanges(tuple(opened), tuple(i for i in found.done if i in ids))


async def close_expired(threads: Threads, now: datetime) -> int:
    """Delete everyone's threads whose time has passed (:data:`DUE_GRACE`, :data:`UNDATED_LIFE`)."""
    closed = await threads.delete_expired(*still_open(now))
    if closed:
        log.info("closed %d open threads whose time has passed", closed)
    return closed


def still_open(now: datetime) -> tuple[datetime, datetime]:
    """The cut-offs of what is still open at ``now``: due after the first, or undated and said after the
    second (Threads.open_for's, and delete_expired's for what is over)."""
    return now - DUE_GRACE, now - UNDATED_LIFE


def spoken(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def render(threads: Sequence[ThreadRow], *, ids: bool = False) -> str:
    """One line each, with its day ("due Friday 27 November 2026", or when it was said); ``ids``: each
    opened by its id, for an extraction answer to name (data only: the caller fences it)."""
    lines = []
    for t in threads[:MAX_SHOWN]:
        when = f"due {spoken(t.due_at)}" if t.due_at is not None else f"said {spoken(t.said_at)}"
        lines.append(f"{f'[{t.id}] ' if ids else '- '}{defuse(t.thread)} ({when})")
    return "\n".join(lines)


# What the extraction asks of open threads: the same for every person (in its cached system prompt).
EXTRACTION_RULE = (
    '"threads": "open": what the person says they will do or are waiting for, not yet over (an exam, an '
    "interview, a trip, a promise they made, a result they await), not one of their open threads shown: one "
    'short third-person sentence each naming them; "due": its date where they said when (resolved as '
    '"happened" is), else null; "said": the date of the message. "done": the numbers of the open threads '
    "shown that these messages show done, over or called off. Empty lists are fine.")


def extraction_part(threads: Sequence[ThreadRow], name: str) -> str:
    """The person's open threads as an extraction request shows them ("" for none; ``name``: cleaned of
    tags); what it asks of them is :data:`EXTRACTION_RULE`."""
    if not threads:
        return ""
    return (f"Open threads of {name} (what they said they would do or are waiting for), by number:\n"
            f'<open_threads about="{name}">\n{render(threads, ids=True)}\n</open_threads>')


def open_now(threads: Sequence[ThreadRow], now: datetime) -> list[ThreadRow]:
    """Those of ``threads`` still open at ``now``, soonest due first (undated ones last), as
    Threads.open_for gives them."""
    due_after, said_after = still_open(now)
    rows = [t for t in threads if (t.due_at > due_after if t.due_at is not None else t.said_at > said_after)]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda t: (t.due_at or far, t.id))


class ThreadsPart:
    """The person's open threads, in the prompt's ``threads`` slot (read with every reply's prompt data).
    Recall reads them too (:meth:`shown`), to say a thread once: not again as a fact (memory/recall.py)."""

    slot = "threads"
    in_dms = True

    def __init__(self, consent: Consent) -> None:
        self.consent = consent

    async def shown(self, msg: Incoming, data: PromptData) -> list[ThreadRow]:
        """The threads the reply to ``msg`` shows."""
        if not data.threads or msg.author_is_bot or not self.consent.allows(
                data.memory_consent, await self.consent.mode_for(msg.guild_id)):
            return []
        return open_now(data.threads, utcnow())

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return render(await self.shown(msg, data))


# --------------------------------------------------------------------------- served by a reminder

SERVED_DAYS = 1  # a dated thread a reminder serves is due within this many days of it (zones apart)


def served(text: str, due: datetime, threads: Sequence[ThreadRow]) -> tuple[int, ...]:
    """The ids of the open threads a reminder (its ``text``, due at ``due``) stood for: those holding
    worth.SAID_SHARE of its telling words ("call mum" and "Alice will call her mum on Friday"), undated or
    due on its day. Its delivery or cancelling closes them: what it reminded of is then done or dropped, and
    no later reply asks after it as still to come."""
    words = set(terms(text))
    if not words:
        return ()
    near = timedelta(days=SERVED_DAYS)
    return tuple(t.id for t in threads
                 if (t.due_at is None or abs(t.due_at - due) <= near)
                 and len(words & set(terms(t.thread))) >= SAID_SHARE * len(words))


async def close_served(threads: Threads, user_id: int, text: str, due: datetime) -> int:
    """Close the person's open threads a reminder delivered or cancelled stood for (:func:`served`); how
    many. A failure is logged: the threads then close with time, as any."""
    try:
        ids = served(text, due, await threads.rows(user_id))
        if ids:
            await threads.apply(user_id, ThreadChanges(closed=ids))
        return len(ids)
    except Exception:
        log.exception("could not close the threads of user %s's reminder", user_id)
        return 0
