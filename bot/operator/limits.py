"""Spending limits: one person's daily token budget (standard or premium), one server's and the whole bot's
daily spend in USD, and one person's messages per minute. 0 means no limit; the bot's admins are exempt.

Asked as the second half of the one rule of who the character may reach (bot/operator/reach.py): once per
message in the message path (a gate of the admission, bot/reply/admission.py), after who-may-talk
(bot/operator/access.py) and before any reply work: past a limit nothing is voted, remembered or asked of
the model; and by every other way it speaks or listens. The character says
so once, in character (``limit_reply``), when the person next speaks to it, then stays quiet until the
window resets: the day in the operator's ``timezone`` (from local midnight), or, for the rate limit, the
minute. A new answer asked for without a message (a swipe's 🔄, /reroll) counts as a message against the
rate limit. A feature's paid call made for a person, not the model's (voice's speech-to-text of their words,
text-to-speech of an answer to them), meets the same daily limits before it is made
(``paid_call_refusal``). Each limit reached is logged and mirrored to the log channel once per window.

What was spent comes from the recorded model calls (store.spending: one query per message, only when a
daily limit is set), so it survives a restart and holds across processes sharing the database. A server's
and the whole bot's spend are sums over many people's calls: they are read again at most every
SHARED_SPEND_SECONDS (a cap may be passed by what is spent in those seconds), so the query a message
usually pays for is one person's few calls of the day. The rate limit counts in memory (a minute).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.config import ModelSettings
from bot.core.config.service import LimitSettings
from bot.core.i18n import N_, language_of, language_written, own_line, tn
from bot.core.i18n import t as translated
from bot.core.lines import Figure, Line
from bot.core.localtime import Clock, load_zone, utc_now
from bot.core.models.base import route
from bot.core.models.capabilities import ModelTable
from bot.core.numbers import number
from bot.core.stages import Decision, Incoming, Outlet
from database.spending import Spending, SpentToday
from database.style import StyleProfiles

log = logging.getLogger(__name__)

# Calls the character makes of its own accord (bot/alive/service.py), and the features' (their registrations'
# ``unprompted``, handed over by the composition root): past the global spend cap they are not made.
# Replies and votes are stopped earlier, by the message path's gate; memory upkeep goes on.
UNPROMPTED = frozenset({"status"})
RATE_WINDOW = 60.0  # seconds: user_messages_per_minute
SHARED_SPEND_SECONDS = 5.0  # how long a server's or the bot's spend today is reused before it is read again
MAX_TRACKED = 20_000  # people (or places) remembered at once; the oldest windows are forgotten past it


@dataclass(frozen=True)
class Reached:
    """A limit someone reached: which (``kind``), for whom (``subject``: a person, or the place where a
    spend cap was met), in which window, why (for the log and the log channel: a line, its figures values),
    and when it resets (for the character)."""

    kind: str  # rate | tokens | server | global
    subject: int
    window: str
    reason: Line
    when: str



def global_cap(cap: float, spent: float) -> Line:
    """Why the whole bot spends no more today: its daily cap and today's spend, in dollars."""
    return Line(N_("global daily spend cap ${cap} reached (${spent} today)"), cap=Figure(cap),
                spent=Figure(spent, 2))

class ReplyTokenFactor:
    """The reply model's tokens per token of the local tokenizer (as ``ClaudeClient.token_factor`` says), read
    from the capability table the model client shares: the limits are built before the client, whose guard
    they are."""

    def __init__(self, models: ModelSettings, table: ModelTable) -> None:
        self.models = models  # following reloads
        self.table = table

    def __call__(self) -> float:
        backend, name = route(self.models.default_model, self.models.llm_backend)
        family = self.table.family(name) if backend == "anthropic" else None
        return family.token_factor if family is not None else 1.0


