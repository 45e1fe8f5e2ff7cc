"""What the features do on Discord's side, declared in one place: the registered features' own sides (their
durable timers' among them), handed to compose() in its Edge (an expired reply's swipe buttons
taken off, the members a reply's tools read, a face shown; a feature whose cog holds its Discord side
connects it as the cog loads), and, once the services
are composed, what is done around each message's replies: the post observers the message flow tells
(bot/discord/flow.py) and the buttons a reply goes out with. The Bot class (bot/discord/client.py) and the
flow name no feature: they take these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from bot.discord.faces import DiscordFaces
from bot.discord.flow import PostObserver
from bot.discord.outlets import Buttons, WebhookPool
from bot.discord.serverview import DiscordServerView
from bot.discord.swipes import DiscordSwipeBoard, SwipeDesk
from bot.discord.voice import VoiceReplies
from bot.discord.voicechat.calls import DiscordCalls
from bot.discord.voicechat.talk import CallTalk
from bot.features.swipes import ReplySwipes
from bot.features.voice.calls import Calls
from bot.features.voice.speech import VoiceService
from bot.runtime.composition import Services


def feature_sides(client: discord.Client) -> tuple[object, ...]:
    """What only Discord does for the registered features (bot/features/), for compose()'s Edge: each
    feature takes its own by type (bot/operator/registration.py ``Parts.side``). The server tools: members,
    events and reactions read for a reply's tools; the faces: the bot's own
    member edited in one server; the swipes: an expired reply's buttons taken off."""
    return DiscordServerView(client), DiscordFaces(client), DiscordSwipeBoard(client)


@dataclass(frozen=True)
class DiscordFeatures:
    """What is done on Discord around each message's replies, and what answers the features' buttons."""

    observers: tuple[PostObserver, ...]  # told around each message's replies, in this order
    buttons: Buttons | None  # those a reply goes out with (the outlets')
    swipes: SwipeDesk  # the swipe buttons' presses and /reroll (cogs/swipes.py)
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
        swipes = SwipeDesk(client, services.part(ReplySwipes), webhooks)
        await swipes.load()  # where swipes are open (a restart keeps them), known before any message
        # the swipes: the previous reply's buttons come off, the new reply is offered them (and goes out with
        # them, so no edit has to add them)
        # voice: the calls join and hear through Discord's voice connection
        calls, voice = services.part(Calls), services.part(VoiceService)
        calls.connect(DiscordCalls(client, CallTalk(client).heard))  # type: ignore[arg-type]  # the Kindred bot
        # and the main character's reply also sent as a voice message, when voice_replies asks
        return cls(observers=(swipes, VoiceReplies(client)),  # type: ignore[arg-type]  # the Kindred bot
                   buttons=swipes, swipes=swipes, let_go_first=(calls.close,), closed_last=(voice.close,))
