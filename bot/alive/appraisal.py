"""What a message carries for the character's feelings before any model has read it: only signals that
mean the same in every language (emoji, emoticons, "?!"), no model call (it runs on every exchange, in
microseconds). Words are not read here, in any language.

What a reply answers is judged by the reply's own model, from its meaning, in whatever language it is
written (bot/reply/felt.py): its judgement is what moves the feeling after the reply
(bot/alive/feelings.py). These signals alone stand where no model reads the message (an emote reaction to
an unanswered one, bot/features/reactions/reacting.py), where the model gave no judgement, and in the state
line a reply is asked with (the message's own meaning is the model's to weigh as it answers).

What they read, and what they cannot: "😭", ":(" or "💔" is someone having a hard time; "<3", "🥰" or
":)" warmth; "👍" or "🙏" thanks; "?!" or "😱" surprise; "🖕" hostility. An angry face is not read (angry
at the character, or at their day? only the words say); nor sarcasm, nor "😭" said laughing; a row of "!"
says how much, not what.
"""

from __future__ import annotations

import re

SIGNS: dict[str, tuple[str, ...]] = {
    "praise": ("👍", "👏", "🙏", "🙌", "💯"),
    "warmth": ("<3", "❤", "♥", "💕", "💖", "💗", "💞", "🥰", "😊", "🤗", "😘", ":)", "(:", ":-)", "^^"),
    "conflict": ("🖕",),
    "surprise": ("😮", "😲", "🤯", "😱", "😳"),
    "distress": ("😢", "😭", "😞", "😔", "😿", "💔", ":(", ":-(", ":'("),
}
# "?!", "!?" and "??" (their full-width forms too): astonishment in any script
_ASTONISHED = re.compile(r"[?？][!！?？]|[!！][?？]")

KINDS = ("praise", "warmth", "conflict", "surprise", "distress")

# Asked of every message, and most carry no sign: a text holding none of the characters a sign (or "?!")
# begins with carries none, which one pass over it says.
_FIRST = frozenset(sign[0] for signs in SIGNS.values() for sign in signs) | frozenset("?？!！")


def appraise(text: str) -> tuple[str, ...]:
    """The kinds ``text`` carries by its language-neutral signals, in :data:`KINDS` order."""
    if _FIRST.isdisjoint(text):
        return ()
    found = {kind for kind, signs in SIGNS.items() if any(s in text for s in signs)}
    if _ASTONISHED.search(text):
        found.add("surprise")
    return tuple(kind for kind in KINDS if kind in found)
