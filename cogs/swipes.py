"""Swipes on Discord, the swipes feature's edge (its logic, rows and registration: bot/features/swipes/): the
◀ ▶ 🔄 buttons on the character's latest reply, the edits that show an alternative on that same message, and
``/reroll``, which presses 🔄 for you with an optional out-of-character note.

The buttons are a discord.py DynamicItem: their custom ids name only the action, and the message they are
on says which reply, so any reply's buttons work after a restart with nothing to register per message. A
reply the bot account posted is edited through the interaction (or the channel, when no one pressed
anything); one a character of an ensemble posted through its webhook is edited through that webhook, the
only account Discord lets edit it.

As it loads, the cog builds the feature's Discord side (:class:`SwipeDesk`) and connects it: to the message
flow (told around each message's replies, and the buttons a reply goes out with) and to the ``swipe-expiry``
timer (the buttons off an expired reply; the timers start only once connected, after the cogs load).

Where an admin used ``/bot deactivate``, /reroll (and the 🔄 button) refuse: they make the character speak
there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t
from bot.core.reach import Way
from bot.core.stages import Incoming, ReplyResult
from bot.discord.flow import AfterPost
from bot.discord.language import answer_language
from bot.discord.outlets import WebhookPool, in_thread
from bot.discord.permissions import (
    HookInteraction,
    Inactive,
    NotAllowed,
    active_here,
    is_admin,
    may_talk,
    require_active,
    require_may_talk,
)
from bot.discord.places import place_of
from bot.discord.posting import allowed_mentions_for
from bot.discord.ui import tell
from bot.features.swipes import ReplySwipes, SwipeBoard, Swiped, SwipeExpiry, Swiper
from database.swipes import SwipeRecord

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

CUSTOM_ID = "kindred-swipe:{action}"
CUSTOM_ID_PATTERN = r"kindred-swipe:(?P<action>prev|next|new)"
ACTIONS = {"prev": "◀", "next": "▶", "new": "🔄"}


class SwipeButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID_PATTERN):
    """One of a reply's swipe buttons; works on any reply, before and after a restart."""

    def __init__(self, action: str, *, disabled: bool = False) -> None:
        super().__init__(discord.ui.Button(label=ACTIONS[action], custom_id=CUSTOM_ID.format(action=action),
                                           style=discord.ButtonStyle.secondary, disabled=disabled))
        self.action = action

    @classmethod
    async def from_custom_id(cls, interaction: HookInteraction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str], /) -> SwipeButton:
        return cls(match["action"])

    async def callback(self, interaction: HookInteraction) -> None:
        cog = interaction.client.get_cog("Swipes")
        if not isinstance(cog, SwipeCommands):
            language = await answer_language(interaction)
            await tell(interaction, t(language, "Swipes are not available right now."))
            return
        await cog.desk.press(interaction, self.action)


class SwipeCounter(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=r"kindred-swipe:at"):
    """Where we are (n/m): a disabled button, never pressed. Dynamic like the others, so the view is wholly
    dynamic and discord.py keeps nothing of it per message (a plain item would be held for each reply)."""

    def __init__(self, label: str) -> None:
        super().__init__(discord.ui.Button(label=label, custom_id="kindred-swipe:at",
                                           style=discord.ButtonStyle.secondary, disabled=True))

    @classmethod
    async def from_custom_id(cls, interaction: HookInteraction, item: discord.ui.Item[discord.ui.View],
                             match: re.Match[str], /) -> SwipeCounter:
        return cls(getattr(item, "label", None) or "")


def swipe_view(record: SwipeRecord) -> discord.ui.View:
    """◀, where we are (n/m), ▶, 🔄: one action row of four buttons."""
    view = discord.ui.View(timeout=None)
    last = len(record.alternatives) - 1
    view.add_item(SwipeButton("prev", disabled=record.shown == 0))
    view.add_item(SwipeCounter(f"{record.shown + 1}/{last + 1}"))
    view.add_item(SwipeButton("next", disabled=record.shown == last))
    view.add_item(SwipeButton("new"))
    return view


