"""Prompt assembly: what Claude sees for a reply, and for a yes/no vote.

Order matters for prompt caching (at most 4 breakpoints; a hit needs an exact prefix written earlier):

* The character block comes first and carries ``cache_control``: the character prompt, who it is, its mood
  and the other character-wide parts (feelings, the server's emotes). Shared by every conversation.
* In a DM, the person's stable block follows (core memories, how the character feels about them, the
  conversation's summary), then the conversation's turns, the last one a breakpoint: the next turn reads
  everything before it from cache.
* In a server channel, everyone shares one prefix: the channel transcript (bot/reply/transcript.py), one block
  per line, append-only between roll-overs, its last line a breakpoint. What is about the person (their
  memories, the relationship, their summary, how they write) goes after it, uncached.
* Only the final user turn holds per-message context (recalled facts, lore, the framework blend).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.attachments import NO_TEXT
from bot.core.claude import Prompt
from bot.core.models.caching import RECENT_GAPS
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming, VolatilePart
from bot.reply.persona_runtime import DISCORD_EPOCH_MS
from bot.reply.transcript import LOOKBACK, mark_transcript, transcript_messages
from database.records import History, PromptData, RelationshipRecord, SeenMessage

EPHEMERAL = {"type": "ephemeral"}
VOTE_LINES = 10
"""The fewest recent channel lines a vote sees (its window grows from there, as a transcript does)."""
# {{user}} in the character block of a channel prompt: that block is shared by everyone there (it opens the
# cached prefix), so it names no one; the final turn says who is being answered.
CHANNEL_USER = "the person you are answering"


IDENTITY_TITLES = {"trait": "Traits", "lore": "Lore", "fact": "Facts about yourself", "quirk": "Quirks"}


def relationship_guidance(rel: RelationshipRecord | None, user: str) -> str:
    """Metrics expressed as tone guidance rather than raw numbers."""
    if rel is None:
        return ""
    notes: list[str] = []
    if rel.anger >= 6:
        notes.append(f"you are angry with {user}; let it show")
    elif rel.anger >= 3:
        notes.append(f"you are somewhat irritated with {user}")
    if rel.rapport >= 7:
        notes.append("you have warm rapport; be familiar and playful")
    elif rel.rapport <= 3:
        notes.append("your rapport is thin; be reserved")
    if rel.trust >= 7:
        notes.append("you trust them and can be open")
    elif rel.trust <= 3:
        notes.append("you do not trust them yet; be guarded")
    if rel.formality >= 2:
        notes.append("keep a formal register")
    elif rel.formality <= -2:
        notes.append("speak casually")
    figures = (f"(anger {rel.anger:g}/10, rapport {rel.rapport:g}/10, trust {rel.trust:g}/10, "
               f"formality {rel.formality:+g} on -5..+5)")
    return (f"How you feel about {user}: " + "; ".join(notes) + f". {figures}") if notes else (
        f"How you feel about {user}: neutral. {figures}")


def build_reply_prompt(
    persona: Persona,
    data: PromptData,
    msg: Incoming,
    *,
    recall: str = "",
    extra_system: Sequence[str] = (),
    extra_context: Sequence[str] = (),
    ooc_context: str = "",
    replace_last_reply: bool = False,
    since: Sequence[SeenMessage] = (),
    own_ids: Collection[int] = (),
    transcript: Sequence[SeenMessage] | None = None,
) -> Prompt:
    """The reply prompt. In a channel, ``transcript``: the lines to show (bot/reply/transcript.py; None: every
    recent message); ``own_ids``: the character's accounts (its lines there are its turns)."""
    user = msg.author_name
    lines = [m for m in (data.recent if transcript is None else transcript) if m.message_id != msg.message_id]
    shared = not msg.is_dm and bool(lines)  # a channel transcript: everyone there shares the prefix
    character: list[str] = []
    character_prompt = persona.render(persona.system_prompt, CHANNEL_USER if shared else user)
    if character_prompt and not character_prompt.isspace():  # the API rejects a blank text block
        character.append(character_prompt)
    identity_lines = []
    for kind, title in IDENTITY_TITLES.items():
        items = data.identity.get(kind) or []
        if items:
            identity_lines.append(f"{title}:\n" + "\n".join(f"- {i}" for i in items))
    if identity_lines:
        character.append("## Who you are\n" + "\n\n".join(identity_lines))
    if data.mood:
        character.append(f"## Your mood today\n{data.mood}")
    person_parts = [part for part in extra_system if isinstance(part, VolatilePart)]
    character.extend(part for part in extra_system if not isinstance(part, VolatilePart))
    system: list[dict[str, Any]] = []
    if character:
        system.append({"type": "text", "text": "\n\n".join(character), "cache_control": EPHEMERAL})

    person: list[str] = []
    if data.core_memories:
        person.append(f"## Your core memories of {user}\n" + "\n\n".join(data.core_memories))
    guidance = relationship_guidance(data.relationship, user)
    if guidance:
        person.append("## Your relationship\n" + guidance)
    if data.history.summary:
        person.append(f"## Summary of your earlier conversation with {user} here\n{data.history.summary}")
    person.extend(person_parts)

    context: list[str] = []
    if not shared:
        # One conversation with one person: their block is stable between turns, so it is cached too.
        if person:
            system.append({"type": "text", "text": "\n\n".join(person), "cache_control": EPHEMERAL})
        messages = history_messages(data.history, drop_last_assistant=replace_last_reply)
        if messages:
            _mark_cache(messages[-1])
        context.append(f"[Where: {msg.place()}]")
    else:
        header = (f"[Where: {msg.place()}]\n[The conversation there, oldest first: each line is "
                  "\"name: message\"; your own messages are your turns]")
        messages = transcript_messages(header, lines, own_ids, persona.name)
        mark_transcript(messages, 4 - len(system))
        context.append(f"[You are answering {user}]" + "".join("\n\n" + part for part in person))
        replace_last_reply = False  # the transcript ends before the message: no earlier answer to drop
    context.extend(extra_context)
    if recall:
        context.append(recall)
    if ooc_context:
        context.append(f"[Out of character note from {user} for this reply: {ooc_context}]")
    if persona.post_history_instructions:
        context.append("[Instructions] " + persona.render(persona.post_history_instructions, user))
    final = "\n\n".join(context) + f"\n\n{user}: {msg.text}"
    if replace_last_reply and messages and messages[-1]["role"] == "user":
        # Reroll: the last user turn is already the message being answered.
        last_turn = messages.pop()
        final = "\n\n".join(context) + "\n\n" + _text_of(last_turn)
    if since:
        # Other characters answered this message first; the reply should build on what they said.
        final += "\n\n[Answered since, before your turn]\n" + format_recent(since)
    _append(messages, "user", final)
    return Prompt(system=system, messages=messages, gaps=pace(data.recent, msg, data.history))


