"""The check-in round: someone who ran ``/checkin on`` and has been silent for ``checkin_after_days`` gets one
DM, at a sensible local hour (CHECKIN_HOURS in ``timezone``, never in ``quiet_hours``), asking how they
are, in character and drawing on what the character remembers of them. Never more than one unanswered
check-in: the next can only follow once they have spoken again (database/checkins.py). A Claude failure
sends nothing; the person stays due and the next round tries again. The check-in is kept in their DM
history (when they are remembered), so their answer is read as an answer to it.

A check-in is the character speaking unprompted in a DM: the one rule (bot/operator/reach.py) is asked
before anything is written, so one who may not talk to it in DMs (blocked, ``allow_dms`` off) or over a
spending limit gets none, and no model call is made for them; they stay due, and are asked again next
round.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.alive.initiative import initiative_prompt, place_incoming, self_portrait, speak, split
from bot.alive.speaker import Speaker
from bot.core.claude import ClaudeUnavailable
from bot.core.i18n import N_, t, tn
from bot.core.lines import Line, Quantity
from bot.core.localtime import LocalTime, hour_in
from bot.core.numbers import as_shown, number, quantity
from bot.core.persona.macros import Moment
from bot.core.persona.register import in_place
from bot.core.place import Place
from bot.core.reach import Permit, Refusal, Way, Where
from bot.core.stages import Outlet
from bot.core.text import clean_name
from bot.core.tokens import counted
from bot.features.checkins.config import CheckinSettings
from bot.reply.prompting import fence, group, person_parts, profile_part, threads_part
from database.checkins import CheckIns
from database.profiles import NO_PROFILE, Profile
from database.records import NOTE_SOURCES, CheckInDue, Turn
from memory.threads import render, still_open

log = logging.getLogger(__name__)

CHECKIN_HOURS = (10, 20)  # local hours in which a check-in may go out: not at breakfast, not at night
INTERVAL = timedelta(hours=1)  # how often the durable job looks for people due



ASK = ("[Write {name} one short, warm DM, in character, asking how they are. Use what you remember if it "
       "fits (if something they were waiting for or meant to do has had its day, ask how it went); don't be "
       "pushy or guilt them. Only the message.]")


Toward = Callable[[int, str, str], Awaitable[str]]  # (user id, name, today's mood) -> the state line


class CheckInRound:
    def __init__(self, speaker: Speaker, time: LocalTime, *, feeling: Toward,
                 open_dm: Callable[[Permit], Awaitable[Outlet | None]],
                 remembers: Callable[[bool | None], bool],
                 mirror: Callable[[Line], None]) -> None:
        self.speaker = speaker
        self.time = time
        self.feeling = feeling  # (user id, name, today's mood) -> how the character feels toward them
        self.open_dm = open_dm
        self.remembers = remembers
        self.mirror = mirror

    def sensible_hour(self, now: datetime) -> bool:
        return hour_in(self.time.hour(now), *CHECKIN_HOURS) and not self.time.is_quiet(now)

    async def run(self, now: datetime) -> str:
        settings = self.speaker.settings.section(CheckinSettings)
        if not settings.checkins:
            return "check-ins are off"
        if not self.sensible_hour(now):
            return "not a sensible local hour"
        mark = self.speaker.store.privacy.mark()  # before they are read: see check_in
        due = await self.speaker.store.checkins.due(now - timedelta(days=settings.checkin_after_days))
        sent = 0
        for person in due:
            try:
                sent += await self.check_in(person, now, mark)
            except Exception:
                log.exception("check-in for user %s failed", person.user_id)
        return f"{sent} of {len(due)} check-in(s) sent"

    async def person(self, user_id: int, name: str, now: datetime, profile: Profile = NO_PROFILE) -> str:
        """What the character knows of them, quoted as in a reply (bot/reply/prompting.py): its core memories,
        their own notes (/remember: their words, "I" is them, never the character's), and their open threads
        (memory/threads.py: one whose day has come is what to ask about). A DM: what was learnt in DMs
        belongs here too. Then the conversation's summary and their last message. Each thing is said once, as
        in a reply's person block (bot/reply/prompting.py ``person_parts``)."""
        store = self.speaker.store
        kept = await store.memories.core_memories(self.speaker.character_key, user_id, usable=True)
        threads = render(await store.threads.open_for(user_id, *still_open(now), private=True))
        # what the conversation was about: its summary and the last thing they said
        history = await store.conversations.history(self.speaker.character_key, user_id, "dm")
        parts = person_parts(name, [m[1] for m in kept if m[2] not in NOTE_SOURCES],
                             [m[1] for m in kept if m[2] in NOTE_SOURCES], history.summary)
        inner = [profile_part(profile, name)]  # first, as in a reply: what they said of themselves (/me)
        inner += [t for label, t in parts if label != "person: summary"]
        inner += [threads_part(threads, name), *(t for label, t in parts if label == "person: summary")]
        last = next((t.content for t in reversed(history.turns)
                     if t.role == "user" and t.content.strip()), "")
        if last:
            inner.append(fence("last_message", last[:500], by=name))
        return group("person", "\n".join(p for p in inner if p), name=name) if any(inner) else ""

    async def last_said(self, user_id: int) -> str:
        """The last thing they said in their DM ("" for none)."""
        history = await self.speaker.store.conversations.history(self.speaker.character_key, user_id, "dm")
        said = (t.content for t in reversed(history.turns) if t.role == "user" and t.content.strip())
        return next(said, "")

    async def check_in(self, person: CheckInDue, now: datetime, mark: int) -> bool:
        """DM ``person`` after their silence. Its model call's usage row, the DM and the turn kept name them:
        a /forget_me of theirs since ``mark`` (taken before ``person`` was read) means none is sent; one
        that begins meanwhile waits for it, then deletes it all (database/privacy.py ``writing_about``)."""
        privacy = self.speaker.store.privacy
        async with privacy.writing_about(person.user_id, mark) as allowed:
            return allowed and await self._check_in(person, now)

    async def _check_in(self, person: CheckInDue, now: datetime) -> bool:
        speaker = self.speaker
        permit = await speaker.reach.permit(Way.CHECKIN, person.user_id, Where.dm())
        if isinstance(permit, Refusal):
            log.debug("no check-in for user %s: %s", person.user_id, permit.reason.english())
            return False
        store, persona = speaker.store, in_place(speaker.persona, False)  # a DM: a mature one's safe register
        user = await store.people.get_user(person.user_id)
        remembered = self.remembers(user.memory_consent if user is not None else None)
        profile = await store.profiles.get(person.user_id)  # what they set with /me: theirs, kept regardless
        shown = person.name or profile.name
        name = clean_name(profile.name or person.name) if shown else "them"
        block = await self.person(person.user_id, name, now, profile) if remembered else ""
        if not block and profile:
            block = group("person", profile_part(profile, name), name=name)
        portrait = await self_portrait(store.identity, store.state, speaker.character_key)
        # their language and register, as a reply to them carries it (their last words, where no profile
        # tells: the history is read only for one who is remembered)
        last = await self.last_said(person.user_id) if remembered else ""
        request = initiative_prompt(persona, portrait,
                                    ASK.format(name=name),
                                    feeling=await self.feeling(person.user_id, name, portrait.mood),
                                    moment=Moment(self.time.local(now), now - person.last_seen), name=name,
                                    person=block, style=await speaker.voice_for(person.user_id, name, last))
        try:
            said = await speaker.line(request, user_id=person.user_id, guild_id=None, purpose="checkin")
        except ClaudeUnavailable as exc:
            log.warning("check-in for user %s skipped: Claude failed (%s)", person.user_id, exc)
            self.mirror(Line(N_("Check-in for user {user} skipped: Claude failed; tried again later."),
                             user=person.user_id))
            return False
        if not said:
            return False
        outlet = await self.open_dm(permit)
        if outlet is None:
            return False
        here = place_incoming(Place.dm(0), now, user_id=person.user_id, user_name=name)  # their DM
        parts = split(speaker.settings.discord, speaker.finish_text(here, said))
        await store.checkins.mark_sent(person.user_id)  # first: a crash after sending must not send twice
        store.log.forget_author(person.user_id)  # their next message stamps last_seen anew: the answer
        try:
            ids = await speak(speaker.settings.typing, outlet, parts)
        except Exception:
            await store.checkins.unmark(person.user_id, person.sent_at)
            raise
        for message_id in ids:
            if message_id is not None:  # a forget waiting for this deletes it, its echo never logged
                store.privacy.posted_in_dm(person.user_id, message_id)
        if remembered:
            text = "\n\n".join(parts)
            await store.conversations.append_turns(speaker.character_key, person.user_id, "dm", [
                counted(Turn("assistant", text, discord_message_id=ids[-1] if ids else None))])
        silence = (now - person.last_seen) / timedelta(days=1)
        log.info("check-in sent to user %s after %.1f day(s) of silence", person.user_id, silence)
        self.mirror(sent_line(person.user_id, silence))
        return True


def sent_line(user_id: int, silence_days: float) -> Line:
    """The log channel's line for a check-in sent: its whole days of silence, or under a day
    (``checkin_after_days`` may be 0.5) its tenths of one, each in the form its number as shown takes."""
    if silence_days >= 1:
        return Line.tn(int(silence_days), "Check-in sent to user {user} ({count} day of silence).",
                       "Check-in sent to user {user} ({count} days of silence).", user=user_id)
    return Line(N_("Check-in sent to user {user} ({silence} of silence)."), user=user_id,
                silence=Quantity(max(0.1, round(silence_days, 1)), "day"))


class CheckInChoice:
    """``/checkin on|off``: whether someone wants a DM after a long silence."""

    def __init__(self, checkins: CheckIns) -> None:
        self.checkins = checkins

    async def choose(self, user_id: int, name: str, wanted: bool) -> None:
        await self.checkins.set(user_id, name, wanted)

    @staticmethod
    def switched_on(after_days: float, language: str | None) -> str:
        """What ``/checkin on`` answers: after how many days of silence the DM comes, the days' form the one
        their number takes as shown. A fraction of a day ("0.5") takes a form no whole count picks in
        gettext, so it is said by CLDR's unit patterns instead (bot/core/numbers.py ``quantity``)."""
        days = as_shown(after_days)
        if isinstance(days, int):
            return tn(language, "I'll check on you with a DM if I haven't heard from you for {days} day "
                      "(never more than one until you answer). `/checkin off` stops it.", "I'll check on you "
                      "with a DM if I haven't heard from you for {days} days (never more than one until you "
                      "answer). `/checkin off` stops it.", days, days=number(days, language))
        return t(language, "I'll check on you with a DM if I haven't heard from you for {duration} (never "
                 "more than one until you answer). `/checkin off` stops it.",
                 duration=quantity(after_days, "day", language))
