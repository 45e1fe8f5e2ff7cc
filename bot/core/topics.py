"""Which of a character's topics (interests, avoidances) a message touches.

A topic matches when its words appear in the message (``elder_scrolls`` reads as "elder scrolls"). A topic
named after one of acore_bot's topic categories (``gaming``, ``technology``, ``politics``...) also matches
that category's keywords, as acore_bot detects topics, so its characters route the way they did there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# acore_bot's topic categories (services/persona/behavior.py), keyword for keyword.
CATEGORIES = {
    "gaming": r"games?|gaming|play(?:ed|ing)?|gameplay|fps|rpg|mmo|steam|epic|nintendo|playstation|xbox",
    "technology": r"tech|software|hardware|computer|programming|code|app|phone|device|ai|machine learning",
    "movies": r"movie|film|cinema|watch(?:ed|ing)?|netflix|hbo|disney\+|stream|director|actor",
    "music": r"music|song|album|artist|band|concert|listen|spotify|apple music|playlist",
    "sports": r"sport|game|match|team|player|score|win|lose|championship|league|football|basketball|baseball",
    "food": r"food|eat|cooking|recipe|restaurant|meal|breakfast|lunch|dinner|delicious|taste",
    "travel": r"travel|trip|vacation|flight|hotel|visit|country|city|tour|destination",
    "work": r"work|job|career|office|boss|colleague|meeting|project|deadline|salary|hire",
    "school": r"school|college|university|class|study|exam|homework|degree|professor|student",
    "health": r"health|doctor|hospital|medicine|exercise|fitness|diet|sick|pain|treatment",
    "relationships": r"relationship|dating|love|friend|family|married|single|breakup|divorce",
    "money": r"money|cash|dollar|price|cost|expensive|cheap|buy|sell|invest|budget",
    "weather": r"weather|rain|snow|sunny|cold|hot|temperature|climate|forecast",
    "pets": r"pet|dog|cat|animal|puppy|kitten|vet|leash|toy|treat",
    "books": r"book|novel|read|reading|author|story|chapter|library|literature",
    "politics": r"politics|government|election|president|policy|vote|democrat|republican|congress",
    "religion": r"god|church|religion|pray|faith|bible|jesus|christian|muslim|islam",
}


@lru_cache(maxsize=1024)
def topic_pattern(topic: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(w) for w in topic.replace("_", " ").split())
    category = CATEGORIES.get(topic.strip().lower())
    body = f"{words}|{category}" if category else words
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def topic_hits(text: str, topics: Iterable[str]) -> list[str]:
    """The ``topics`` ``text`` touches, in the order they are listed."""
    return [t for t in topics if t.strip() and topic_pattern(t).search(text)]
