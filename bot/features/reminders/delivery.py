"""Delivering a reminder (bot/features/reminders/book.py sets them) from its durable timer (kind ``reminder``,
bot/core/timers.py): once across a cluster's processes (the timer's claim holds it while it runs), and once
across a crash (marked delivered only once posted, its posts under nonces named after it), in character, in
the place it was asked: a DM reminder in the person's DM, never in a channel; a channel's in that channel,
naming the person. A channel an admin has since closed to it (``/bot deactivate``, or ``/bot reminders off``
there, its thread's channel or its server) is not posted in: the reminder goes to the person's DM instead,
as they still expect it. A mature character speaks in the place's register (bot/core/persona/register.py):
its full one only in an age-restricted channel, never in a DM. It is told how the character feels toward
the person as a reply is, in the same ``<state>`` (bot/alive/initiative.py): in a channel only what public
talk moved.

It waits for a reply to the person in flight in that place (the pipeline's lock on the conversation), so it
never cuts in. The character writes it (a model call with the persona, as a check-in); when the model fails,
``reminder_fallback_line`` goes out instead: a reminder is a promise, and it is kept.

Who may be reminded is the one rule's (bot/operator/reach.py), asked when it is due, not when it was set: one
the channel now refuses (blocked there, say) is reminded in their DM instead; one the DM refuses too
(blocked, ``allow_dms`` off) is not reminded, and the reminder is closed. Past a spending limit (theirs, the
server's, the bot's) the plain line goes out, without a model call.

A place task (bot/features/reminders/tasks.py) shares the timer and the row but not the promise: its time is
carried out in its channel, through the gates of anything said unprompted (the place active, the rule, the
spending limits, the bot still allowed to send there), or skipped with one log line; never moved to a DM,
never a plain line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.alive.initiative import Venue, initiative_prompt, place_incoming, self_portrait, speak, split
from bot.alive.service import DiscordSide
from bot.alive.speaker import Speaker
from bot.alive.style import place_line
from bot.core.claude import ClaudeUnavailable
from bot.core.i18n import N_, language_named, language_of, own_line, t
from bot.core.lines import Line
from bot.core.localtime import Clock, LocalTime, load_zone, utc_now
from bot.core.persona.macros import Moment
from bot.core.persona.register import in_place
from bot.core.place import Place
from bot.core.reach import Permit, Refusal, Way, Where
from bot.core.stages import Outlet, conversation_scope
from bot.core.text import clean_name
from bot.features.reminders.book import NAMELESS, humane
from bot.features.reminders.config import ReminderSettings
from bot.features.reminders.recurrence import Due, Occurrence, due_off_loop, from_text, local_text
from bot.features.reminders.tasks import ASK as TASK_ASK
from bot.features.reminders.tasks import BEFORE as TASK_BEFORE
from bot.operator.registration import PlaceSwitch
from bot.reply.prompting import fence
from database.reminders import ReminderRow, reminder_key
from database.timers import TimerRow
from memory.threads import close_served

log = logging.getLogger(__name__)

ASK = ("[{name} asked you {ago} ago to remind them of what is quoted above, now. Remind them of it, in "
       "character, in one or two short lines. Only the message.]")
MISSED = ("[{name} asked you to remind them of what is quoted above, repeating. You were away when it came "
          "due {count}, so you skipped it rather than remind them late. Tell them so, in character, in one "
          "short line{next}. Only the message.]")
SKIPPED_TOO = (" [You were also away for {count} of its times before this one, which you skipped; say so "
               "in a few words.]")
# The plain lines' forms for a person without a name, and the word an operator's {user} gets then.
ASKED_BARE = N_("You asked me to remind you: {reminder}")
MISSED_BARE = N_("I was away when your reminder came due, so I skipped it: {reminder}")
FRIEND = N_("friend")
MISSED_AFTER = timedelta(minutes=30)  # a recurring occurrence later than this is skipped and said, not made
GIVE_UP = timedelta(days=1)  # a reminder whose posts kept failing this long after its time is dropped
PlaceLock = Callable[[tuple[int, str]], AbstractAsyncContextManager[None]]  # a conversation's reply lock
# (user id, name, today's mood, the channel or None for their DM) -> how the character feels toward them
Toward = Callable[[int, str, str, int | None], Awaitable[str]]


def reminder_nonce(reminder_id: int, occurrence: datetime | None = None) -> str:
    """What a reminder's posts are, as their nonce says (each part adds its index; Discord keeps 25
    characters): a recurring one's name the occurrence too, by its minute."""
    if occurrence is None:
        return f"reminder.{reminder_id}"
    return f"rem.{reminder_id}.{int(occurrence.timestamp()) // 60:x}"


