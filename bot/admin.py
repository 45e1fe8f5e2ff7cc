"""Administration without Discord: the log-channel command language, the figures admins may see about users
(never message text), pagination of the user list, the status report, the heartbeat's latency check, and the
edits behind the admin slash commands (identity, facts, core memories, relationships, global state).

The admin cogs (``cogs/admin.py``, ``cogs/admin_slash.py``) only translate Discord into calls on
:class:`AdminTools` and answers back; tests and the console can drive everything here directly. Every
answer is a ready-to-send string; bad input raises :class:`~bot.conversation_tools.InvalidInput` with a
one-line explanation.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import Settings
from bot.conversation_tools import InvalidInput
from bot.logmirror import STATE_KEY as VERBOSE_KEY
from bot.logmirror import LogMirror, parse_switch
from bot.pipeline import Decision, Incoming
from bot.prompting import relationship_guidance
from database.records import PRIVATE_SOURCE, RelationshipRecord, Usage, UserRecord, UserSummary
from database.store import Store
from memory.identity import IDENTITY_KINDS
from memory.relationships import RELATIONSHIP_RANGES

PAGE_SIZE = 10
PREVIEW = 80
MAX_TEXT = 2000  # longest identity entry, fact, memory or state value an admin may store
MAX_KEY = 100  # global_state.key is VARCHAR(100)
MAX_CHOICES = 25  # Discord's limit for autocomplete answers
CHOICE_NAME = 100  # ... and for a choice's label



def id_choices(rows: Iterable[tuple[int, str]], current: str) -> list[Choice]:
    """Autocomplete choices from (id, label) rows: those whose id starts with, or label contains, what was typed."""
    needle = current.strip().lstrip("#").lower()
    out = [(clip(label, CHOICE_NAME), rid) for rid, label in rows
           if not needle or str(rid).startswith(needle) or needle in label.lower()]
    return out[:MAX_CHOICES]


def clip(text: str, limit: int = PREVIEW) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# --------------------------------------------------------------------------- the log-channel command language


@dataclass(frozen=True)

class AdminCommand:
    name: str  # shutdown | user_data | list_users | premium | verbose | status | refresh_status | testlog
    arg: str = ""


# Whole-message matches only, so "status is fine today" stays ordinary chat. The "?" of "shutdown?" and
# "user data?" is optional: a forgotten question mark should not turn a command into chat with the character.
_COMMANDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("shutdown", re.compile(r"shutdown\??(?:\s+(?P<arg>.+))?", re.I | re.S)),
    ("user_data", re.compile(r"user\s+data\??(?:\s+(?P<arg>.+))?", re.I | re.S)),
    ("list_users", re.compile(r"list\s+users(?:\s+(?P<arg>\S+))?", re.I)),
    ("premium", re.compile(r"premium(?:\s+(?P<arg>.+))?", re.I | re.S)),
    ("verbose", re.compile(r"verbose(?:\s+(?P<arg>.+))?", re.I | re.S)),
    ("status", re.compile(r"status\??", re.I)),
    ("refresh_status", re.compile(r"refresh\s+status", re.I)),
    ("testlog", re.compile(r"test\s*log", re.I)),
)

USAGE = {
    "shutdown": "shutdown? <exact character name>",
    "user_data": "user data? <user id>",
    "list_users": "list users [page]",
    "premium": "premium <user id>",
    "verbose": "verbose [on|off]",
}


def parse_command(text: str) -> AdminCommand | None:
    """The admin command a whole message spells, or None (then it is ordinary chat)."""
    text = text.strip()
    for name, pattern in _COMMANDS:
        match = pattern.fullmatch(text)
        if match:
            arg = match.groupdict().get("arg") or ""
            return AdminCommand(name, arg.strip())
    return None


def parse_user_id(arg: str, usage: str = "a user id") -> int:
    """A Discord user id from digits or a mention."""
    arg = arg.strip()
    if not arg:
        raise InvalidInput(f"Give {usage}.")
    match = re.fullmatch(r"<@!?(\d+)>|(\d+)", arg)
    if match is None:
        raise InvalidInput(f"{clip(arg, 40)!r} is not a user id: use the number from Discord's "
                           "Copy User ID, or a mention.")
    value = int(match.group(1) or match.group(2))
    if not 0 < value < 2**63:
        raise InvalidInput(f"{value} is not a valid Discord id.")
    return value


def parse_id(raw: str | int, what: str) -> int:
    """An entry/fact/memory/version id typed as "12", "#12" or picked from autocomplete."""
    text = str(raw).strip().lstrip("#")
    if not text.isdigit():
        raise InvalidInput(f"{clip(str(raw), 40)!r} is not a {what} id: pick one from the list.")
    return int(text)


# --------------------------------------------------------------------------- figures


def format_usage(u: Usage) -> str:
    return (f"{u.calls} calls · {u.total_tokens:,} tokens ({u.input_tokens:,} in, {u.output_tokens:,} out, "
            f"{u.cache_read_tokens:,} cache read, {u.cache_creation_tokens:,} cache write) · ${u.cost:.4f}")


def user_label(user: UserRecord) -> str:
    name = clip(user.name, 40) if user.name else "unnamed"
    return f"{name} (`{user.id}`)" + (" [bot]" if user.is_bot else "")


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def format_user_data(s: UserSummary, settings: Settings) -> str:
    """Everything an admin may know about a user in figures; never what they said."""
    model = settings.premium_model if s.user.premium else settings.default_model
    return "\n".join([
        f"**{user_label(s.user)}**",
        f"Plan: {'premium' if s.user.premium else 'standard'} (replies use `{model}`)",
        f"Usage: {format_usage(s.usage)}",
        f"Conversations: {s.history_messages} messages · {s.history_tokens:,} tokens",
        f"Core memories: {s.core_memories}",
        f"First seen {_day(s.user.first_seen)} · last seen {_day(s.user.last_seen)}",
    ])


def format_user_line(s: UserSummary) -> str:
    star = "⭐ " if s.user.premium else ""
    return (f"{star}{user_label(s.user)} · {s.usage.total_tokens:,} tokens · ${s.usage.cost:.4f} · "
            f"{s.history_messages} msgs · {s.core_memories} memories")


@dataclass(frozen=True)
class Page:
    number: int  # 0-based
    count: int  # pages in all (at least 1)
    total: int  # items in all
    size: int

    @property
    def offset(self) -> int:
        return self.number * self.size

    @property
    def has_prev(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number < self.count - 1


def page_of(total: int, number: int, size: int = PAGE_SIZE) -> Page:
    """The page ``number`` (0-based) of ``total`` items, clamped to the pages that exist."""
    count = max(1, math.ceil(total / size))
    return Page(min(max(number, 0), count - 1), count, total, size)


def render_users_page(page: Page, summaries: Sequence[UserSummary]) -> str:
    if not page.total:
        return "**Known users:** nobody yet."
    first = page.offset + 1
    header = (f"**Known users** {first}–{page.offset + len(summaries)} of {page.total} "
              f"(page {page.number + 1}/{page.count})")
    return "\n".join([header, *(f"{first + i}. {format_user_line(s)}" for i, s in enumerate(summaries))])


# --------------------------------------------------------------------------- verbose lines


def describe_decision(msg: Incoming, decision: Decision) -> str:
    """One verbose line about a reply decision. A DM is named, never quoted: the log channel is public."""
    if msg.is_dm:
        return f"DM from user {msg.author_id}: {'reply' if decision.reply else 'no reply'}"
    where = f"#{msg.channel_name}" if msg.channel_name else f"channel {msg.channel_id}"
    return f"{where} · {msg.author_name} ({msg.author_id}): “{clip(msg.content, 150)}” → {decision.describe()}"


# --------------------------------------------------------------------------- status and heartbeat

Latencies = Sequence[tuple[int | None, float]]  # (shard id, seconds) as discord.py reports them


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    if days or hours or minutes:
        parts.append(f"{minutes}m")
    parts.append(f"{secs}s")
    return " ".join(parts)


def format_latency(seconds: float) -> str:
    # discord.py reports inf (or nan) until a shard's first heartbeat is acknowledged.
    return f"{seconds * 1000:.0f} ms" if math.isfinite(seconds) else "no heartbeat acknowledged yet"


def shard_name(shard_id: int | None) -> str:
    return "gateway" if shard_id is None else f"shard {shard_id}"


def format_status(settings: Settings, *, character_name: str, uptime_seconds: float, guild_count: int,
                  latencies: Latencies, verbose: bool) -> str:
    s = settings
    gateway = ", ".join(f"{shard_name(sid)} {format_latency(lat)}" for sid, lat in latencies) or "not connected"
    return "\n".join([
        f"**{character_name}: status**",
        f"Models: default `{s.default_model}` · premium `{s.premium_model}` · voting `{s.voting_model}`",
        f"Replies: bot reply threshold {s.bot_reply_threshold} · {s.yes_no_vote_count} votes · "
        f"cooldown {s.reply_cooldown:g}s · typing {s.typing_speed_cpm:g} cpm "
        f"({s.min_typing_time:g}–{s.max_typing_time:g}s, ±{s.typing_variance:.0%})",
        f"Uptime: {format_duration(uptime_seconds)} · servers: {guild_count} · verbose: {'on' if verbose else 'off'}",
        f"Gateway latency: {gateway} (warning above {s.latency_warning_ms:g} ms)",
    ])


@dataclass(frozen=True)
class SlowShard:
    shard_id: int | None
    latency_ms: float

    def describe(self, threshold_ms: float) -> str:
        return (f"⚠️ Gateway latency warning: {shard_name(self.shard_id)} at {self.latency_ms:.0f} ms "
                f"(threshold {threshold_ms:g} ms).")


def slow_shards(latencies: Iterable[tuple[int | None, float]], threshold_ms: float) -> list[SlowShard]:
    """Shards whose measured latency is above the threshold. A shard without a measurement yet (inf/nan) is
    skipped: discord.py heartbeats as soon as it connects, so that state only lasts a moment."""
    out = []
    for shard_id, seconds in latencies:
        if math.isfinite(seconds) and seconds * 1000 > threshold_ms:
            out.append(SlowShard(shard_id, seconds * 1000))
    return out


# --------------------------------------------------------------------------- relationship values


def clamp_metrics(values: dict[str, float | None]) -> tuple[dict[str, float], list[str]]:
    """The given metrics clamped to their ranges, and one note per value that had to be clamped."""
    clamped: dict[str, float] = {}
    notes: list[str] = []
    for key, value in values.items():
        if value is None:
            continue
        if key not in RELATIONSHIP_RANGES:
            raise InvalidInput(f"Unknown relationship metric {key!r}.")
        if not math.isfinite(value):
            raise InvalidInput(f"{key} must be a number.")
        low, high = RELATIONSHIP_RANGES[key]
        fixed = min(max(float(value), low), high)
        if fixed != value:
            notes.append(f"{key} must be within {low:g}..{high:g}; set to {fixed:g}")
        clamped[key] = fixed
    if not clamped:
        raise InvalidInput("Give at least one of anger, rapport, trust (0..10) or formality (-5..+5).")
    return clamped, notes


def format_relationship(rel: RelationshipRecord, user: UserRecord) -> str:
    return (f"anger {rel.anger:g}/10 · rapport {rel.rapport:g}/10 · trust {rel.trust:g}/10 · "
            f"formality {rel.formality:+g} (-5..+5)\n"
            f"Tone guidance in replies: {relationship_guidance(rel, user.name or str(user.id))}")


# --------------------------------------------------------------------------- embeddings

Embedder = Callable[[str], Any]


def find_embedder(bot: Any) -> Embedder | None:
    """The memory engine's embed function when one is loaded (``bot.memory.embed``), else None."""
    embed = getattr(getattr(bot, "memory", None), "embed", None)
    return embed if callable(embed) else None


