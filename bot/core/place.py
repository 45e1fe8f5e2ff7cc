"""What a place is, for everything a reply there may read, lend or say: a DM or a server's place, private or
public, its parent channel (a thread's), age-restricted, the permission the bot lacks to post there.

A :class:`Place` is derived in one function from the Discord message, interaction or channel it comes from
(bot/discord/places.py ``place_of``); every way a reply is made (a live message, a swipe or /reroll, an owed
reply recovered, a correction's answer, a conversation thread, a voice utterance, a reminder, a check-in,
proactive talk, a place task) gets its place from there, and an :class:`~bot.core.stages.Incoming` cannot
be made without one. Its privacy, parent and age restriction have no defaults: a place written out by hand
(the console, a test) states each of them, so none can be lost by leaving it out.

A leaf module: it imports nothing of the bot.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Place:
    """Where a message was said, or where a reply goes.

    ``channel_id``: a thread's own id in a thread, a voice channel's for a call, the person's id for an
    answer only they see (/ask); ``is_dm``: a private scope of the person's own (a DM, /ask, "Remember
    this"), which may still name the server it was asked from (``guild_id``, for its limits); ``private``:
    a server place not everyone there can see (a channel @everyone may not view, a private thread, a thread
    of a private channel), unknown counting as private; ``parent_id``: a thread's channel (None: not a
    thread), whose per-place switches a thread follows where it has none of its own; ``age_restricted``:
    Discord's NSFW channel or a thread of one, never a DM; ``cannot_post``: the Discord permission the bot
    lacks to post there ("" when it may)."""

    channel_id: int
    is_dm: bool
    guild_id: int | None
    private: bool
    parent_id: int | None
    age_restricted: bool
    guild_name: str = ""
    channel_name: str = ""
    cannot_post: str = ""

    @classmethod
    def dm(cls, channel_id: int, *, guild_id: int | None = None) -> Place:
        """A person's private scope: their DM channel (or, for an answer only they see, their own id;
        ``guild_id``: the server it was asked from). A DM is never a server's private place, never a
        thread, never age-restricted: there is nothing left to state."""
        return cls(channel_id=channel_id, is_dm=True, guild_id=guild_id, private=False, parent_id=None,
                   age_restricted=False)

    def thread(self, thread_id: int, name: str = "") -> Place:
        """A thread the character opened from a message here (bot/features/threads/talk.py): this place's
        privacy and age restriction, this channel its parent."""
        if self.is_dm or self.guild_id is None:
            raise ValueError("a DM has no threads")
        return Place(channel_id=thread_id, is_dm=False, guild_id=self.guild_id, private=self.private,
                     parent_id=self.channel_id, age_restricted=self.age_restricted,
                     guild_name=self.guild_name, channel_name=name)