@dataclass(frozen=True)
class DueTurn:
    """A recurring reminder's time to deliver: where its rule stands, and whether its latest occurrence is
    too late to deliver (then it is skipped and said)."""

    due: Due
    missed: bool


class ReminderDelivery:
    """The ``reminder`` timer's handler."""

    def __init__(self, speaker: Speaker, side: DiscordSide, time: LocalTime, place_lock: PlaceLock,
                 asked: PlaceSwitch, *, mirror: Callable[[Line], None] = lambda _: None,
                 clock: Clock = utc_now, feeling: Toward | None = None) -> None:
        """``feeling``: the state line toward the person where the reminder goes (bot/alive/service.py
        ``feeling_toward``; None: none said); ``asked``: the /bot reminders switch, read again when one is
        due."""
        self.speaker = speaker
        self.asked = asked
        self.feeling = feeling
        self.side = side
        self.time = time
        self.place_lock = place_lock  # the main character's per-conversation reply lock
        self.mirror = mirror
        self.clock = clock

    async def deliver(self, row: TimerRow) -> str:
        """Deliver the reminder of ``row``, once across crashes and processes (safe to run again: one
        delivered or cancelled is left alone). While this run holds the timer's lease (bot/core/timers.py) no
        other takes the row, so the reminder is marked delivered only once posted: a crash before that (in
        the model call, say) leaves it to the run after the lease. Its posts carry nonces named after it: a
        post that reached Discord just before a crash or a failed answer is not made twice. A recurring
        one is moved to its next occurrence instead of marked (with its timer, in one transaction)."""
        reminders = self.speaker.store.reminders
        mark = self.speaker.store.privacy.mark()  # before it is read: a /forget_me after this, its post goes
        reminder_id = int(str(row.payload.get("reminder", 0)))
        reminder = await reminders.get(reminder_id)
        if reminder is None or reminder.delivered or reminder.cancelled:
            return f"reminder {reminder_id} gone (cancelled, forgotten or delivered)"
        if reminder.paused:  # its timer goes; resuming arms the next occurrence
            return f"reminder {reminder_id} paused"
        if reminder.task:
            return await self._carry_out(reminder)
        turn = await self._turn(reminder) if reminder.rule else None
        permit = await self._permit(reminder)
        if isinstance(permit, Refusal):
            await self._close(reminder, turn, self.clock())  # nobody to remind (this time)
            log.info("reminder %s not delivered: user %s may not be reached (%s)", reminder_id,
                     reminder.user_id, permit.reason.english())
            return f"reminder {reminder_id} not delivered: {permit.reason.english()}"
        to_dm = permit.where.is_dm
        scope = conversation_scope(to_dm, False, reminder.channel_id)
        async with self.place_lock((reminder.user_id, scope)):  # a reply in flight there goes first
            now = self.clock()
            if row.last_result.startswith("failed") and now - reminder.due_at > GIVE_UP:
                # its posts keep failing (its place gone, or closed to us): not retried for ever; one merely
                # late (the bot was down) still goes out
                await self._close(reminder, turn, now)
                log.warning("reminder %s dropped: still not delivered a day after its time", reminder_id)
                return f"reminder {reminder_id} dropped: a day late"
            outlet = await self._outlet(reminder, permit, turn)
            if outlet is None:
                await self._close(reminder, turn, now)  # there is nowhere to post it
                return f"reminder {reminder_id} undeliverable: no DM channel with its person"
            spend = await self.speaker.reach.over_limit(Way.REMINDER, reminder.user_id, permit.where)
            text = await self.words(reminder, now, to_dm, write=spend is None, turn=turn)
            here = place_incoming(self.place(reminder, to_dm), now, user_id=reminder.user_id)
            parts = split(self.speaker.settings.discord, self.speaker.finish_text(here, text))
            posted = await speak(self.speaker.settings.typing, outlet, parts)
            if not to_dm:  # a channel's post quotes what they asked for: theirs to forget
                # (a DM's goes with the whole DM channel)
                for message_id in posted:
                    if message_id is not None:
                        await self.speaker.store.privacy.posted_for(reminder.user_id, message_id, mark)
            if not await self._close(reminder, turn, self.clock()):
                log.info("reminder %s was cancelled or moved while it was being posted", reminder_id)
            elif turn is None:  # said: the thread it stood for is no longer to come
                await close_served(self.speaker.store.threads, reminder.user_id, reminder.text,
                                   reminder.due_at)
        where = (Line(N_("their DM")) if reminder.is_dm
                 else Line(N_("channel {channel}"), channel=reminder.channel_id) if not to_dm
                 else Line(N_("their DM (channel {channel} is closed to reminders now)"),
                           channel=reminder.channel_id))
        missed = turn is not None and turn.missed
        said = "missed, said" if missed else "delivered"
        log.info("reminder %s %s to user %s in %s", reminder_id, said, reminder.user_id, where.english())
        line = (N_("Reminder {reminder} missed, said to user {user} in {where}.") if missed
                else N_("Reminder {reminder} delivered to user {user} in {where}."))
        self.mirror(Line(line, reminder=reminder_id, user=reminder.user_id, where=where))
        return f"reminder {reminder_id} {said}"

    async def _carry_out(self, task: ReminderRow) -> str:
        """A place task's time (bot/features/reminders/tasks.py): the character does what it says, in its
        channel, through the gates of anything it says unprompted; a time that finds one shut, or that came
        while the bot was away, is skipped with one log line. Moved on to its next time once posted (a crash
        before that tries again, its post under the same nonce)."""
        turn = await self._turn(task)
        now = self.clock()
        why = "its time went by while I was away" if turn.missed else await self._task_shut(task)
        permit: Permit | Refusal | None = None
        if not why:
            permit = await self.speaker.reach.permit(Way.TASK, None, Where(task.guild_id, task.channel_id))
            if isinstance(permit, Refusal):
                why = permit.reason.english()
        if why or not isinstance(permit, Permit):
            await self._close(task, turn, now)
            log.info("place task %s skipped in channel %s: %s", task.id, task.channel_id, why)
            return f"place task {task.id} skipped: {why}"
        text = await self._task_words(task, now)
        if not text:
            await self._close(task, turn, now)
            return f"place task {task.id} skipped: nothing written"
        outlet = self.side.outlet_for(Venue(task.channel_id, task.guild_id or 0), permit,
                                      nonce=reminder_nonce(task.id, turn.due.latest.due))
        here = place_incoming(self.place(task, False), now)
        await speak(self.speaker.settings.typing, outlet,
                    split(self.speaker.settings.discord, self.speaker.finish_text(here, text)))
        await self.speaker.store.reminders.note_post(task.id, text)
        if not await self._close(task, turn, self.clock()):
            log.info("place task %s was cancelled or moved while it was being posted", task.id)
        log.info("place task %s done in channel %s", task.id, task.channel_id)
        self.mirror(Line(N_("Place task {task} done in channel {channel}."), task=task.id,
                         channel=task.channel_id))
        return f"place task {task.id} done"

    async def _task_shut(self, task: ReminderRow) -> str:
        """Why a place task may not speak in its channel now ("" when it may): the place deactivated since,
        or the bot no longer allowed to send there."""
        if task.guild_id is None or not await self.speaker.store.places.is_active(task.channel_id,
                                                                                   task.guild_id):
            return "the place is inactive"
        if not any(place.channel_id == task.channel_id for place in self.side.places()):
            return "I may not send messages there (or the channel is gone)"
        return ""

    async def _task_words(self, task: ReminderRow, now: datetime) -> str:
        """The task carried out in the character's words ("" when the model fails or says nothing: a task
        is no promise to anyone, so nothing goes out)."""
        speaker = self.speaker
        store = speaker.store
        persona = in_place(speaker.persona, self.place(task, False).age_restricted)
        admin = await store.people.get_user(task.user_id)
        name = clean_name(admin.name) if admin is not None and admin.name else "an admin"
        ask = TASK_ASK.format(name=name, before=TASK_BEFORE if task.recent else "")
        # the server's language, else the one the task is written in (its channel's people asked for it)
        if hint := await speaker.language(task.guild_id) or place_line([task.text, *task.recent]):
            ask = f"{ask}\n\n{hint}"
        quoted = fence("task", task.text, by=name)
        if task.recent:
            quoted += "\n\n" + fence("your_earlier_posts", "\n\n".join(
                f"{n}. {post}" for n, post in enumerate(task.recent, 1)))
        portrait = await self_portrait(store.identity, store.state, speaker.character_key)
        request = initiative_prompt(persona, portrait, ask, moment=Moment(self.time.local(now)),
                                    person=quoted)
        try:
            return await speaker.line(request, user_id=None, guild_id=task.guild_id, purpose="task")
        except ClaudeUnavailable as exc:
            log.warning("place task %s skipped: Claude failed (%s)", task.id, exc)
            return ""

    async def _turn(self, reminder: ReminderRow) -> DueTurn:
        """Where a recurring reminder stands now: its latest occurrence due, those before it gone by while
        the bot was down, whether that latest is too late to deliver, and its next."""
        zone = load_zone(reminder.zone or "UTC")
        local = from_text(reminder.local_at) or reminder.due_at.astimezone(zone).replace(tzinfo=None)
        now = self.clock()
        due = await due_off_loop(reminder.rule, Occurrence(reminder.due_at, local), zone, now)
        return DueTurn(due, now - due.latest.due > MISSED_AFTER)

    async def _close(self, reminder: ReminderRow, turn: DueTurn | None, now: datetime) -> bool:
        """This time of the reminder is done: a one-shot is marked delivered; a recurring one moves to its
        next occurrence, its timer with it (closed when its rule has ended). False: it was not open (or not
        at that occurrence) any more."""
        reminders = self.speaker.store.reminders
        if turn is None:
            return await reminders.mark_delivered(reminder.id, now)
        after = turn.due.next
        return await reminders.advance(reminder.id, reminder.due_at, None if after is None else after.due,
                                       "" if after is None else local_text(after.local),
                                       reminder_key(reminder.id), {"reminder": reminder.id})

    def place(self, reminder: ReminderRow, to_dm: bool) -> Place:
        """Where it is said: its channel as the Discord side derives it (bot/discord/places.py ``place_of``),
        or (``to_dm``) the person's DM."""
        if to_dm or reminder.guild_id is None:
            return Place.dm(0 if to_dm and not reminder.is_dm else reminder.channel_id)
        return self.side.place_of(reminder.channel_id, reminder.guild_id)

    async def _welcome_there(self, reminder: ReminderRow) -> bool:
        """Whether the reminder's channel still takes it: the bot active there and reminders on (read now:
        an admin may have closed it since the reminder was set)."""
        store = self.speaker.store
        if not await store.places.is_active(reminder.channel_id, reminder.guild_id):
            return False
        return await self.asked.on(self.place(reminder, False))

    async def _permit(self, reminder: ReminderRow) -> Permit | Refusal:
        """Leave to remind its person: in its channel while that still takes it and the rule lets them be
        reached there, else in their DM. The leave spends nothing: past a limit the plain line goes out."""
        reach = self.speaker.reach
        if not reminder.is_dm and reminder.guild_id is not None and await self._welcome_there(reminder):
            roles = self.side.roles_of(reminder.guild_id, reminder.user_id)
            there = await reach.permit(Way.REMINDER, reminder.user_id,
                                       Where(reminder.guild_id, reminder.channel_id), roles, spends=False)
            if isinstance(there, Permit):
                return there
        return await reach.permit(Way.REMINDER, reminder.user_id, Where.dm(), spends=False)

    async def _outlet(self, reminder: ReminderRow, permit: Permit, turn: DueTurn | None) -> Outlet | None:
        nonce = reminder_nonce(reminder.id, None if turn is None else turn.due.latest.due)
        if permit.where.is_dm:  # a DM reminder goes to the DM, whatever else the row says
            return await self.side.open_dm(permit, nonce=nonce)
        return self.side.outlet_for(Venue(reminder.channel_id, reminder.guild_id or 0), permit, nonce=nonce)

    async def _server_language(self, reminder: ReminderRow, to_dm: bool) -> str | None:
        """The server's ``/settings language`` where the reminder goes to its channel (None elsewhere)."""
        policies = self.speaker.policies
        if to_dm or reminder.guild_id is None or policies is None:
            return None
        policy = await policies.of(reminder.guild_id)
        return language_named(policy.language) if policy is not None else None

    def plain_line(self, language: str | None, user: str, reminder: str, character: str, missed: bool) -> str:
        """The line that goes out without the model, in ``language``: the operator's own as written, or the
        default translated; for a person without a name (no user row), the default's form without one, and
        an operator's ``{user}`` filled with the language's word for them (never an English "them")."""
        own = self.speaker.settings.section(ReminderSettings)
        line, default, bare = own.reminder_fallback_line, ReminderSettings.reminder_fallback_line, ASKED_BARE
        if missed:
            line, default, bare = own.reminder_missed_line, ReminderSettings.reminder_missed_line, MISSED_BARE
        if not user and line == default:
            return t(language, bare, reminder=reminder)
        return own_line(language, line, default, name=character, user=user or t(language, FRIEND),
                        reminder=reminder)

    async def words(self, reminder: ReminderRow, now: datetime, to_dm: bool, *, write: bool = True,
                    turn: DueTurn | None = None) -> str:
        """The reminder in the character's words, for the channel or (``to_dm``) the person's DM; the
        fallback line when the model fails or says nothing, or (not ``write``) a spending limit leaves no
        model call."""
        speaker = self.speaker
        restricted = self.place(reminder, to_dm).age_restricted
        store, persona = speaker.store, in_place(speaker.persona, restricted)  # the place's register
        user = await store.people.get_user(reminder.user_id)
        # The fallback line in the language the reminder was asked in (its own words), else the server's.
        language = language_of(reminder.text) or await self._server_language(reminder, to_dm)
        known = clean_name(user.name) if user is not None and user.name else ""
        name = known or NAMELESS  # the prompt's, in English: the model writes in the person's language
        mention = "" if to_dm else f"<@{reminder.user_id}> "
        missed = turn is not None and turn.missed
        fallback = self.plain_line(language, known, reminder.text, persona.name, missed)
        if not write:
            log.info("reminder %s: a spending limit is reached; the plain line goes out", reminder.id)
            return mention + fallback
        portrait = await self_portrait(store.identity, store.state, speaker.character_key)
        ask = ASK.format(name=name, ago=humane(now - reminder.created_at))
        if turn is not None and missed:
            count = turn.due.passed + 1
            after = turn.due.next
            ask = MISSED.format(name=name, count="once" if count == 1 else f"{count} times",
                                next="" if after is None else f"; the next is in {humane(after.due - now)}")
        elif turn is not None and turn.due.passed:
            ask += SKIPPED_TOO.format(count=turn.due.passed)
        if not to_dm and (hint := await speaker.language(reminder.guild_id)):  # the server's language
            ask = f"{ask}\n\n{hint}"
        feeling = "" if self.feeling is None else await self.feeling(
            reminder.user_id, name, portrait.mood, None if to_dm else reminder.channel_id)
        request = initiative_prompt(persona, portrait, ask, feeling=feeling,
                                    moment=Moment(self.time.local(now)), name=name,
                                    person=fence("reminder", reminder.text, by=name),
                                    style=await speaker.voice_for(reminder.user_id, name, reminder.text))
        try:
            text = await speaker.line(request, user_id=reminder.user_id, guild_id=reminder.guild_id,
                                      purpose="reminder")
        except ClaudeUnavailable as exc:
            log.warning("reminder %s: Claude failed (%s); the plain line goes out", reminder.id, exc)
            text = ""
        return mention + (text or fallback)
