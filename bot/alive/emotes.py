"""Server emotes: what the character is told about them, and what its text becomes before it is sent.

The character writes emotes as ``:name:``. Before anything goes to Discord, a known custom emote becomes
``<:name:id>`` (``<a:name:id>`` when animated); an unknown name becomes the unicode emoji of that
shortcode when there is one, and is dropped otherwise. Emote syntax the model wrote itself
(``<:name:123>``) is checked the same way, so no invalid emote ever reaches Discord. Pure: no Discord here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.core.scripts import CJK

MAX_LISTED = 50  # emotes named in the prompt (a big server has hundreds)

# Common shortcodes the model reaches for, as unicode (what Discord's own client would show for them).
UNICODE: dict[str, str] = {
    "smile": "😄", "smiley": "😃", "grin": "😁", "grinning": "😀", "joy": "😂", "rofl": "🤣",
    "laughing": "😆",
    "sweat_smile": "😅", "blush": "😊", "slight_smile": "🙂", "upside_down": "🙃", "wink": "😉",
    "heart_eyes": "😍", "kissing_heart": "😘", "thinking": "🤔", "neutral_face": "😐", "expressionless": "😑",
    "unamused": "😒", "roll_eyes": "🙄", "sob": "😭", "cry": "😢", "pensive": "😔", "sleepy": "😪",
    "sleeping": "😴", "yawning_face": "🥱", "scream": "😱", "open_mouth": "😮", "astonished": "😲",
    "flushed": "😳", "pleading_face": "🥺", "angry": "😠", "rage": "😡", "sunglasses": "😎", "nerd": "🤓",
    "hugging": "🤗", "hug": "🤗", "shrug": "🤷", "facepalm": "🤦", "wave": "👋", "thumbsup": "👍", "+1": "👍",
    "thumbsdown": "👎", "-1": "👎", "clap": "👏", "pray": "🙏", "ok_hand": "👌", "muscle": "💪", "eyes": "👀",
    "heart": "❤️", "hearts": "💕", "sparkling_heart": "💖", "broken_heart": "💔", "fire": "🔥",
    "sparkles": "✨", "star": "⭐", "tada": "🎉", "100": "💯", "skull": "💀", "ghost": "👻", "rainbow": "🌈",
    "sunny": "☀️", "sun": "☀️", "moon": "🌙", "cloud": "☁️", "ocean": "🌊", "droplet": "💧", "fish": "🐟",
    "tropical_fish": "🐠", "blowfish": "🐡", "shell": "🐚", "crab": "🦀", "octopus": "🐙", "whale": "🐳",
    "dolphin": "🐬", "shark": "🦈", "turtle": "🐢", "cat": "🐱", "dog": "🐶", "coffee": "☕", "tea": "🍵",
    "cake": "🍰", "pizza": "🍕", "books": "📚", "musical_note": "🎵", "notes": "🎶", "zzz": "💤",
    "sweat_drops": "💦", "question": "❓", "exclamation": "❗", "check": "✅", "x": "❌", "warning": "⚠️",
}

_NAME = r"[A-Za-z0-9_+\-]{1,32}"
# A letter of a script written without spaces (Japanese, Chinese) or glued to its particles (Korean): an
# emote may touch one, as in "ありがとう:heart:" or "좋아요:smile:".
# A letter or digit that is not one of those: a :name: touching it is part of a word or a time (10:30:00).
_WORD = rf"(?![{CJK}])\w"
# Either written syntax (<a:name:id>) or a :name: that is not part of a word or a time.
_EMOTE = re.compile(rf"<(?P<a>a?):(?P<full>\w{{2,32}}):(?P<id>\d{{1,25}})>"
                    rf"|(?<![:<])(?<!{_WORD}):(?P<name>{_NAME}):(?!{_WORD})")


@dataclass(frozen=True)
class Emote:
    name: str
    id: int
    animated: bool = False

    @property
    def syntax(self) -> str:
        return f"<{'a' if self.animated else ''}:{self.name}:{self.id}>"


class EmoteSet:
    """A server's custom emotes by name (the names Discord matches case-sensitively)."""

    def __init__(self, emotes: Iterable[Emote] = ()) -> None:
        self.by_name: dict[str, Emote] = {}
        self.by_id: dict[int, Emote] = {}
        for e in emotes:
            self.by_name.setdefault(e.name, e)
            self.by_id[e.id] = e
        self._folded = {name.casefold(): e for name, e in reversed(list(self.by_name.items()))}
        # The stable prompt part naming the emotes the character may use ("" for a server without): built
        # with the set (a place's set is kept, see bot/discord/presence.py), read at every reply.
        names = [f":{e.name}:" + (" (animated)" if e.animated else "")
                 for e in list(self.by_name.values())[:MAX_LISTED]]
        self.prompt_block = ("## This server's emotes\nYou may use this server's custom emotes now and then, "
                             "written as :name: exactly: " + ", ".join(names) + ".") if names else ""

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def find(self, name: str) -> Emote | None:
        return self.by_name.get(name) or self._folded.get(name.casefold())


EMPTY = EmoteSet()
_DROPPED = "\x00"
_GAP = re.compile(r"(^|[ \t])\x00[ \t]?|\x00")


def render(text: str, emotes: EmoteSet = EMPTY) -> str:
    """``text`` with every emote made valid for Discord (see the module docstring)."""
    if ":" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        if match.group("full") is not None:  # <:name:id> written out: keep only if the id is ours
            known = emotes.by_id.get(int(match.group("id")))
            if known is not None:
                return known.syntax
            name = match.group("full")
        else:
            name = match.group("name")
        emote = emotes.find(name)
        if emote is not None:
            return emote.syntax
        return UNICODE.get(name.lower(), _DROPPED)

    rendered = _EMOTE.sub(one, text)
    # A dropped emote takes one of the spaces around it along, so no double space is left behind.
    return _GAP.sub(r"\1", rendered) if _DROPPED in rendered else rendered


# Emote names that suit a warm reaction, best first; a server emote whose name holds one is preferred.
WARM_NAMES = ("heart", "love", "hug", "blush", "happy", "smile", "pat", "yay", "thank", "wholesome", "aww",
              "pog", "cute")


def warm_reaction(emotes: EmoteSet, stimuli: Iterable[str] = ()) -> Emote | str:
    """The emote to react with to a warm message: a fitting server emote, else a unicode one."""
    for word in WARM_NAMES:
        for emote in emotes.by_name.values():
            if word in emote.name.lower():
                return emote
    return "👍" if "praise" in set(stimuli) and "warmth" not in set(stimuli) else "❤️"
