"""Answers to correction reactions, where a place asks for them (``/bot corrections on``, off by default: the
``correction_answers`` setting and the ``corrections`` switch of a channel or a server; in a DM the person's
DM channel is the place, which no admin command reaches, so the setting stands there).

A reaction is never answered on its own (bot/alive/felt.py) except here: a correction emoji on one of the
character's replies (handed on by bot/alive/reacting.py ``FeltReactions`` once kept, this being its
``Answers``), in a place switched on, gets one short reply to the reacted message, in which the
character acknowledges it and sets right what it can. It is written as the character's other unprompted lines
are (bot/alive/initiative.py): its character block, how it feels toward the person as a reply there would
show it (the ``<state>``, with the same correction cue a reply is told), the place's own recent lines, the
one rule's permit (bot/operator/reach.py: the place active, the person allowed, the spend caps) before any
model call, and the reply filters. A model failure posts an in-character line instead (the
``fallback_reply``), since someone is waiting on the correction.

At most one answer per reacted message (however many corrections it gets, from whomever), and at most
``correction_answers_per_hour`` per channel: a flood of corrections costs a bounded number of model calls.
Once answered, the person's cue there is marked told, so their next reply does not acknowledge it again; so
is the cue of anyone who marks a message already answered (the answer is there for them to read).
The messages answered are kept in memory (a bounded set): after a restart a message may be answered once
more."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Protocol

from bot.alive.feelings import Feelings
from bot.alive.felt import Reacted, Reaction, cue_line
from bot.alive.initiative import Venue, initiative_prompt, place_incoming, self_portrait, speak, split
from bot.alive.reactions import ReactionGate
from bot.alive.speaker import Speaker
from bot.core.claude import ClaudeUnavailable
from bot.core.config import ReplySettings
from bot.core.i18n import N_, language_named, language_of, own_line
from bot.core.lines import Line
from bot.core.localtime import LocalTime
from bot.core.persona.macros import Moment
from bot.core.persona.register import in_place
from bot.core.place import Place
from bot.core.reach import Permit, Refusal, Way, Where
from bot.core.stages import Outlet
from bot.core.text import clean_name
from bot.core.tokens import counted
from bot.features.corrections.config import CorrectionSettings
from bot.operator.registration import PlaceSwitch
from bot.reply.prompting import channel_chat, fence
from database.records import SeenMessage, Turn
from database.visibility import Audience, line_origin, may_enter

log = logging.getLogger(__name__)

RECENT = 15  # the place's lines read up to the reacted message (as a proactive comment reads)
ANSWERED_KEPT = 4096  # reacted messages answered lately, the newest
TEXT_SHOWN = 1500  # characters of the reacted message quoted in the ask

ASK = ("[Nobody wrote to you since: {name} only reacted to that reply of yours. Answer it on its own now, as "
       "one short reply to it, in character: acknowledge that it missed for them and set right what you "
       "can. Only the message.]")

class Side(Protocol):
    """What an answer needs of Discord (a part of bot/alive/service.py's DiscordSide)."""

    def outlet_for(self, place: Venue, permit: Permit, *, nonce: str | None = None,
                   reply_to: int | None = None) -> Outlet: ...
    async def open_dm(self, permit: Permit, *, nonce: str | None = None,
                      reply_to: int | None = None) -> Outlet | None: ...
    def roles_of(self, guild_id: int, user_id: int) -> Collection[int]: ...
    def place_of(self, channel_id: int, guild_id: int | None) -> Place: ...


Toward = Callable[[int, str, str, int | None], Awaitable[str]]  # (user, name, mood, channel) -> state line


class CorrectionAnswers:
    """Decides, off the gateway's path, whether a correction gets an answer of its own, and writes it.
    ``settings``: the feature's section (follows reloads; ``correction_answers``: the default where no
    switch is set); ``feeling``: how the character feels toward a person, as said there
    (bot/alive/service.py ``feeling_toward``); ``feelings``: the main character's, whose cues are marked
    told."""

    def __init__(self, speaker: Speaker, time: LocalTime, side: Side, settings: CorrectionSettings,
                 asked: PlaceSwitch, *, feeling: Toward, feelings: Callable[[], Feelings],
                 remembers: Callable[[bool | None], bool], mirror: Callable[[Line], None]) -> None:
        self.speaker = speaker
        self.time = time
        self.side = side
        self.settings = settings
        self.asked = asked  # /bot corrections (the correction_answers setting its default)
        self.feeling = feeling
        self.feelings = feelings
        self.remembers = remembers
        self.mirror = mirror
        self.gate = ReactionGate(settings.correction_answers_per_hour)
        self.answered = 0  # answers posted (tests wait on it)
        # reacted messages being answered (False) or answered (True), the newest
        self._claimed: OrderedDict[int, bool] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def consider(self, reaction: Reaction, emoji: str) -> None:
        """A correction ``emoji`` kept on one of the character's messages: answered in a task of its own
        where the place asks for it (a slow model call holds up no reaction pass)."""
        self._spawn(self._consider(reaction, emoji, self.speaker.store.privacy.mark()))

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro, name="correction-answer")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Wait for the answers under way (a stop; tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _consider(self, reaction: Reaction, emoji: str, mark: int) -> None:
        """The answer's model call (its usage row), its post in a DM and the turn kept there name whoever
        reacted: a /forget_me of theirs since ``mark`` means none; one that begins meanwhile waits for it,
        then deletes it all (database/privacy.py ``writing_about``)."""
        privacy = self.speaker.store.privacy
        try:
            async with privacy.writing_about(reaction.user_id, mark) as allowed:
                if allowed:
                    await self._answer(reaction, emoji)
        except Exception:
            log.exception("could not answer the correction on message %s", reaction.message_id)

    async def switched_on(self, reaction: Reaction) -> bool:
        return await self.asked.on(self.place(reaction))

    def _claim(self, message_id: int) -> bool:
        """Whether this message is still to be answered (then it is claimed): no await between the look and
        the mark, so two corrections on it never make two answers."""
        if message_id in self._claimed:
            return False
        self._claimed[message_id] = False
        if len(self._claimed) > ANSWERED_KEPT:
            self._claimed.popitem(last=False)
        return True

    async def _answer(self, reaction: Reaction, emoji: str) -> None:
        if not await self.switched_on(reaction):
            return
        message = reaction.message_id
        if not self._claim(message):
            if self._claimed.get(message):  # answered already, before everyone's eyes there: not told again
                await self.feelings().told(reaction.user_id, self._audience(reaction))
            return
        where = (Line(N_("DM {channel}"), channel=reaction.channel_id) if reaction.is_dm
                 else Line(N_("channel {channel}"), channel=reaction.channel_id))
        if not self.gate.allow(reaction.channel_id, reaction.at):
            self._claimed.pop(message, None)  # a later correction on it may be answered once the hour allows
            self.mirror(Line.tn(self.gate.per_hour,
                                "No answer to a correction in {where}: {count} per hour reached.",
                                "No answer to a correction in {where}: {count} per hour reached.",
                                where=where))
            return
        speaker = self.speaker
        place = Where.dm(reaction.channel_id) if reaction.is_dm else Where(reaction.guild_id,
                                                                           reaction.channel_id)
        roles = () if reaction.guild_id is None else self.side.roles_of(reaction.guild_id, reaction.user_id)
        permit = await speaker.reach.permit(Way.CORRECTION, reaction.user_id, place, roles)
        if isinstance(permit, Refusal):
            self._claimed.pop(message, None)
            log.debug("no answer to a correction in %s: %s", where, permit.reason.english())
            return
        audience = self._audience(reaction)
        said, lines = await self._context(reaction, audience)
        if not said:
            self._claimed.pop(message, None)
            log.info("no answer to a correction in %s: the reacted message is not kept", where)
            return
        store = speaker.store
        user = await store.people.get_user(reaction.user_id)
        profile = await store.profiles.get(reaction.user_id)  # the name they set with /me comes first
        name = clean_name(profile.name or (user.name if user is not None else "")) or "them"
        here = place_incoming(self.place(reaction), reaction.at, user_id=reaction.user_id, user_name=name)
        persona = in_place(speaker.persona, here.age_restricted)
        portrait = await self_portrait(store.identity, store.state, speaker.character_key)
        moment = Moment(self.time.local(reaction.at))
        label = "your DM" if reaction.is_dm else f"channel {reaction.channel_id}"
        chat = channel_chat(label, lines, speaker.own_author_ids, persona.name, moment.now.tzinfo)
        header = chat[0]["content"][0]["text"] if chat else ""
        state = await self.feeling(reaction.user_id, name, portrait.mood,
                                   None if reaction.is_dm else reaction.channel_id)
        cue = cue_line(name, (Reacted.of(reaction, emoji, True),), reaction.user_id, audience)
        ask = "\n\n".join(part for part in (
            fence("reacted_reply", said[:TEXT_SHOWN], by=persona.name), ASK.format(name=name),
            await speaker.language(reaction.guild_id)) if part)
        request = initiative_prompt(persona, portrait, ask, feeling="\n".join(p for p in (state, cue) if p),
                                    moment=moment, name=name, chat=chat, where=header)
        text = ""
        try:
            text = await speaker.line(request, user_id=reaction.user_id, guild_id=reaction.guild_id,
                                      purpose="correction")
        except ClaudeUnavailable as exc:
            log.warning("the answer to a correction in %s failed (%s): the fallback line", where, exc)
        if not text:  # someone is waiting on the correction: the character's own line, not silence
            language = language_of(said) or language_named(await speaker.language_name(reaction.guild_id))
            text = own_line(language, speaker.settings.replies.fallback_reply, ReplySettings.fallback_reply,
                            name=persona.name)
        if reaction.is_dm:
            outlet = await self.side.open_dm(permit, reply_to=reaction.message_id)
            if outlet is None:
                self._claimed.pop(message, None)
                return
        else:
            outlet = self.side.outlet_for(Venue(reaction.channel_id, reaction.guild_id or 0), permit,
                                          reply_to=reaction.message_id)
        parts = split(speaker.settings.discord, speaker.finish_text(here, text))
        ids = await speak(speaker.settings.typing, outlet, parts)
        if reaction.is_dm:  # a forget waiting for this deletes it, its echo never logged
            for sent in ids:
                if sent is not None:
                    store.privacy.posted_in_dm(reaction.user_id, sent)
        self._claimed[message] = True
        self.answered += 1
        await self.feelings().told(reaction.user_id, audience)
        if reaction.is_dm and self.remembers(user.memory_consent if user is not None else None):
            # a DM's history is the conversation's: the next reply there reads what it said
            await store.conversations.append_turns(speaker.character_key, reaction.user_id, "dm", [
                counted(Turn("assistant", "\n\n".join(parts), discord_message_id=ids[-1] if ids else None))])
        log.info("answered a correction on message %s in %s", reaction.message_id, where.english())
        self.mirror(Line(N_("Answered a correction ({emoji}) on my message in {where}."), emoji=emoji,
                         where=where))

    async def _context(self, reaction: Reaction, audience: Audience) -> tuple[str, list[SeenMessage]]:
        """What the reacted message said ("" when it is not kept) and the place's lines up to it that
        ``audience`` may read: a channel's from its log; a DM's history is the conversation's (a DM is not
        in the log), where the reacted reply is its own turn (nothing of a person not remembered)."""
        store, message = self.speaker.store, reaction.message_id
        if reaction.is_dm:
            history = await store.conversations.history(self.speaker.character_key, reaction.user_id, "dm")
            turn = next((t for t in history.turns if t.discord_message_id == message), None)
            return (turn.content if turn is not None and turn.role == "assistant" else ""), []
        lines = [m for m in await store.log.recent_messages(reaction.channel_id, limit=RECENT,
                                                            before_id=message + 1)
                 if may_enter(line_origin(m), audience) and m.content and not m.content.isspace()]
        said = next((m.content for m in lines if m.message_id == message), "")
        return said, lines

    def _audience(self, reaction: Reaction) -> Audience:
        if reaction.is_dm:
            return Audience.dm(reaction.user_id)
        return Audience.place(private=reaction.private, guild=reaction.guild_id, channel=reaction.channel_id,
                              person=reaction.user_id,
                              parent=self.place(reaction).parent_id)

    def place(self, reaction: Reaction) -> Place:
        """Where the reacted message is, as the Discord side derives it (a DM's: the person's)."""
        return self.side.place_of(reaction.channel_id, None if reaction.is_dm else reaction.guild_id)
