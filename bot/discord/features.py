"""What the features do on Discord's side, declared in one place: the Discord side of their durable timers,
handed to compose() in its Edge (a closed poll's results, an expired reply's swipe buttons taken off), and,
once the services are composed, what is done around each message's replies: the post observers the message
flow tells (bot/discord/flow.py) and the buttons a reply goes out with. The Bot class (bot/discord/client.py)
and the flow name no feature: they take these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from bot.discord.flow import PostObserver
from bot.discord.outlets import Buttons, WebhookPool
from bot.discord.poll_results import DiscordPollBoard
from bot.discord.swipes import DiscordSwipeBoard, SwipeDesk
from bot.discord.voice import VoiceReplies
from bot.discord.voicechat.calls import DiscordCalls
from bot.discord.voicechat.talk import CallTalk
from bot.features.voice.calls import Calls
from bot.features.voice.speech import VoiceService
from bot.runtime.composition import Boards, Services


def timer_boards(client: discord.Client) -> Boards:
    """The Discord side of the features' durable timers, for compose()'s Edge."""
    return Boards(polls=DiscordPollBoard(client), swipes=DiscordSwipeBoard(client))


@dataclass(frozen=True)
class DiscordFeatures:
    """What is done on Discord around each message's replies, and what answers the features' buttons."""

    observers: tuple[PostObserver, ...]  # told around each message's replies, in this order
    buttons: Buttons | None  # those a reply goes out with (the outlets')
    swipes: SwipeDesk  # the swipe buttons' presses and /reroll (cogs/conversation.py)
    # At shutdown: what they hold on Discord let go first, while the gateway is up (the calls left: what the
    # character says stops at once); their own clients closed last, after the model client's.
    let_go_first: tuple[Callable[[], Awaitable[None]], ...] = ()
    closed_last: tuple[Callable[[], Awaitable[None]], ...] = ()

    async def let_go(self) -> None:
        for step in self.let_go_first:
            await step()

    async def close(self) -> None:
        for step in self.closed_last:
            await step()

    @classmethod
    async def of(cls, client: discord.Client, services: Services,
                 webhooks: WebhookPool | None) -> DiscordFeatures:
        """``webhooks``: the cast's (None: one character)."""
        swipes = SwipeDesk(client, services.swipes, webhooks)
        await swipes.load()  # where swipes are open (a restart keeps them), known before any message
        # the swipes: the previous reply's buttons come off, the new reply is offered them (and goes out with
        # them, so no edit has to add them)
        # voice: the calls join and hear through Discord's voice connection
        calls, voice = services.part(Calls), services.part(VoiceService)
        calls.connect(DiscordCalls(client, CallTalk(client).heard))  # type: ignore[arg-type]  # the Kindred bot
        # and the main character's reply also sent as a voice message, when voice_replies asks
        return cls(observers=(swipes, VoiceReplies(client)),  # type: ignore[arg-type]  # the Kindred bot
                   buttons=swipes, swipes=swipes, let_go_first=(calls.close,), closed_last=(voice.close,))
