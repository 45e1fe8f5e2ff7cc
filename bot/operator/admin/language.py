"""The admin language: what an admin types in the log channel (parsed as whole messages), the user and entry
ids admins type anywhere, and the text admin answers are made of: figures about users (never what they
said), the users list, verbose decision lines, the status report and the heartbeat's latency warning.

Pure functions: no Discord and no database, so tests and the console can use them directly. The structured
answers (status, user data, the users list) are :class:`Report` values, which the log channel shows as
panels; one-line answers stay text. Every answer is in the ``language`` it is asked for (the log channel's,
the dashboard page's, the slash command's reader's; English when None): data (names, ids, model ids, setting
and state keys) and the commands' own words (``premium <user id>``) as they are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.config import ModelSettings, Settings
from bot.core.i18n import N_, t, tn
from bot.core.lines import Figure, Line
from bot.core.numbers import date_time, dollars, number, percent
from bot.core.stages import private_scope, scope_channel
from bot.core.text import Page, clip
from bot.operator.conversation_tools import InvalidInput
from database.records import (
    PRIVATE_SOURCES,
    Archived,
    RelationshipRecord,
    Usage,
    UserRecord,
    UserSummary,
    VersionReason,
)
from memory.relationships import relationship_guidance

MAX_CHOICES = 25  # Discord's limit for autocomplete answers
CHOICE_NAME = 100  # ... and for a choice's label

Choice = tuple[str, str | int]  # an autocomplete choice: (label shown, value sent back)
Latencies = Sequence[tuple[int | None, float]]  # (shard id, seconds) as discord.py reports them


Fields = tuple[tuple[str, str], ...]  # (name, value) figures; a nameless one is its value alone


@dataclass(frozen=True)
class Report:
    """A structured answer of the log channel: a title and its figures (bot/discord/panels.py's panel)."""

    title: str
    fields: Fields

    def text(self) -> str:
        """The plain form: the title, then "name: value" lines."""
        return "\n".join([f"**{self.title}**", *(f"{n}: {v}" if n else v for n, v in self.fields)])


def named_lines(text: str) -> Fields:
    """Lines "Name: value" as figures (the model client's and the character's status lines): an indented
    line goes on with the figure above, as does every line under a "Name:" with nothing after it; a line
    without a name is a nameless figure."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(": ")
        if line[:1].isspace() and out:
            out[-1] = (out[-1][0], f"{out[-1][1]}\n{line.strip()}".strip())
        elif line.endswith(":"):
            out.append((line[:-1].strip(), ""))
        elif sep:
            out.append((name.strip(), value.strip()))
        else:
            out.append(("", line.strip()))
    return tuple(out)


def capped(fields: Fields, limit: int = 1200, language: str | None = None) -> Fields:
    """Each figure within ``limit`` characters, its whole lines kept and the rest counted ("… 40 more"), so
    one long list (a cost line per model) leaves room in a panel for the figures after it."""
    out = []
    for name, value in fields:
        lines = value.splitlines()
        kept: list[str] = []
        used = 0
        for line in lines:
            if used + len(line) + 1 > limit - 20:
                break
            kept.append(line)
            used += len(line) + 1
        if len(kept) < len(lines):
            left = len(lines) - len(kept)
            value = "\n".join([*kept, tn(language, "… {count} more", "… {count} more", left,
                                          count=number(left, language))])
        out.append((name, value))
    return tuple(out)


# --------------------------------------------------------------------------- the log-channel commands


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
    ("refresh_status", re.compile(r"refresh\s+status", re.I)),
    ("status", re.compile(r"status\??", re.I)),
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


def usage(command: str, hint: str | None = None) -> InvalidInput:
    """A command typed without what it needs: its syntax as it is typed, ``hint`` (a marked line) after it."""
    syntax = f"`{USAGE[command]}`"
    if hint is None:
        return InvalidInput(N_("Usage: {syntax}."), syntax=syntax)
    return InvalidInput(hint, syntax=syntax)


def parse_page_number(arg: str) -> int:
    """The 0-based page of ``list users [page]`` (pages are typed counting from 1)."""
    if not arg:
        return 0
    if not arg.isdigit() or int(arg) < 1:
        raise usage("list_users", N_("Usage: {syntax} (pages count from 1)."))
    return int(arg) - 1


# --------------------------------------------------------------------------- ids admins type


def parse_user_id(arg: str) -> int:
    """A Discord user id from digits or a mention."""
    arg = arg.strip()
    if not arg:
        raise InvalidInput(N_("Give a user id."))
    match = re.fullmatch(r"<@!?(\d+)>|(\d+)", arg)
    if match is None:
        raise InvalidInput(N_("{value} is not a user id: use the number from Discord's Copy User ID, or a "
                              "mention."), value=repr(clip(arg, 40)))
    value = int(match.group(1) or match.group(2))
    if not 0 < value < 2**63:
        raise InvalidInput(N_("{value} is not a valid Discord id."), value=value)
    return value


# What an id may name, each refusal a whole line for the catalogs (a language declines the noun its own way).
NOT_AN_ID = {
    "identity entry": N_("{value} is not an identity entry id: pick one from the list."),
    "fact": N_("{value} is not a fact id: pick one from the list."),
    "memory": N_("{value} is not a memory id: pick one from the list."),
    "version": N_("{value} is not a version id: pick one from the list."),
}


def parse_id(raw: str | int, what: str) -> int:
    """An entry/fact/memory/version id typed as "12", "#12" or picked from autocomplete."""
    text = str(raw).strip().lstrip("#")
    if not text.isdigit():
        raise InvalidInput(NOT_AN_ID[what], value=repr(clip(str(raw), 40)))
    return int(text)


def id_choices(rows: Iterable[tuple[int, str]], current: str) -> list[Choice]:
    """Autocomplete choices from (id, label) rows: those whose id starts with, or label contains, what was
    typed."""
    needle = current.strip().lstrip("#").lower()
    out: list[Choice] = [(clip(label, CHOICE_NAME), rid) for rid, label in rows
                         if not needle or str(rid).startswith(needle) or needle in label.lower()]
    return out[:MAX_CHOICES]


# --------------------------------------------------------------------------- figures about users


def format_usage(u: Usage, language: str | None = None) -> str:
    return (tn(language, "{count} call", "{count} calls", u.calls, count=number(u.calls, language))
            + " · " + t(language, "{total} tokens ({input} in, {output} out, {read} cache read, "
                                  "{written} cache write)", total=number(u.total_tokens, language),
                        input=number(u.input_tokens, language), output=number(u.output_tokens, language),
                        read=number(u.cache_read_tokens, language),
                        written=number(u.cache_creation_tokens, language))
            + " · " + dollars(u.cost, language))


def user_label(user: UserRecord, language: str | None = None) -> str:
    label = f"{clip(user.name, 40) if user.name else t(language, 'unnamed')} (`{user.id}`)"
    return t(language, "{user} [bot]", user=label) if user.is_bot else label


def user_choice(user: UserRecord, language: str | None = None) -> Choice:
    label = f"{user.name or t(language, 'unnamed')} ({user.id})"
    return clip(t(language, "{user} [bot]", user=label) if user.is_bot else label, CHOICE_NAME), str(user.id)


def format_day(when: datetime, language: str | None = None) -> str:
    """A stored moment (UTC) as the reader's language writes a date and a time, said to be UTC."""
    return f"{date_time(when, language)} UTC"


# Where a core memory came from (its stored source; database/records.py), as a person reads it.
SOURCE_WORDS = {
    "summary": N_("drawn from a conversation"),
    "user": N_("asked to be remembered"),
    "admin": N_("added by an admin"),
}
PRIVATE_SOURCE_WORDS = N_("from DMs or private places, private")


def memory_source(source: str, language: str | None = None) -> str:
    """A core memory's source in the reader's language (an unknown one as it is stored)."""
    if source in PRIVATE_SOURCES:
        return t(language, PRIVATE_SOURCE_WORDS)
    return t(language, SOURCE_WORDS[source]) if source in SOURCE_WORDS else source


# Why a core-memory version was kept (database/records.py ``Archived``): the line a reader sees for each
# code without a detail.
_FIXED_REASONS = {Archived.EDITED: N_("before an edit"), Archived.DELETED: N_("before a deletion"),
                  Archived.FACTS_CHANGED: N_("when the facts they drew on changed")}


def version_reason(reason: VersionReason | None, language: str | None = None) -> str:
    """Why a core-memory version was archived, in the reader's language (an unknown code as stored)."""
    if reason is None or not reason.code:
        return t(language, "no reason")
    code, detail = reason
    if code in _FIXED_REASONS:
        return t(language, _FIXED_REASONS[Archived(code)])
    if code == Archived.ADDED:
        return t(language, "before a memory was added ({source})", source=memory_source(detail, language))
    if code == Archived.RESTORED and detail.isdigit():
        return t(language, "before version #{id} was restored", id=int(detail))
    if code == Archived.SUMMARIZED:
        if private_scope(detail):
            return t(language, "when a private conversation was summarized")
        if (channel := scope_channel(detail)) is not None:
            return t(language, "when the conversation in <#{channel}> was summarized", channel=channel)
    return code


def format_user_data(s: UserSummary, models: ModelSettings, language: str | None = None) -> Report:
    """Everything an admin may know about a user in figures; never what they said."""
    model = f"`{models.premium_model if s.user.premium else models.default_model}`"
    plan = (t(language, "premium (replies use {model})", model=model) if s.user.premium
            else t(language, "standard (replies use {model})", model=model))
    return Report(user_label(s.user, language), (
        (t(language, "Plan"), plan),
        (t(language, "Usage"), format_usage(s.usage, language)),
        (t(language, "Conversations"),
         tn(language, "{count} message", "{count} messages", s.history_messages,
            count=number(s.history_messages, language))
         + " · " + t(language, "{tokens} tokens", tokens=number(s.history_tokens, language))),
        (t(language, "Core memories"), number(s.core_memories, language)),
        (t(language, "Seen"), t(language, "first {first} · last {last}",
                                first=format_day(s.user.first_seen, language),
                                last=format_day(s.user.last_seen, language))),
    ))


def format_user_line(s: UserSummary, language: str | None = None) -> str:
    star = "⭐ " if s.user.premium else ""
    return " · ".join([
        star + user_label(s.user, language),
        t(language, "{tokens} tokens", tokens=number(s.usage.total_tokens, language)),
        dollars(s.usage.cost, language),
        tn(language, "{count} msg", "{count} msgs", s.history_messages,
           count=number(s.history_messages, language)),
        tn(language, "{count} memory", "{count} memories", s.core_memories,
           count=number(s.core_memories, language))])


def render_users_page(page: Page, summaries: Sequence[UserSummary], language: str | None = None) -> Report:
    title = t(language, "Known users")
    if not page.total:
        return Report(title, (("", t(language, "Nobody yet.")),))
    first = page.offset + 1
    header = t(language, "{first}–{last} of {total} (page {page}/{pages})", first=number(first, language),
               last=number(page.offset + len(summaries), language), total=number(page.total, language),
               page=number(page.number + 1, language), pages=number(page.count, language))
    lines = "\n".join(f"{first + i}. {format_user_line(s, language)}" for i, s in enumerate(summaries))
    return Report(title, (("", header), ("", lines)))


def premium_answer(user: UserRecord, premium: bool, models: ModelSettings,
                   language: str | None = None) -> str:
    if premium:
        return t(language, "{user} is now **premium**: their replies use {model}.",
                 user=user_label(user, language), model=f"`{models.premium_model}`")
    return t(language, "{user} is **no longer premium**: their replies use {model}.",
             user=user_label(user, language), model=f"`{models.default_model}`")


def metrics_line(rel: RelationshipRecord, language: str | None = None) -> str:
    """The four figures, each as ``language`` writes a number ("7,5" in German)."""
    return t(language, "anger {anger}/10 · rapport {rapport}/10 · trust {trust}/10 · formality {formality} "
                       "(-5..+5)", anger=number(rel.anger, language), rapport=number(rel.rapport, language),
             trust=number(rel.trust, language), formality=number(rel.formality, language, signed=True))


def format_relationship(rel: RelationshipRecord, user: UserRecord, language: str | None = None) -> str:
    """The metrics and the tone guidance they give, in ``language`` (the guidance itself is the prompt's own
    English sentence, as the model reads it)."""
    guidance = relationship_guidance(rel, user.name or str(user.id)) or t(language, "none (neutral)")
    return metrics_line(rel, language) + "\n" + t(language, "Tone guidance in replies: {guidance}",
                                                   guidance=guidance)


# --------------------------------------------------------------------------- verbose mode


def verbose_answer(on: bool, language: str | None = None) -> str:
    if on:
        return t(language, "Verbose mode is **on**: reply decisions and votes, background work and errors "
                           "are mirrored here (direct messages only as \"DM from user <id>\", never their "
                           "text).")
    return t(language, "Verbose mode is **off**: only warnings and admin answers appear here.")


# --------------------------------------------------------------------------- status and heartbeat


# A duration's units, shortest first: each its short form in the catalogs ("5s", "5 Sek.").
DURATION_UNITS = (N_("{count}d"), N_("{count}h"), N_("{count}m"), N_("{count}s"))


def format_duration(seconds: float, language: str | None = None) -> str:
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    amounts = [days, hours, minutes, secs]
    first = next((i for i, amount in enumerate(amounts) if amount), 3)  # from the largest unit that has some
    return " ".join(t(language, unit, count=number(amount, language))
                    for unit, amount in zip(DURATION_UNITS[first:], amounts[first:], strict=True))


def format_latency(seconds: float, language: str | None = None) -> str:
    # discord.py reports inf (or nan) until a shard's first heartbeat is acknowledged.
    if not math.isfinite(seconds):
        return t(language, "no heartbeat acknowledged yet")
    return f"{number(seconds * 1000, language, places=0)} ms"


def shard_line(shard_id: int | None) -> Line:
    return Line(N_("gateway")) if shard_id is None else Line(N_("shard {id}"), id=shard_id)


def shard_name(shard_id: int | None, language: str | None = None) -> str:
    return shard_line(shard_id).render(language)


def format_status(settings: Settings, *, character_name: str, uptime_seconds: float, guild_count: int,
                  latencies: Latencies, verbose: bool, language: str | None = None) -> Report:
    s = settings
    gateway = ", ".join(f"{shard_name(sid, language)} {format_latency(lat, language)}"
                        for sid, lat in latencies) or t(language, "not connected")
    votes = s.replies.yes_no_vote_count
    return Report(t(language, "{name}: status", name=character_name), (
        (t(language, "Models"), t(language, "default {default} · premium {premium} · voting {voting}",
                                  default=f"`{s.models.default_model}`",
                                  premium=f"`{s.models.premium_model}`",
                                  voting=f"`{s.replies.voting_model}`")),
        (t(language, "Replies"), " · ".join([
            t(language, "bot reply threshold {threshold}",
              threshold=number(s.replies.bot_reply_threshold, language)),
            tn(language, "{count} vote", "{count} votes", votes, count=number(votes, language)),
            t(language, "cooldown {seconds}s", seconds=number(s.replies.reply_cooldown, language)),
            t(language, "typing {speed} cpm ({low}–{high}s, ±{variance})",
              speed=number(s.typing.typing_speed_cpm, language),
              low=number(s.typing.min_typing_time, language),
              high=number(s.typing.max_typing_time, language),
              variance=percent(s.typing.typing_variance, language))])),
        (t(language, "Uptime"), t(language, "{uptime} · servers: {servers} · verbose: {verbose}",
                                  uptime=format_duration(uptime_seconds, language),
                                  servers=number(guild_count, language),
                                  verbose=t(language, "on") if verbose else t(language, "off"))),
        (t(language, "Gateway latency"),
         t(language, "{gateway} (warning above {threshold} ms)", gateway=gateway,
           threshold=number(s.discord.latency_warning_ms, language))),
    ))


def latency_warning(shard_id: int | None, latency_ms: float, threshold_ms: float) -> Line:
    """Rendered where it is read: the log channel's language there, English in the bot's log."""
    return Line(N_("⚠️ Gateway latency warning: {shard} at {latency} ms (threshold {threshold} ms)."),
                shard=shard_line(shard_id), latency=Figure(latency_ms, places=0),
                threshold=Figure(threshold_ms))
