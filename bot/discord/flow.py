"""The flow from an incoming Discord message to the reply sequence, as a plain class the bot builds and
hands the messages cog (cogs/messages.py): the message becomes an :class:`~bot.core.stages.Incoming` (one
whose words are in a recording standing as its reader's placeholder until read), bots it names are noted as
peers, a recording is read first (the features' readers: bot/reply/pipeline.py ``ReplySequence.read_first``),
the reply sequence (bot/reply/pipeline.py) answers through the outlets it is given (bot/discord/outlets.py),
and the post observers connected to it (a feature's Discord side, connected by its cog as it loads: the
swipes' buttons, cogs/swipes.py) are told around each message's replies. The flow names no feature: what is
read first is a reader's, what happens around a post an observer's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.core.attachments import NOTHING, Attachment, Carried, Embed
from bot.core.stages import Incoming, Outlet, ReplyResult
from bot.discord.media import attachment_fetcher
from bot.discord.outlets import Buttons
from bot.discord.places import KnownPlaces, place_of

if TYPE_CHECKING:
    from bot.runtime.composition import Services
    from bot.runtime.lifecycle import InFlight

VOICE_MESSAGE_FLAG = 1 << 13  # IS_VOICE_MESSAGE: its audio attachment is a recording


class FlowBot(Protocol):
    """What the flow reads of the bot (bot/discord/client.py's, which builds the flow and so cannot be
    named here): the reply sequence among its services."""

    @property
    def services(self) -> Services: ...


# What a post observer does once a message's replies are out: given them (none after a failure before any)
# and the Discord message they answer.
AfterPost = Callable[[list[ReplyResult], discord.Message], Awaitable[None]]


class PostObserver(Protocol):
    """Told of each message the flow hands the reply sequence (e.g. buttons taken off the previous reply and
    put on the new one). ``before`` runs beside the replies, so nothing a reply reads may depend on it;
    what it returns runs once they are handled, also after a failure. Observers run in their order; an
    exception propagates (the message's handling fails, as any of its own would)."""

    def before(self, msg: Incoming, /) -> Awaitable[AfterPost]: ...


class MessageFlow:
    """One Discord message's way in: what the messages cog hands on, between Discord in and Discord out.
    Built by the bot's setup_hook once the services are composed, and handed to the cog. ``in_flight``: each
    message's handling is counted there while it runs, so a graceful stop lets it finish. What the features
    do around each message's replies is connected to it by their cogs as they load (:meth:`connect`)."""

    def __init__(self, bot: FlowBot, in_flight: InFlight, known: KnownPlaces | None = None) -> None:
        self.bot = bot
        self.known = known  # the server places' facts derived already (the bot's, which keeps them true)
        self.in_flight = in_flight
        self.observers: tuple[PostObserver, ...] = ()  # told around each message's replies, in their order
        self.buttons: Buttons | None = None  # those a reply goes out with (the outlets')

    def connect(self, observer: PostObserver, buttons: Buttons | None = None) -> None:
        """A feature's Discord side, told around each message's replies from now on (after those connected
        before it); ``buttons``: those a reply goes out with (one feature's at most)."""
        if buttons is not None and self.buttons is not None:
            raise ValueError("a reply's buttons are another feature's already")
        self.observers = (*self.observers, observer)
        if buttons is not None:
            self.buttons = buttons

    def disconnect(self, observer: PostObserver, buttons: Buttons | None = None) -> None:
        """What :meth:`connect` was given, told no more and put on no reply (its cog unloaded)."""
        self.observers = tuple(o for o in self.observers if o is not observer)
        if buttons is not None and self.buttons is buttons:
            self.buttons = None

    def incoming(self, message: discord.Message, me: discord.abc.User, character: str = "") -> Incoming:
        """``message`` as the pipeline sees it; ``character``: the name an @mention of the bot account is
        shown as."""
        msg = to_incoming(message, me, character, self.known)
        # a recording is a file: a message without any (most) has none to read
        return self.bot.services.replies.held(msg) if message.attachments else msg

    def note_peers(self, message: discord.Message, me: discord.abc.User) -> None:
        """A bot named in the message is a character that may answer first."""
        peers = [(user.id, user.display_name) for user in message.mentions if user.bot and user.id != me.id]
        if peers:
            self.bot.services.replies.note_peers(message.channel.id, peers)

    async def answer(self, msg: Incoming, message: discord.Message,
                     outlet_for: Callable[[str], Outlet]) -> None:
        """The reply sequence for one message: a recording it carries is read first (``msg``: as
        :meth:`incoming` made it, held). In flight until it returns (our own posts too: their log write must
        not hold a connection open past the close)."""
        with self.in_flight:
            if message.attachments:
                read = await self.bot.services.replies.read_first(msg, carried_by(message), outlet_for)
                if read is None:
                    return
                msg = read
            # The observers' work before the replies runs beside them; what they do after, once they are
            # handled (also after a failure).
            before = [asyncio.ensure_future(observer.before(msg)) for observer in self.observers]
            results: list[ReplyResult] = []
            try:
                results = await self.bot.services.replies.handle(msg, outlet_for)
            finally:
                for pending in before:
                    after = await pending
                    await after(results, message)


def panel_text(components: Sequence[Any]) -> str:
    """A Components V2 message's text displays, nested ones included, one after another (heading, bold and
    small-print marks dropped): what the conversation keeps of a panel."""
    parts: list[str] = []
    for component in components:
        if isinstance(component, discord.TextDisplay):
            parts += [line.removeprefix("-# ").lstrip("#").replace("**", "").strip()
                      for line in component.content.splitlines()]
        parts.append(panel_text(getattr(component, "children", None) or []))
    return " · ".join(p for p in parts if p)


def carried_by(message: discord.Message) -> Carried:
    """What the message holds besides its text (files, stickers, embeds, a poll, a forward, a panel)."""
    snapshots = message.message_snapshots
    panel = message.flags.components_v2
    if not (message.attachments or message.stickers or message.embeds or snapshots
            or message.poll is not None or panel):
        return NOTHING  # the common case: plain text, nothing to build
    # A forward's own files and stickers live in its snapshot, not in the message.
    attachments = [*message.attachments, *(a for s in snapshots for a in s.attachments)]
    stickers = [*message.stickers, *(t for s in snapshots for t in s.stickers)]
    embeds = [*message.embeds, *(e for s in snapshots for e in s.embeds)]
    # a voice message's audio (its own, not a forward's) is a recording, to be read before the reply
    recorded = bool(message.flags.value & VOICE_MESSAGE_FLAG)
    return Carried(
        attachments=tuple(Attachment(a.filename, a.content_type, a.size, a.url,
                                     recording=recorded and a in message.attachments and _audio(a),
                                     duration=a.duration if recorded else None) for a in attachments),
        stickers=tuple(t.name for t in stickers),
        embeds=tuple(Embed(e.title or e.author.name or e.description or "", e.url or "") for e in embeds),
        poll=message.poll.question if message.poll is not None else None,
        forwarded="\n".join(s.content for s in snapshots) if snapshots else None,
        panel=_named(message, panel_text(message.components)) if panel else None)


def _audio(attachment: discord.Attachment) -> bool:
    return attachment.is_voice_message() or (attachment.content_type or "").startswith("audio/")


def _named(message: discord.Message, text: str) -> str:
    """A panel's mentions as names, as :func:`clean_content` shows a message's."""
    for user in message.mentions:
        for form in (f"<@{user.id}>", f"<@!{user.id}>"):
            text = text.replace(form, f"@{user.display_name}")
    for role in message.role_mentions:
        text = text.replace(f"<@&{role.id}>", f"@{role.name}")
    return text.replace("\x00", "")


def to_incoming(message: discord.Message, me: discord.abc.User, character: str = "",
                known: KnownPlaces | None = None) -> Incoming:
    """Translate a discord.py message into the pipeline's transport-free form; ``character``: the name an
    @mention of the bot account is shown as (the character's, not the account's); ``known``: the server
    places' facts derived already."""
    reference = message.reference
    replied: discord.Message | None = None
    if reference is not None:
        resolved = reference.resolved
        replied = resolved if isinstance(resolved, discord.Message) else None
        if replied is None and reference.message_id is not None:
            replied = message._state._get_message(reference.message_id)
    carried = carried_by(message)
    return Incoming(
        message_id=message.id,
        author_id=message.author.id,
        author_name=message.author.display_name,
        content=clean_content(message, me, character),
        created_at=message.created_at,
        place=place_of(message, known=known),
        author_is_bot=message.author.bot,
        mentions_bot=any(u.id == me.id for u in message.mentions),
        mentions_others=any(u.id not in (me.id, message.author.id) for u in message.mentions),
        replies_to_bot=replied is not None and replied.author.id == me.id,
        reply_to_id=reference.message_id if reference else None,
        reply_to_author_id=replied.author.id if replied is not None else None,
        webhook_id=message.webhook_id,
        carried=carried,
        author_roles=tuple(r.id for r in message.author.roles) if isinstance(message.author, discord.Member)
        else (),
        fetch=attachment_fetcher(message) if carried.attachments else None,  # only a file it carries
    )


def clean_content(message: discord.Message, me: discord.abc.User | None = None, character: str = "") -> str:
    """The text with mentions as names (discord.py's clean_content), an @mention of the bot account as the
    character's name (the model then sees someone talking to it). Most chatter has no mention, nor an
    @everyone to defuse, and then is its own clean form: the resolving is skipped."""
    content = message.content
    if "<" in content or "@" in content:
        content = message.clean_content
        if character and me is not None:
            for user in message.mentions:
                if user.id == me.id:
                    content = content.replace(f"@{user.display_name}", f"@{character}")
    return content.replace("\x00", "")  # PostgreSQL text cannot hold NUL