def pace(recent: Sequence[SeenMessage], msg: Incoming, history: History | None = None) -> tuple[float, ...]:
    """Seconds between the people's recent messages here, oldest first, up to ``msg``: how long the
    conversation pauses, hence how long its cache entries should live (bot/core/models/caching.py). From the
    channel's recent log lines and, in a DM, the history's user turns (their Discord ids hold their time)."""
    now = _utc(msg.created_at)
    times = {t for m in recent if not m.author_is_bot and (t := _utc(m.created_at)) <= now}
    if history is not None:
        seen = 0
        for turn in reversed(history.turns):  # only the latest few: a long history is walked every reply
            if turn.role == "user" and turn.discord_message_id:
                times.add(datetime.fromtimestamp(((turn.discord_message_id >> 22) + DISCORD_EPOCH_MS) / 1000,
                                                 UTC))
                seen += 1
                if seen > RECENT_GAPS:
                    break
    ordered = sorted(t for t in times | {now} if t <= now)
    return tuple((b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False))[-RECENT_GAPS:]


def _utc(moment: datetime) -> datetime:
    # a naive time is the log's UTC (SQLite keeps no zone)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def history_messages(history: History, *, drop_last_assistant: bool = False) -> list[dict[str, Any]]:
    """Turns as alternating user/assistant messages starting with a user turn (merging repeats).

    A blank turn (stored by an older version, or edited to nothing) would make the API reject every request
    of the conversation: a blank user turn becomes the no-text placeholder, a blank answer is left out.
    """
    turns = history.turns
    end = len(turns)
    if drop_last_assistant:
        while end and turns[end - 1].role == "assistant":
            end -= 1
    # One pass with no call per turn: a long history is hundreds of turns on every reply.
    messages: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    for i in range(end):
        role, content = turns[i][0], turns[i][1]
        if not content or content.isspace():
            if role != "user":
                continue
            content = NO_TEXT
        if last is not None and last["role"] == role:
            last["content"] += "\n\n" + content
        elif last is not None or role == "user":
            last = {"role": role, "content": content}
            messages.append(last)
    return messages