def as_float32_bytes(vector: Any) -> bytes:
    """A vector (bytes, a numpy array, a list of floats) as float32 little-endian bytes (UserFact.embedding)."""
    if isinstance(vector, bytes | bytearray | memoryview):
        return bytes(vector)
    import numpy as np

    return np.asarray(vector, dtype="<f4").reshape(-1).tobytes()


# --------------------------------------------------------------------------- the edits


Choice = tuple[str, str | int]  # (label shown, value sent back)


class AdminTools:
    """Every admin read and edit, as answers. ``character`` is the name data is filed under
    (ReplyEngine.character_key); ``embedder`` finds the memory engine's embed function, if one is loaded."""

    def __init__(self, store: Store, settings: Settings, character: str, mirror: LogMirror,
                 embedder: Callable[[], Embedder | None] = lambda: None) -> None:
        self.store = store
        self.settings = settings
        self.character = character
        self.mirror = mirror
        self.embedder = embedder
        # Told of every /state set or delete (key) -> a note for the answer, e.g. feelings reloaded.
        self.state_listeners: list[Callable[[str], Awaitable[str]]] = []

    # -- users

    async def known_user(self, arg: str) -> UserRecord:
        user_id = parse_user_id(arg)
        user = await self.store.people.get_user(user_id)
        if user is None:
            raise InvalidInput(f"I don't know user {user_id}: they have not talked to me yet "
                               "(or their data was deleted).")
        return user

    async def user_choices(self, current: str) -> list[Choice]:
        users = await self.store.people.search_users(current, limit=MAX_CHOICES)
        return [(clip(f"{u.name or 'unnamed'} ({u.id})" + (" [bot]" if u.is_bot else ""), CHOICE_NAME), str(u.id))
                for u in users]

    async def user_data(self, arg: str) -> str:
        if not arg:
            raise InvalidInput(f"Usage: `{USAGE['user_data']}`.")
        user = await self.known_user(arg)
        summary = await self.store.people.user_summary(self.character, user.id)
        assert summary is not None  # the user exists: known_user just read it
        return format_user_data(summary, self.settings)

    async def users_page(self, number: int) -> tuple[Page, str]:
        """The people the bot knows (other bots, and the bot itself, are left out: ``user data?`` still
        answers about them)."""
        total = await self.store.people.count_users()
        page = page_of(total, number)
        summaries = await self.store.people.user_summaries(self.character, offset=page.offset, limit=page.size)
        return page, render_users_page(page, summaries)

    async def toggle_premium(self, arg: str) -> str:
        if not arg:
            raise InvalidInput(f"Usage: `{USAGE['premium']}`.")
        user = await self.known_user(arg)
        premium = not user.premium
        await self.store.people.set_premium(user.id, premium)
        if premium:
            return f"{user_label(user)} is now **premium**: their replies use `{self.settings.premium_model}`."
        return f"{user_label(user)} is **no longer premium**: their replies use `{self.settings.default_model}`."

    # -- verbose mode

    async def load_verbose(self) -> bool:
        """Set the mirror from the ``verbose`` state key; the ``verbose_logging`` setting when it is unset."""
        parsed = parse_switch(await self.store.state.get(VERBOSE_KEY, ""))
        self.mirror.enabled = self.settings.verbose_logging if parsed is None else parsed
        return self.mirror.enabled

    async def verbose(self, arg: str) -> str:
        if arg:
            wanted = parse_switch(arg)
            if wanted is None:
                raise InvalidInput(f"Usage: `{USAGE['verbose']}` (no argument toggles).")
        else:
            wanted = not await self.load_verbose()
        await self.store.state.set(VERBOSE_KEY, "on" if wanted else "off")
        self.mirror.enabled = wanted
        if wanted:
            return ("Verbose mode is **on**: reply decisions and votes, background work and errors are mirrored "
                    "here (direct messages only as \"DM from user <id>\", never their text).")
        return "Verbose mode is **off**: only warnings and admin answers appear here."

    # -- identity

    @staticmethod
    def _text(text: str, what: str) -> str:
        text = text.strip()
        if not text:
            raise InvalidInput(f"The {what} cannot be empty.")
        if len(text) > MAX_TEXT:
            raise InvalidInput(f"The {what} is {len(text)} characters long; the limit is {MAX_TEXT}.")
        return text

    async def _identity_entry(self, raw: str | int) -> tuple[int, str, str]:
        entry_id = parse_id(raw, "identity entry")
        for entry in await self.store.identity.entries(self.character):
            if entry[0] == entry_id:
                return entry
        raise InvalidInput(f"There is no identity entry #{entry_id}.")

    async def identity_add(self, kind: str, text: str) -> str:
        if kind not in IDENTITY_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(IDENTITY_KINDS)}.")
        entry_id = await self.store.identity.add(self.character, kind, self._text(text, kind))
        return f"Added {kind} #{entry_id}: {clip(text, 300)}"

    async def identity_list(self, kind: str | None = None) -> str:
        if kind is not None and kind not in IDENTITY_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(IDENTITY_KINDS)}.")
        entries = await self.store.identity.entries(self.character, kind)
        if not entries:
            return f"No {kind or 'identity'} entries yet."
        return f"**Identity ({kind or 'all kinds'})**\n" + "\n".join(
            f"#{eid} {k}: {clip(content, 300)}" for eid, k, content in entries)

    async def identity_edit(self, raw: str | int, text: str) -> str:
        entry_id, kind, old = await self._identity_entry(raw)
        new = self._text(text, kind)
        await self.store.identity.update(entry_id, new)
        return f"Changed {kind} #{entry_id}\nwas: {clip(old, 300)}\nnow: {clip(new, 300)}"

    async def identity_delete(self, raw: str | int) -> str:
        entry_id, kind, old = await self._identity_entry(raw)
        await self.store.identity.delete(entry_id)
        return f"Deleted {kind} #{entry_id}: {clip(old, 300)}"

    async def identity_choices(self, current: str) -> list[Choice]:
        rows = await self.store.identity.entries(self.character)
        return id_choices(((eid, f"#{eid} {kind}: {content}") for eid, kind, content in rows), current)

    # -- long-term facts

    async def _embed(self, text: str) -> bytes | None:
        fn = self.embedder()
        if fn is None:
            return None
        if inspect.iscoroutinefunction(fn):
            result = await fn(text)
        else:  # a model's encode() is CPU work: keep it off the event loop
            result = await asyncio.to_thread(fn, text)
            if inspect.isawaitable(result):
                result = await result
        return as_float32_bytes(result)

    def _embedding_note(self, embedding: bytes | None) -> str:
        if embedding is not None:
            return ""
        return ("\n-# Stored without an embedding: no memory engine is loaded to compute one, so similarity "
                "recall cannot find this fact until it is embedded.")

    async def _fact(self, user: UserRecord, raw: str | int) -> Any:
        fact_id = parse_id(raw, "fact")
        row = await self.store.facts.get(user.id, fact_id)
        if row is None:
            raise InvalidInput(f"{user_label(user)} has no fact #{fact_id}.")
        return row

    async def facts_add(self, user_arg: str, text: str, category: str = "general", pinned: bool = False) -> str:
        user = await self.known_user(user_arg)
        text = self._text(text, "fact")
        category = (category or "general").strip()[:50] or "general"
        embedding = await self._embed(text)
        fact_id = await self.store.facts.add(user.id, text, category=category, pinned=pinned,
                                                    embedding=embedding)
        pin = " (pinned)" if pinned else ""
        return f"Added fact #{fact_id} [{category}]{pin} about {user_label(user)}: {clip(text, 300)}" + \
            self._embedding_note(embedding)

    async def facts_list(self, user_arg: str) -> str:
        user = await self.known_user(user_arg)
        rows = await self.store.facts.rows(user.id)
        if not rows:
            return f"No long-term facts about {user_label(user)}."
        lines = [f"#{r.id} [{r.category}]{' 📌' if r.pinned else ''} {clip(r.fact, 300)}"
                 + (" (not embedded)" if r.embedding is None else "") for r in rows]
        return f"**Facts about {user_label(user)}**\n" + "\n".join(lines)

    async def facts_edit(self, user_arg: str, raw: str | int, text: str | None, category: str | None) -> str:
        user = await self.known_user(user_arg)
        row = await self._fact(user, raw)
        if text is None and category is None:
            raise InvalidInput("Give a new text, a new category, or both.")
        new_text = self._text(text, "fact") if text is not None else None
        new_category = (category.strip()[:50] or "general") if category is not None else None
        embedding = await self._embed(new_text) if new_text is not None else None
        await self.store.facts.edit(user.id, row.id, fact=new_text, category=new_category, embedding=embedding)
        note = self._embedding_note(embedding) if new_text is not None else ""
        return (f"Changed fact #{row.id} about {user_label(user)}\nwas: [{row.category}] {clip(row.fact, 300)}\n"
                f"now: [{new_category or row.category}] {clip(new_text or row.fact, 300)}" + note)

    async def facts_delete(self, user_arg: str, raw: str | int) -> str:
        user = await self.known_user(user_arg)
        row = await self._fact(user, raw)
        await self.store.facts.delete(user.id, row.id)
        return f"Deleted fact #{row.id} about {user_label(user)}: {clip(row.fact, 300)}"

    async def facts_pin(self, user_arg: str, raw: str | int, pinned: bool = True) -> str:
        user = await self.known_user(user_arg)
        row = await self._fact(user, raw)
        await self.store.facts.pin(user.id, row.id, pinned)
        state = "Pinned" if pinned else "Unpinned"
        return f"{state} fact #{row.id} about {user_label(user)}: {clip(row.fact, 300)}"

    async def fact_choices(self, user_arg: str, current: str) -> list[Choice]:
        try:
            user_id = parse_user_id(user_arg)
        except InvalidInput:
            return []
        rows = await self.store.facts.rows(user_id)
        return id_choices(((r.id, f"#{r.id} [{r.category}]{' 📌' if r.pinned else ''} {r.fact}") for r in rows),
                          current)

    # -- core memories

    async def _memory(self, user: UserRecord, raw: str | int) -> tuple[int, str, str]:
        memory_id = parse_id(raw, "memory")
        for memory in await self.store.memories.core_memories(self.character, user.id):
            if memory[0] == memory_id:
                return memory
        raise InvalidInput(f"{user_label(user)} has no core memory #{memory_id}.")

    @staticmethod
    def _source(source: str) -> str:
        return "from DMs, private" if source == PRIVATE_SOURCE else source

    async def memories_list(self, user_arg: str) -> str:
        user = await self.known_user(user_arg)
        memories = await self.store.memories.core_memories(self.character, user.id)
        if not memories:
            return f"No core memories of {user_label(user)}."
        return f"**Core memories of {user_label(user)}**\n" + "\n".join(
            f"#{mid} ({self._source(source)}) {clip(content, 400)}" for mid, content, source in memories)

    async def memories_add(self, user_arg: str, text: str) -> str:
        user = await self.known_user(user_arg)
        text = self._text(text, "memory")
        memory_id = await self.store.memories.add_core_memory(self.character, user.id, text, source="admin")
        return f"Added core memory #{memory_id} of {user_label(user)}: {clip(text, 300)}"

    async def memories_edit(self, user_arg: str, raw: str | int, text: str) -> str:
        user = await self.known_user(user_arg)
        memory_id, old, _ = await self._memory(user, raw)
        new = self._text(text, "memory")
        await self.store.memories.update_core_memory(memory_id, new)
        return (f"Changed core memory #{memory_id} of {user_label(user)} (the old version is archived)\n"
                f"was: {clip(old, 300)}\nnow: {clip(new, 300)}")

    async def memories_delete(self, user_arg: str, raw: str | int) -> str:
        user = await self.known_user(user_arg)
        memory_id, old, _ = await self._memory(user, raw)
        await self.store.memories.delete_core_memory(memory_id)
        return f"Deleted core memory #{memory_id} of {user_label(user)} (archived first): {clip(old, 300)}"

    async def memories_history(self, user_arg: str) -> str:
        user = await self.known_user(user_arg)
        versions = await self.store.memories.core_memory_versions(self.character, user.id)
        if not versions:
            return f"No archived core-memory versions of {user_label(user)}."
        lines = []
        for vid, when, reason, items in versions:
            preview = "; ".join(clip(i.get("content", ""), 60) for i in items[:3]) or "(empty)"
            lines.append(f"#{vid} {_day(when)} · {reason or 'no reason'} · {len(items)} memories: {preview}")
        return f"**Archived core-memory versions of {user_label(user)}** (newest first)\n" + "\n".join(lines)

    async def memories_restore(self, user_arg: str, raw: str | int) -> str:
        user = await self.known_user(user_arg)
        version_id = parse_id(raw, "version")
        versions = {v[0]: v for v in await self.store.memories.core_memory_versions(self.character, user.id)}
        if version_id not in versions:
            raise InvalidInput(f"{user_label(user)} has no archived version #{version_id}.")
        await self.store.memories.restore_core_memory_version(version_id)
        count = len(versions[version_id][3])
        return (f"Restored version #{version_id} of {user_label(user)}'s core memories ({count} memories); "
                "the version it replaced is archived too.")

    async def memory_choices(self, user_arg: str, current: str) -> list[Choice]:
        try:
            user_id = parse_user_id(user_arg)
        except InvalidInput:
            return []
        rows = await self.store.memories.core_memories(self.character, user_id)
        return id_choices(((mid, f"#{mid} ({self._source(source)}) {content}") for mid, content, source in rows),
                          current)

    async def version_choices(self, user_arg: str, current: str) -> list[Choice]:
        try:
            user_id = parse_user_id(user_arg)
        except InvalidInput:
            return []
        rows = await self.store.memories.core_memory_versions(self.character, user_id)
        return id_choices(((vid, f"#{vid} {_day(when)} {reason} ({len(items)} memories)")
                           for vid, when, reason, items in rows), current)

    # -- relationship

    async def relationship_show(self, user_arg: str) -> str:
        user = await self.known_user(user_arg)
        rel = await self.store.people.relationship(self.character, user.id)
        return f"**Relationship with {user_label(user)}**\n" + format_relationship(rel, user)

    async def relationship_set(self, user_arg: str, **values: float | None) -> str:
        user = await self.known_user(user_arg)
        clamped, notes = clamp_metrics(values)
        rel = await self.store.people.set_relationship(self.character, user.id, **clamped)
        head = "\n".join(f"⚠️ {n}" for n in notes)
        body = f"**Relationship with {user_label(user)} updated**\n" + format_relationship(rel, user)
        return f"{head}\n{body}" if head else body

    async def relationship_reset(self, user_arg: str) -> str:
        user = await self.known_user(user_arg)
        existed = await self.store.people.delete_relationship(self.character, user.id)
        if not existed:
            return f"The relationship with {user_label(user)} was already at its defaults."
        return (f"Reset the relationship with {user_label(user)}: no tone guidance until it grows again "
                f"(defaults: {format_relationship(RelationshipRecord(), user).splitlines()[0]}).")

    # -- global state

    @staticmethod
    def _key(key: str) -> str:
        key = key.strip()
        if not key:
            raise InvalidInput("The key cannot be empty.")
        if len(key) > MAX_KEY:
            raise InvalidInput(f"Keys are at most {MAX_KEY} characters long.")
        return key

    async def _state_changed(self, key: str) -> str:
        """Keys with a live meaning take effect at once."""
        if key == VERBOSE_KEY:
            on = await self.load_verbose()
            return f"\n-# Verbose mode is now {'on' if on else 'off'}."
        notes = [await listener(key) for listener in list(self.state_listeners)]
        return "".join(notes)

    async def state_list(self) -> str:
        items = await self.store.state.all()
        if not items:
            return "The global state is empty."
        return "**Global state**\n" + "\n".join(f"`{k}` = {clip(v, 120) or '(empty)'}" for k, v in items)

    async def state_get(self, key: str) -> str:
        key = self._key(key)
        items = dict(await self.store.state.all())
        if key not in items:
            raise InvalidInput(f"There is no state key `{clip(key, 60)}`.")
        return f"`{key}` = {items[key] or '(empty)'}"

    async def state_set(self, key: str, value: str) -> str:
        key = self._key(key)
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"The value is {len(value)} characters long; the limit is {MAX_TEXT}.")
        if key == VERBOSE_KEY and parse_switch(value) is None:
            raise InvalidInput("`verbose` takes on or off.")
        old = await self.store.state.get(key, "")
        await self.store.state.set(key, value)
        was = f" (was: {clip(old, 200)})" if old else ""
        return f"Set `{key}` = {clip(value, 300) or '(empty)'}{was}" + await self._state_changed(key)

    async def state_delete(self, key: str) -> str:
        key = self._key(key)
        if not await self.store.state.delete(key):
            raise InvalidInput(f"There is no state key `{clip(key, 60)}`.")
        return f"Deleted `{key}`." + await self._state_changed(key)

    async def state_choices(self, current: str) -> list[Choice]:
        needle = current.strip().lower()
        return [(clip(f"{k} = {v}", CHOICE_NAME), k) for k, v in await self.store.state.all()
                if needle in k.lower()][:MAX_CHOICES]