class SpendingLimits:
    """``limits``: the limits section (a reload reaches it); ``timezone``: the operator's (``timezone``, read
    at start-up), where the day starts; ``spending``: the recorded model calls' figures."""

    def __init__(self, limits: LimitSettings, timezone: str, spending: Spending, *,
                 is_admin: Callable[[int], bool],
                 addressed: Callable[[Incoming], bool], name: Callable[[], str],
                 mirror: Callable[[Line], None], clock: Clock = utc_now,
                 monotonic: Callable[[], float] = time.monotonic,
                 token_factor: Callable[[], float] = lambda: 1.0,
                 unprompted: Iterable[str] = (), style: StyleProfiles | None = None) -> None:
        self.limits = limits
        self.style = style  # the writing profiles: the language of one whose message tells none
        self.unprompted = UNPROMPTED | frozenset(unprompted)
        # The reply model's tokens per local token (ClaudeClient.token_factor): budgets are written for the
        # 4.x tokenizer, so on 5.x (about 30 % more tokens of the same text) they buy the same conversation.
        self.token_factor = token_factor
        self.spending = spending
        self.is_admin = is_admin
        self.addressed = addressed  # whether the message certainly asks for an answer (DM, mention, name)
        self.name = name
        self.mirror = mirror
        self.clock = clock
        self.monotonic = monotonic
        self.zone = load_zone(timezone)
        self.timezone = self.zone.key  # named even when the setting is empty (the machine's zone)
        self._recent: dict[int, deque[float]] = {}  # person -> times of their admitted messages
        self._told: dict[tuple[str, int], str] = {}  # (kind, subject) -> the window they were told in
        self._noted: dict[tuple[str, int], str] = {}  # (kind, subject) -> the window logged and mirrored
        # (day start, server id or None for the whole bot) -> (USD spent, when it was read)
        self._shared: dict[tuple[datetime, int | None], tuple[float, float]] = {}

    # -- the settings

    @property
    def daily(self) -> bool:
        s = self.limits
        return bool(s.daily_token_budget or s.premium_daily_token_budget
                    or s.server_daily_spend_usd or s.global_daily_spend_usd)

    @property
    def active(self) -> bool:
        return self.daily or bool(self.limits.user_messages_per_minute)

    def budget(self, premium: bool) -> int:
        """The daily token budget in the reply model's tokens (what api_calls records)."""
        s = self.limits
        raw = s.premium_daily_token_budget if premium else s.daily_token_budget
        return round(raw * self.token_factor())

    def day_start(self, now: datetime) -> datetime:
        """The start of the operator's day holding ``now``, in UTC (how api_calls stores its times)."""
        local = now.astimezone(self.zone)
        return datetime(local.year, local.month, local.day, tzinfo=self.zone).astimezone(UTC)

    # -- checks

    def _rate(self, user_id: int) -> Reached | None:
        """Counts the message when it is within the rate limit; a Reached when it is past it."""
        limit = self.limits.user_messages_per_minute
        if not limit:
            return None
        now = self.monotonic()
        times = self._recent.get(user_id)
        if times is None:
            if len(self._recent) >= MAX_TRACKED:
                self._forget_idle(now)
            times = self._recent[user_id] = deque()
        while times and now - times[0] >= RATE_WINDOW:
            times.popleft()
        if len(times) >= limit:
            return Reached("rate", user_id, f"{times[0]:.3f}",
                           Line.tn(limit, "{count} message a minute reached",
                                   "{count} messages a minute reached"),
                           N_("in a minute"))
        times.append(now)
        return None

    def _forget_idle(self, now: float) -> None:
        for user_id in [u for u, t in self._recent.items() if not t or now - t[-1] >= RATE_WINDOW]:
            del self._recent[user_id]

    async def spent(self, user_id: int | None, guild_id: int | None, now: datetime) -> SpentToday:
        """Today's figures the configured limits need (at most one query)."""
        s = self.limits
        since = self.day_start(now)
        person = user_id if s.daily_token_budget or s.premium_daily_token_budget else None
        server = (self._fresh(since, guild_id) if guild_id is not None and s.server_daily_spend_usd
                  else 0.0)
        everyone = self._fresh(since, None) if s.global_daily_spend_usd else 0.0
        if person is None and server is not None and everyone is not None:
            return SpentToday(server_usd=server, global_usd=everyone)
        read = await self.spending.today(since, user_id=person,
                                               guild_id=guild_id if server is None else None,
                                               everyone=everyone is None)
        if len(self._shared) > MAX_TRACKED:
            self._shared.clear()
        at = self.monotonic()
        if server is None:
            self._shared[(since, guild_id)] = (server := read.server_usd, at)
        if everyone is None:
            self._shared[(since, None)] = (everyone := read.global_usd, at)
        return SpentToday(read.person_tokens, read.premium, server, everyone)

    def add_spend(self, guild_id: int | None, usd: float) -> None:
        """A model call of this process just cost ``usd`` for ``guild_id`` (ClaudeClient.spending): kept
        in the running sums, so this process never waits SHARED_SPEND_SECONDS to see its own spend."""
        for key, (spent, at) in list(self._shared.items()):
            if key[1] is None or key[1] == guild_id:
                self._shared[key] = (spent + usd, at)

    def _fresh(self, since: datetime, guild_id: int | None) -> float | None:
        """A server's (None: the bot's) spend today as read less than SHARED_SPEND_SECONDS ago."""
        cached = self._shared.get((since, guild_id))
        if cached is None or self.monotonic() - cached[1] >= SHARED_SPEND_SECONDS:
            return None
        return cached[0]

    async def _daily(self, user_id: int | None, guild_id: int | None, place: int) -> Reached | None:
        if not self.daily:
            return None
        s = self.limits
        now = self.clock()
        day = now.astimezone(self.zone).date().isoformat()
        spent = await self.spent(user_id, guild_id, now)
        cap = s.global_daily_spend_usd
        if cap and spent.global_usd >= cap:
            return Reached("global", place, day, global_cap(cap, spent.global_usd), N_("tomorrow"))
        cap = s.server_daily_spend_usd
        if guild_id is not None and cap and spent.server_usd >= cap:
            return Reached("server", place, day,
                           Line(N_("this server's daily spend cap ${cap} reached (${spent} today)"),
                                cap=Figure(cap), spent=Figure(spent.server_usd, 2)), N_("tomorrow"))
        budget = self.budget(spent.premium)
        if budget and spent.person_tokens >= budget:
            used = (N_("premium daily token budget {budget} used up ({spent} tokens today)") if spent.premium
                    else N_("daily token budget {budget} used up ({spent} tokens today)"))
            return Reached("tokens", user_id or place, day,
                           Line(used, budget=Figure(budget), spent=Figure(spent.person_tokens)),
                           N_("tomorrow"))
        return None

    async def reached(self, user_id: int | None, guild_id: int | None, place: int, *, counted: bool = False,
                      unprompted: bool = False) -> Reached | None:
        """The limit a call for ``user_id`` (None: nobody in particular) in ``guild_id`` would pass (None:
        none), for the one rule (bot/operator/reach.py). ``place``: the channel. ``counted``: a new answer is
        asked for (a message, a swipe): it counts against their messages a minute, and is refused past them.
        ``unprompted``: the character would speak of its own accord, so the spend caps hold even for an
        admin."""
        if user_id is not None and self.is_admin(user_id):
            return await self._daily(None, guild_id, place) if unprompted else None
        if not (self.daily or (counted and self.limits.user_messages_per_minute)):
            return None
        reached = self._rate(user_id) if counted and user_id is not None else None
        return reached or await self._daily(user_id, guild_id, place)

    async def guard(self, purpose: str) -> str | None:
        """ClaudeClient.spending: why a call the character would make unprompted is not made (None: it
        may be)."""
        cap = self.limits.global_daily_spend_usd
        if not cap or purpose not in self.unprompted:
            return None
        now = self.clock()
        spent = (await self.spent(None, None, now)).global_usd
        if spent < cap:
            return None
        day = now.astimezone(self.zone).date().isoformat()
        reason = global_cap(cap, spent)
        if self._once(self._noted, Reached("global", 0, day, reason, N_("tomorrow"))):
            log.warning("%s: the character speaks first no more today", reason.english())
            self.mirror(Line(N_("⏳ {reason}: nothing said unprompted (a first word, a DM, the status) until "
                                "midnight ({zone})."), reason=reason, zone=self.timezone))
        return reason.english()  # the model client's own log and error: the operator's, in English

    async def paid_call_refusal(self, user_id: int | None, guild_id: int | None, place: int, *,
                                what: str) -> str | None:
        """Why a feature's paid call (``what``: e.g. speech-to-text of ``user_id``'s words) for ``user_id``
        in ``guild_id`` (None: a DM) is not made: the daily limits a message meets (the whole bot's and the
        server's spend caps, the person's token budget), and, as for a message, none for an admin.
        ``place``: the channel; each limit reached there is logged and mirrored once per window, the same
        once as the message path's (a message refused here is not noted again by its gate). None: the call
        may be made."""
        if not self.daily or (user_id is not None and self.is_admin(user_id)):
            return None
        reached = await self._daily(user_id, guild_id, place)
        if reached is None:
            return None
        if self._once(self._noted, reached):
            line = Line(N_("⏳ {what} not called for {user} in {where}: {reason}; no paid calls for them "
                           "there until {until}."), what=what.capitalize(), user=user_id,
                        where=_where(guild_id is None, place), reason=reached.reason,
                        until=self._reset_text(reached))
            log.warning("%s", line.english())
            self.mirror(line)
        return reached.reason.english()  # a feature's own log and error: the operator's, in English

    def reply_text(self, reached: Reached, language: str | None = None) -> str:
        """The limit's line, in ``language`` unless the operator wrote their own."""
        return own_line(language, self.limits.limit_reply, LimitSettings.limit_reply, name=self.name(),
                        when=translated(language, reached.when))

    # -- the message path

    async def refused(self, msg: Incoming, outlet: Outlet, reached: Reached) -> Decision:
        """The message path's refusal for ``reached``: logged and mirrored once a window, and said once a
        window to one who certainly asked for an answer."""
        self._note(msg, reached)
        told = self.addressed(msg) and self._once(self._told, reached)
        if told:
            try:
                language = language_of(msg.content) or await self._written(msg.author_id)
                await outlet.send(self.reply_text(reached, language), first=True)
            except Exception as exc:  # the refusal stands even when Discord would not take the line
                log.warning("could not tell %s about the limit: %s", msg.author_id, exc)
        if told:
            return Decision(False, Line(N_("limit: {reason}; said so once"), reason=reached.reason),
                            kind="limit")
        return Decision(False, Line(N_("limit: {reason}"), reason=reached.reason), kind="limit")

    async def _written(self, user_id: int) -> str | None:
        """The language the person writes in (their writing profile): a message that tells none ("ok?")
        is answered in it."""
        if self.style is None:
            return None
        try:
            return language_written(await self.style.get(user_id))
        except Exception as exc:  # a language is not worth failing the refusal over
            log.debug("no writing profile read for user %s: %s", user_id, exc)
            return None

    def _once(self, seen: dict[tuple[str, int], str], reached: Reached) -> bool:
        """True the first time ``reached`` (its kind, subject and window) is seen in ``seen``."""
        key = (reached.kind, reached.subject)
        if seen.get(key) == reached.window:
            return False
        if len(seen) >= MAX_TRACKED:
            seen.clear()  # forgetting means at most one more notice: cheaper than sorting by age
        seen[key] = reached.window
        return True

    def note(self, way: str, user_id: int | None, guild_id: int | None, place: int, reached: Reached) -> None:
        """A way other than a message (a DM it starts, a reminder, someone heard in a call, /ask) stopped at
        ``reached``: logged and mirrored once a window, as the message path's refusals are."""
        if not self._once(self._noted, reached):
            return
        who = Line(N_("user {user}"), user=user_id) if user_id is not None else Line(N_("anyone"))
        line = Line(N_("⏳ Limit reached ({way}) for {who} in {where}: {reason}; no {way} there until "
                       "{until}."),
                    way=way, who=who, where=_where(guild_id is None, place), reason=reached.reason,
                    until=self._reset_text(reached))
        log.warning("%s", line.english())
        self.mirror(line)

    def _note(self, msg: Incoming, reached: Reached) -> None:
        if not self._once(self._noted, reached):
            return
        line = Line(N_("⏳ Limit reached by {name} ({user}) in {where}: {reason}; quiet to them until "
                       "{until}."),
                    name=msg.author_name, user=msg.author_id,
                    where=_where(msg.is_dm, msg.channel_id),  # never what a DM said
                    reason=reached.reason, until=self._reset_text(reached))
        log.warning("%s", line.english())
        self.mirror(line)

    def _reset_text(self, reached: Reached) -> Line:
        if reached.kind == "rate":
            return Line(N_("the minute is over"))
        return Line(N_("midnight ({zone})"), zone=self.timezone)

    # -- /status

    async def status_line(self, user_id: int, premium: bool, language: str | None = None) -> str | None:
        """What is left of the person's daily budget (and their rate limit), in ``language``; None when no
        limit applies."""
        s = self.limits
        if not (s.daily_token_budget or s.premium_daily_token_budget
                or s.user_messages_per_minute):
            return None
        if self.is_admin(user_id):
            return translated(language, N_("No limits for you (you are one of my admins)."))
        lines = []
        budget = self.budget(premium)
        if budget:
            now = self.clock()
            spent = await self.spending.today(self.day_start(now), user_id=user_id)
            left = max(0, budget - spent.person_tokens)
            reset = self.day_start(now + timedelta(days=1, hours=1))  # (a day of 23 hours: DST)
            lines.append(translated(language, N_("{left} of {budget} tokens left today (resets {when})"),
                                    left=number(left, language), budget=number(budget, language),
                                    when=f"<t:{int(reset.timestamp())}:R>"))
        elif s.daily_token_budget or s.premium_daily_token_budget:
            lines.append(translated(language, N_("No daily token limit on your plan")))
        if s.user_messages_per_minute:
            lines.append(tn(language, "Up to {count} message a minute", "Up to {count} messages a minute",
                            s.user_messages_per_minute, count=number(s.user_messages_per_minute, language)))
        return "\n".join(lines)


def _where(dm: bool, channel: int) -> Line:
    """Where a limit was met, for the log channel: a DM by no id, a channel by its id."""
    return Line(N_("a DM")) if dm else Line(N_("channel {channel}"), channel=channel)