def _append(messages: list[dict[str, Any]], role: str, text: str) -> None:
    # Plain string content (the API reads it as one text block): a long history is a third of the objects
    # the SDK walks and serializes for every request. Only the cache breakpoint needs block form.
    if messages and messages[-1]["role"] == role:
        last = messages[-1]
        if isinstance(last["content"], list) and any("cache_control" in b for b in last["content"]):
            # a breakpoint's block must stay as it is: the text goes after it, in a block of its own
            last["content"].append({"type": "text", "text": text})
        else:
            last["content"] = _text_of(last) + "\n\n" + text
    else:
        messages.append({"role": role, "content": text})


def _mark_cache(message: dict[str, Any]) -> None:
    message["content"] = [{"type": "text", "text": _text_of(message), "cache_control": EPHEMERAL}]


def _text_of(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "\n\n".join(b.get("text", "") for b in content)


def format_recent(messages: Sequence[SeenMessage]) -> str:
    return "\n".join(f"{m.author_name}: {m.content}" for m in messages if m.content)


def build_vote_prompt(persona: Persona, recent: Sequence[SeenMessage], msg: Incoming, *,
                      burst: Sequence[Incoming] = ()) -> Prompt:
    """``burst``: the earlier unaddressed messages judged with ``msg`` (bot/reply/triage.py), shown before
    it."""
    system = (
        f"You decide whether {persona.name} would naturally join in a group chat. "
        f"{persona.name}: {persona.description or 'a character in this server'}. "
        "Say yes when the message invites a reply from them, asks something they would answer, "
        "or touches what "
        "they care about; say no for messages addressed to others or small talk that needs no answer. "
        "Answer with exactly one word: yes or no."
    )
    # The stable part (instructions and who the character is) comes first and is cached: every vote of
    # every message shares it, and Haiku 5.5 caches a prefix from 512 tokens (Haiku 4.5: 4,096).
    character = persona.render(persona.system_prompt, CHANNEL_USER)
    if character and not character.isspace():
        system += f"\n\nWho {persona.name} is (their own character prompt):\n{character}"
    shown = {msg.message_id, *(m.message_id for m in burst)}
    # One block per recent line, the last a breakpoint (and every 20th before it, within the look-back):
    # the caller keeps the lines' start put while people talk, so the next message's votes read this
    # prefix. What changes every message (the burst, the latest message, the question) follows, uncached.
    header = f"Channel: {msg.place()}\n\nRecent messages:"
    content: list[dict[str, Any]] = [{"type": "text", "text": header}]
    content += [{"type": "text", "text": f"{m.author_name}: {m.content}"}
                for m in recent if m.message_id not in shown and m.content]
    if len(content) == 1:
        content[0]["text"] += "\n(none)"
    for n in range(2):  # the system prompt has one of the 4 breakpoints
        index = len(content) - 1 - n * LOOKBACK
        if index < 1:
            break
        content[index]["cache_control"] = dict(EPHEMERAL)
    text = ""
    if burst:  # at most the last 30: a longer burst's start matters little to whether to join in now
        said = "\n".join(f"{m.author_name}: {m.text}" for m in burst[-30:])
        more = f"({len(burst) - 30} earlier not shown)\n" if len(burst) > 30 else ""
        text += f"Messages since then, judged together with the latest:\n{more}{said}\n\n"
    # A burst is judged as a whole: the answer would follow its latest message but may take up any of them.
    question = (f"Should {persona.name} join in now, after the latest message?" if burst
                else f"Should {persona.name} reply to the latest message?")
    text += (f"Latest message, from {msg.author_name}: {msg.text}\n\n"
             f"{question} Answer yes or no.")
    content.append({"type": "text", "text": text})
    return Prompt(system=[{"type": "text", "text": system, "cache_control": EPHEMERAL}],
                  messages=[{"role": "user", "content": content}], gaps=pace(recent, msg))
