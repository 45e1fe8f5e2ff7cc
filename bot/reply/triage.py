"""Fewer votes, same judgement: what an unaddressed channel message goes through before any vote.

1. :func:`skip_reason`, the priority filter: a message obviously not for the character gets no vote (a bare
   acknowledgement or reaction, a message that @mentions or replies to someone else, another bot's prefix
   command, a post of a webhook we do not know). Addressed messages never come here.
2. :class:`BurstWindow`, burst coalescing: a message in a quiet channel is judged at once (leading edge);
   the unaddressed messages that follow it within ``vote_window_seconds`` are judged together when the
   window closes (trailing edge), one vote round on the latest of them with the others shown as context;
   each of the others is decided "coalesced into <id>" (the next one) as soon as the next one arrives.

Plain Python (no Discord, no database): the reply engine calls it from its decide step.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Sequence

from bot.core.pipeline import Decision, Incoming

log = logging.getLogger(__name__)

# Bare acknowledgements and reactions: the whole message is these words (case and repeats ignored), emoji and
# punctuation. Looked up word by word in sets, never by one pattern with a repeated group: overlapping
# alternatives inside a repetition ("ok" is both ok(ay)? and o?k+) backtrack exponentially on a message
# such as "ok ok ok ... x" (issue 43), and this runs on every unaddressed channel message.
_ACK_WORDS = frozenset((
    "rofl", "kek", "hah", "heh", "okay", "ya", "yep", "yup", "yeah", "yes", "ye", "no", "nah", "nope", "ty",
    "thx", "thanks", "np", "gg", "wp", "ggwp", "nice", "cool", "true", "same", "fr", "real", "based", "oof",
    "rip", "f", "idk", "ikr", "wow", "damn", "bruh", "smh", "w", "l", "+1", "-1", "this", "mood", "lmk",
    "brb", "gn", "gm",
))
# Words people stretch ("loool", "lmaooo", "hahaha", "kkk", "hmmm"): compared after :func:`_fold`.
_STRETCHED_ACKS = frozenset((
    "lol", "lolz", "lmao", "lmfao", "haha", "hahah", "hehe", "ok", "k", "mhm", "hm", "y", "xd", "ah", "oh",
    "^",
))
# A bare acknowledgement is a few words: anything longer is something to read (and is never scanned).
_ACK_MAX_CHARS = 64
_ACK_SEPARATORS = re.compile(r"[\s,.!?~]+")
_CUSTOM_EMOJI = re.compile(r"<a?:\w{1,32}:\d{5,25}>")
_SHORTCODE = re.compile(r":[\w+-]{1,32}:")  # :thumbsup: as some clients send it


def _fold(word: str) -> str:
    """``word`` with its stretching undone: runs of one letter made one ("loool" -> "lol"), and a syllable
    said over and over kept twice ("hahahah" -> "hahah")."""
    out: list[str] = []
    for char in word:
        if not out or out[-1] != char:
            out.append(char)
    folded = "".join(out)
    if len(folded) > 4 and folded[:2] * (len(folded) // 2) == folded[: len(folded) // 2 * 2]:
        folded = folded[:4] + folded[len(folded) // 2 * 2:]  # "haha" plus the odd "h", if any
    return folded


def _is_ack_word(word: str) -> bool:
    if word in _ACK_WORDS or _fold(word) in _STRETCHED_ACKS:
        return True
    bare = "".join(c for c in word if c.isalnum())
    # Pure symbols (emoji, ":)", "-_-") say nothing; a word in brackets or with a smiley stuck to it is that
    # word.
    return not bare or (bare != word and (bare in _ACK_WORDS or _fold(bare) in _STRETCHED_ACKS))


# A hello and nothing else ("hi", "hey there!", "good morning 👋"): a person's first DM that says only this is
# answered by the character's greeting alone (bot/reply/engine.py).
_HELLO_WORDS = frozenset((
    "hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "hallo", "hola", "greetings", "gm", "morning",
    "evening", "afternoon", "good", "there", "hellooo", "o/", "wave",
))
_HELLO_CORE = frozenset(("hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "hallo", "hola",
                         "greetings", "gm", "morning", "evening", "afternoon"))


def is_hello(text: str, names: Collection[str] = ()) -> bool:
    """"hi", "hello there!", "heyyy 👋", "good morning", "hey Finn" (``names``: the character's): a greeting
    and nothing to answer beyond it."""
    named = {w for n in names for w in n.lower().split()}
    stripped = text.strip().lower()
    if not stripped or len(stripped) > _ACK_MAX_CHARS:
        return False
    words = [w for w in _ACK_SEPARATORS.split(stripped) if w]
    seen_core = False
    for word in words:
        bare = "".join(c for c in word if c.isalnum())
        if not bare:
            continue  # an emoji, a wave
        folded = _fold(bare)
        if bare in _HELLO_CORE or folded in _HELLO_CORE:
            seen_core = True
        elif bare not in _HELLO_WORDS and folded not in _HELLO_WORDS and bare not in named:
            return False
    return seen_core


def is_acknowledgement(text: str) -> bool:
    """"lol", "ok", "k", "haha", "👍", "<:pog:123>" and the like: a reaction, not something to answer.

    Linear in the length of ``text`` whatever it holds."""
    stripped = text.strip()
    if not stripped:
        return False
    rest = _SHORTCODE.sub(" ", _CUSTOM_EMOJI.sub(" ", stripped)).strip()
    if not rest:
        return True
    if not any(c.isalnum() for c in rest):
        return True  # emoji, punctuation, kaomoji pieces: nothing a vote can read
    if len(rest) > _ACK_MAX_CHARS:
        return False
    return all(_is_ack_word(word) for word in _ACK_SEPARATORS.split(rest.lower()) if word)


def parse_prefixes(value: str) -> tuple[str, ...]:
    """``other_bot_prefixes`` as a tuple, longest first (so ``;;`` is tried before ``;``)."""
    return tuple(sorted({p.strip() for p in value.split(",") if p.strip()}, key=len, reverse=True))


def bot_command(text: str, prefixes: Sequence[str]) -> str | None:
    """The prefix when ``text`` is another bot's command: a prefix then at once a letter (``!play``,
    ``?rank``); "!!!", "$5" and "? what" are people talking."""
    stripped = text.lstrip()
    for prefix in prefixes:
        if stripped.startswith(prefix):
            after = stripped[len(prefix):len(prefix) + 1]
            if after.isascii() and after.isalpha():
                return prefix
    return None


def skip_reason(msg: Incoming, *, prefixes: Sequence[str], own_ids: Collection[int]) -> str | None:
    """Why an unaddressed channel message gets no vote; None when it should be judged.

    ``own_ids``: our account and our own webhooks (a reply to them is not "to someone else", a post by
    them is not an unknown webhook's)."""
    if msg.webhook_id is not None and msg.webhook_id not in own_ids and msg.author_id not in own_ids:
        return "filtered: a webhook I do not know"
    if msg.reply_to_author_id is not None and msg.reply_to_author_id not in own_ids:
        return "filtered: a reply to someone else"
    if msg.mentions_others:
        return "filtered: @mentions someone else"
    prefix = bot_command(msg.content, prefixes)
    if prefix is not None:
        return f"filtered: another bot's command ({prefix})"
    if is_acknowledgement(msg.content) and not msg.carried.attachments:
        return "filtered: a bare acknowledgement"
    return None


# Judges the latest message of a burst, given the earlier ones (oldest first).
Judge = Callable[[Incoming, Sequence[Incoming]], Awaitable[Decision]]


class BurstWindow:
    """Leading edge, then trailing: a message in a quiet channel is judged at once, on its own, and opens a
    window of ``seconds``; the messages that arrive while it is open are judged together when it closes, one
    vote round on the latest with the others as context (each of the others decided "coalesced into <id>"
    when the next one arrives), and that round opens the next window. A window that closes with nothing in
    it leaves the channel quiet.

    So one message in a quiet room waits for no window, a burst costs one round per ``seconds`` plus its
    first, and a channel that never falls quiet is still judged every ``seconds`` (the window does not
    restart with each message). With ``seconds`` 0, each message is judged at once on its own."""

    def __init__(self, seconds: float | Callable[[], float], judge: Judge) -> None:
        # A callable: the setting as it is now (a live reload applies to the next window that opens).
        self._seconds = seconds if callable(seconds) else (lambda: seconds)
        self.judge = judge
        # By channel: the messages waiting for the open window to close; a channel with no entry is quiet.
        self._pending: dict[int, list[tuple[Incoming, asyncio.Future[Decision]]]] = {}
        # By channel: the newest message of the open window (the one its round will judge).
        self._newest: dict[int, tuple[Incoming, asyncio.Future[Decision]]] = {}
        self._rounds: set[asyncio.Task[None]] = set()

    async def submit(self, msg: Incoming) -> Decision:
        """The decision on ``msg``: its vote round's, or "coalesced into <id>" when a later message of its
        window was judged in its stead."""
        if self.seconds <= 0:
            return await self.judge(msg, ())
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decision] = loop.create_future()
        pending = self._pending.get(msg.channel_id)
        if pending is None:  # a quiet channel: judged now, and a window opens for what follows
            self._open(msg.channel_id)
            self._start([(msg, future)])
        else:
            # Only the newest message of an open window waits for its round: an earlier one is decided as
            # soon as a later one arrives (a busy server's decisions then come one by one, not hundreds at
            # each close), and stays in the window as context for the round.
            newest = self._newest.get(msg.channel_id)
            if newest is not None and newest[0].message_id > msg.message_id:  # arrived out of order
                future.set_result(Decision(False, f"coalesced into {newest[0].message_id}"))
            else:
                if newest is not None and not newest[1].done():
                    newest[1].set_result(Decision(False, f"coalesced into {msg.message_id}"))
                self._newest[msg.channel_id] = (msg, future)
            pending.append((msg, future))
        # The round runs in a task of its own: a caller cancelled while waiting (a shutdown) cancels only its
        # own future (the round sets none that is done), not the decision of the others.
        return await future

    @property
    def seconds(self) -> float:
        return self._seconds()

    def quiet(self, channel_id: int) -> bool:
        """No window open in the channel: its next message is judged at once."""
        return channel_id not in self._pending

    def _open(self, channel_id: int) -> None:
        self._pending[channel_id] = []
        asyncio.get_running_loop().call_later(self.seconds, self._close, channel_id)

    def _close(self, channel_id: int) -> None:
        pending = self._pending.pop(channel_id, None)
        self._newest.pop(channel_id, None)
        if not pending:
            return  # nothing came while the window was open: the channel is quiet again
        self._open(channel_id)  # still busy: the next window opens with this round
        self._start(pending)

    def _start(self, items: list[tuple[Incoming, asyncio.Future[Decision]]]) -> None:
        task = asyncio.get_running_loop().create_task(self._round(items))
        self._rounds.add(task)
        task.add_done_callback(self._rounds.discard)

    async def _round(self, items: list[tuple[Incoming, asyncio.Future[Decision]]]) -> None:
        ordered = sorted(items, key=lambda item: item[0].message_id)  # snowflakes: the order Discord saw
        (latest, latest_future), earlier = ordered[-1], ordered[:-1]
        coalesced = Decision(False, f"coalesced into {latest.message_id}")
        for _, future in earlier:  # decided now: they wait for no vote
            if not future.done():
                future.set_result(coalesced)
        try:
            decision = await self.judge(latest, [m for m, _ in earlier])
        except Exception as exc:
            if not latest_future.done():
                latest_future.set_exception(exc)
            return
        if not latest_future.done():
            latest_future.set_result(decision)
