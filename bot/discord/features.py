"""What the features do on Discord's side, declared in one place: the registered features' own sides (their
durable timers' among them), handed to compose() in its Edge (an expired reply's swipe buttons
taken off, a closed poll's results, the members a reply's tools read, a face shown), and, once the services
are composed, what is done around each message's replies: the post observers the message flow tells
(bot/discord/flow.py) and the buttons a reply goes out with. The Bot class (bot/discord/client.py) and the
flow name no feature: they take these."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.discord.faces import DiscordFaces
from bot.discord.flow import PostObserver
from bot.discord.outlets import Buttons, WebhookPool
from bot.discord.poll_results import DiscordPollBoard
from bot.discord.serverview import DiscordServerView
from bot.discord.swipes import DiscordSwipeBoard, SwipeDesk
from bot.features.swipes import ReplySwipes
from bot.runtime.composition import Services


def feature_sides(client: discord.Client) -> tuple[object, ...]:
    """What only Discord does for the registered features (bot/features/), for compose()'s Edge: each
    feature takes its own by type (bot/operator/registration.py ``Parts.side``). The server tools: a closed
    poll's results posted, members, events and reactions read for a reply's tools; the faces: the bot's own
    member edited in one server; the swipes: an expired reply's buttons taken off."""
    return (DiscordPollBoard(client), DiscordServerView(client), DiscordFaces(client),
            DiscordSwipeBoard(client))


@dataclass(frozen=True)
class DiscordFeatures:
    """What is done on Discord around each message's replies, and what answers the features' buttons."""

    observers: tuple[PostObserver, ...]  # told around each message's replies, in this order
    buttons: Buttons | None  # those a reply goes out with (the outlets')
    swipes: SwipeDesk  # the swipe buttons' presses and /reroll (cogs/swipes.py)

    @classmethod
    async def of(cls, client: discord.Client, services: Services,
                 webhooks: WebhookPool | None) -> DiscordFeatures:
        """``webhooks``: the cast's (None: one character)."""
        swipes = SwipeDesk(client, services.part(ReplySwipes), webhooks)
        await swipes.load()  # where swipes are open (a restart keeps them), known before any message
        # the swipes: the previous reply's buttons come off, the new reply is offered them (and goes out with
        # them, so no edit has to add them)
        return cls(observers=(swipes,), buttons=swipes, swipes=swipes)