ARMED_WAIT = 2.0  # seconds a press on a reply just posted waits for its swipes to open (within the token's 3)
# The swipes of a reply just posted: one alternative, shown (what the buttons it goes out with show).
FRESH = SwipeRecord(0, "", 0, "", 0, None, None, None, ("",), 0, True, datetime.min.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Armed:
    """A reply posted with its swipe buttons on, until its swipes are offered (or not: then they go)."""

    answered: int  # the message it answers
    text: str
    character: str
    webhook_id: int | None
    settled: asyncio.Event  # set once offered or not

    def record(self, msg: Incoming, message_id: int) -> SwipeRecord:
        """What :meth:`SwipeDesk.strip` needs to take its buttons off."""
        return SwipeRecord(message_id, self.character, msg.author_id, msg.scope, msg.channel_id, msg.guild_id,
                           self.webhook_id, None, (self.text,), 0, False, datetime.now(UTC))


class SwipeDesk(SwipeBoard):
    """The bot's swipes on Discord: offers them on a reply, answers the buttons, and takes the buttons off
    when the conversation moves on or (as the ``swipe-expiry`` timer's board) when their time is up."""

    def __init__(self, client: discord.Client, swipes: ReplySwipes, webhooks: WebhookPool | None) -> None:
        """``webhooks``: the cast's (None: one character, who speaks as the bot account)."""
        self.client = client
        self.swipes = swipes
        self.webhooks = webhooks
        # channels that may have open swipes (read at start-up, see load); one is added before its swipes open
        self.channels: set[int] = set()
        self.busy: set[int] = set()  # messages a new alternative is being written for
        self.tasks: set[asyncio.Task[None]] = set()
        self.armed: dict[int, Armed] = {}  # replies posted with their buttons on, not yet offered swipes
        self.opening: dict[int, int] = {}  # channels -> offers whose swipes are being opened there
        self.fresh: discord.ui.View | None = None  # the buttons they go out with (built in the running loop)

    async def load(self) -> None:
        """Read the channels with open swipes, at start-up: a message then looks there without a trip to
        the database. In a cluster each process knows the swipes open at its start and those it opens;
        the swipes another opens later are its to close (it sees the messages there too)."""
        self.channels = set(await self.swipes.open_channels())

    # -- the conversation moves on

    async def moved_on(self, msg: Incoming) -> list[SwipeRecord]:
        """A message arrived in a channel: the swipes there close, each reply keeping the alternative shown
        (already in the history); the ones closed, whose buttons :meth:`take_off` removes."""
        if self.swipes.pipeline.own_words(msg):
            return []
        if msg.channel_id not in self.channels:
            return []
        if not self.opening.get(msg.channel_id):  # one opening there may commit after this close's search
            self.channels.discard(msg.channel_id)
        return await self.swipes.close_channel(msg.channel_id)

    async def before(self, msg: Incoming) -> AfterPost:
        """A post observer (bot/discord/flow.py): the swipes of the reply before close beside the new reply
        rather than before it (nothing the reply reads depends on them: the alternative shown is in the
        history already), and their buttons' edits go out once it is handled, a press meanwhile finding
        them closed; then swipes are offered on the new reply (also after a failure: a reply posted with
        its buttons on is offered or has them taken off)."""
        closed = await self.moved_on(msg)

        async def after(results: list[ReplyResult], message: discord.Message) -> None:
            self.take_off(closed)
            await self.offer(msg, results, message)

        return after

    def take_off(self, closed: list[SwipeRecord]) -> None:
        """The buttons of the swipes closed go, in edits beside the reply."""
        for record in closed:
            self.beside(self.strip(record))

    async def view(self, channel_id: int, guild_id: int | None,
                   parent_id: int | None = None) -> discord.ui.View | None:
        """The buttons a reply goes out with when it is known at its post to be one message (the outlets,
        bot/discord/outlets.py): those of swipes just offered, so no edit has to add them; None where swipes
        are switched off (it goes out without, and is not offered any)."""
        if not await self.swipes.allowed(channel_id, guild_id, parent_id):
            return None
        if self.fresh is None:  # one for every post: wholly dynamic, nothing in it is per message
            self.fresh = swipe_view(FRESH)
        return self.fresh

    def posted(self, answered: int, message_id: int, text: str, character: str,
               webhook_id: int | None) -> None:
        self.armed[message_id] = Armed(answered, text, character, webhook_id, asyncio.Event())

    async def offer(self, msg: Incoming, results: list[ReplyResult], message: discord.Message) -> None:
        """Swipes on the last reply just posted to ``message`` (one message long, by a character we can edit
        as); its buttons are added, unless it went out with them. A reply of this message posted with them
        that is not offered swipes after all (an earlier speaker's, one not kept) has them taken off."""
        posted = {mid: arm for mid, arm in self.armed.items() if arm.answered == msg.message_id}
        where = results[-1].channel_id if results else 0
        if where and where != msg.channel_id:  # answered in the thread opened from it: the swipes are there
            msg = replace(msg, place=msg.place.thread(where))
        offered: SwipeRecord | None = None
        try:
            offered = await self._offer(msg, results, message, posted)
        finally:
            for mid, arm in posted.items():
                del self.armed[mid]
                arm.settled.set()
                if offered is None or mid != offered.message_id:
                    self.beside(self.strip(arm.record(msg, mid)))

    async def _offer(self, msg: Incoming, results: list[ReplyResult], message: discord.Message,
                     posted: dict[int, Armed]) -> SwipeRecord | None:
        if not results:
            return None
        result = results[-1]
        webhook_id = None
        if self.webhooks is not None and message.guild is not None and result.speaker \
                and result.speaker != self.swipes.pipeline.character_key:
            hook = await self._hook(self._place(msg, message), result.speaker)
            if hook is None:  # said by the bot account as "**Name:** ...": not swapped in place
                return None
            webhook_id = hook.id
        # The message's arrival closed the channel's swipes (moved_on): they are searched again only when a
        # reply offered meanwhile may have opened some. The channel is noted first, and stays noted while
        # they open (a message arriving then may search before they are written), so the next reply's offer
        # there finds them to close.
        channel = msg.channel_id
        close = channel in self.channels
        self.channels.add(channel)
        self.opening[channel] = self.opening.get(channel, 0) + 1
        try:
            closed, offered = await self.swipes.offer(msg, result, webhook_id, close=close)
        finally:
            self.opening[channel] -= 1
            if not self.opening[channel]:
                del self.opening[channel]
        for record in closed:  # an older reply is no longer latest
            self.beside(self.strip(record))
        if offered is not None and offered.message_id not in posted:
            await self.edit(offered, self._place(msg, message), None, buttons=True)
        return offered

    def _place(self, msg: Incoming, message: discord.Message) -> object:
        """Where the reply to ``message`` went: its channel, or the thread opened from it."""
        if msg.channel_id == message.channel.id:
            return message.channel
        return self.client.get_channel(msg.channel_id) or self.client.get_partial_messageable(msg.channel_id)

    # -- the buttons

    async def press(self, interaction: HookInteraction, action: str) -> None:
        message = interaction.message
        if message is None:
            return
        mark = self.swipes.mark()  # before the row is read: a /forget_me after it, nothing of theirs is kept
        record = await self.swipes.of_message(message.id)
        armed = self.armed.get(message.id)
        if record is None and armed is not None:  # pressed as it went out, its swipes not open yet
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(armed.settled.wait(), ARMED_WAIT)
            record = await self.swipes.of_message(message.id)
        bot = interaction.client  # the Kindred bot: who its admins are, where it is active, its limits
        admin = await is_admin(bot, interaction.user)
        if not admin and interaction.guild_id is not None:
            perms = interaction.permissions
            admin = perms.administrator or perms.manage_guild
        asker = self._asker(interaction, admin)
        refusal = self.swipes.refusal(record, asker)
        language = await answer_language(interaction)
        if refusal or record is None:
            await tell(interaction, t(language, refusal))
            return
        if action == "new":
            if message.id in self.busy:
                await tell(interaction, t(language, "Just a moment: I'm still writing the last one."))
                return
            try:  # a new alternative makes the character speak: the same rules (and rate) as a message
                await require_active(bot, interaction)
                await require_may_talk(bot, interaction, Way.NEW_ANSWER)
            except (Inactive, NotAllowed) as exc:  # the catalogs' lines translated, an operator's as written
                await tell(interaction, t(language, str(exc)))
                return
        await interaction.response.defer()  # the token's three seconds: the edit follows
        if action == "new":
            self.busy.add(message.id)
            try:
                swiped = await self.swipes.new_alternative(record, asker, mark=mark)
            finally:
                self.busy.discard(message.id)
        else:
            swiped = await self.swipes.step(record, -1 if action == "prev" else 1)
        await self.shown(interaction, record, swiped, language)

    async def reroll(self, interaction: HookInteraction, context: str) -> None:
        """/reroll: a new alternative on the caller's latest reply here, as 🔄 would."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        mark = self.swipes.mark()
        language = await answer_language(interaction)
        record = await self.swipes.latest(interaction.user.id, int(interaction.channel_id or 0))
        if record is None or self.swipes.refusal(record, self._asker(interaction, False)):
            await interaction.edit_original_response(content=t(
                language, "There is nothing to reroll: my latest reply to you here has no swipes open any "
                          "more (they go when the conversation moves on)."))
            return
        if record.message_id in self.busy:
            await interaction.edit_original_response(
                content=t(language, "Just a moment: I'm still writing the last one."))
            return
        self.busy.add(record.message_id)
        try:
            swiped = await self.swipes.new_alternative(record, self._asker(interaction, False), context,
                                                       mark=mark)
        finally:
            self.busy.discard(record.message_id)
        if swiped.record is None or swiped.refusal:
            await interaction.edit_original_response(
                content=t(language, swiped.refusal
                          or "The conversation moved on meanwhile: nothing was changed."))
            return
        await self.edit(swiped.record, interaction.channel, None, buttons=True)
        await interaction.edit_original_response(content=t(
            language, "A new alternative is on my reply ({at}); ◀ ▶ go back to the others. The one shown "
                      "when we talk on is the one I keep.",
            at=f"{swiped.record.shown + 1}/{len(swiped.record.alternatives)}"))

    def _asker(self, interaction: HookInteraction, admin: bool) -> Swiper:
        return Swiper(interaction.user.id, interaction.user.display_name, place_of(interaction), admin)

    async def shown(self, interaction: HookInteraction, before: SwipeRecord, swiped: Swiped,
                    language: str = "en") -> None:
        if swiped.refusal:
            await interaction.followup.send(t(language, swiped.refusal), ephemeral=True)
            return
        if swiped.record is None:  # closed meanwhile, or its answer is gone: the buttons go too
            self.beside(self.strip(before))
            await interaction.followup.send(
                t(language, "These buttons have expired: the conversation has moved on."), ephemeral=True)
            return
        await self.edit(swiped.record, interaction.channel, interaction, buttons=True)
        log.info("user %s swiped reply %s to %d/%d", interaction.user.id, before.message_id,
                 swiped.record.shown + 1, len(swiped.record.alternatives))

    # -- editing the reply

    async def strip(self, record: SwipeRecord) -> None:
        """The buttons off a reply, its shown alternative staying."""
        channel = self.client.get_channel(record.channel_id) or \
            self.client.get_partial_messageable(record.channel_id)
        try:
            await self.edit(record, channel, None, buttons=False)
        except discord.HTTPException as exc:  # deleted meanwhile, or no longer ours to edit
            log.info("could not take the swipe buttons off message %s: %s", record.message_id, exc)
        except aiohttp.ClientError as exc:  # the connection closed under it (a shutdown): the buttons stay,
            # and a click on them is answered as an expired one
            log.info("could not take the swipe buttons off message %s: %r", record.message_id, exc)

    async def edit(self, record: SwipeRecord, channel: object, interaction: HookInteraction | None, *,
                   buttons: bool) -> None:
        view = swipe_view(record) if buttons else None
        mentions = allowed_mentions_for(record.text)
        if record.webhook_id is not None:
            hook = await self._hook(channel, record.character)
            if hook is None:  # no longer reachable (permissions changed): the message stays as it is
                log.info("no webhook of %s to edit message %s with", record.character, record.message_id)
                return
            await hook.edit_message(record.message_id, content=record.text, view=view,
                                    allowed_mentions=mentions, thread=in_thread(channel))
        elif interaction is not None:
            await interaction.edit_original_response(content=record.text, view=view,
                                                     allowed_mentions=mentions)
        else:
            place = self.client.get_partial_messageable(record.channel_id)
            partial = place.get_partial_message(record.message_id)
            await partial.edit(content=record.text, view=view, allowed_mentions=mentions)

    async def _hook(self, channel: object, key: str) -> discord.Webhook | None:
        pool = self.webhooks
        if pool is None:
            return None
        if not isinstance(channel, discord.TextChannel):
            found = self.client.get_channel(getattr(channel, "id", 0))
            channel = found if isinstance(found, discord.TextChannel) else channel
        return await pool.get(channel, key) if isinstance(channel, discord.abc.Messageable) else None

    def beside(self, work: Coroutine[Any, Any, None]) -> None:
        """Run an edit beside the reply (a reference kept until it is done, so it is not collected early)."""
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class SwipeCommands(commands.Cog, name="Swipes"):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.expiry = bot.services.part(SwipeExpiry)
        # the cast's webhooks edit what its characters posted (None: one character)
        self.desk = SwipeDesk(bot, bot.services.part(ReplySwipes), bot.webhooks)

    async def cog_load(self) -> None:
        await self.desk.load()  # where swipes are open (a restart keeps them), known before any message
        self.bot.add_dynamic_items(SwipeButton)  # every reply's swipe buttons, before and after a restart
        # the previous reply's buttons come off, the new reply is offered them (and goes out with them, so
        # no edit has to add them); an expired reply's come off
        self.bot.flow.connect(self.desk, buttons=self.desk)
        self.expiry.connect(self.desk)

    async def cog_unload(self) -> None:
        self.expiry.connect(None)
        self.bot.flow.disconnect(self.desk, buttons=self.desk)
        self.bot.remove_dynamic_items(SwipeButton)

    @app_commands.command(name="reroll",
                          description="A new alternative for my latest reply to you here (a swipe).")
    @app_commands.describe(context="Optional out-of-character note to steer the new alternative")
    @active_here()
    @may_talk(Way.NEW_ANSWER)  # a model call without a message: it counts as one against the rate limit
    async def reroll(self, interaction: Interaction, context: str | None = None) -> None:
        await self.desk.reroll(interaction, context or "")


async def setup(bot: Kindred) -> None:
    await bot.add_cog(SwipeCommands(bot))
