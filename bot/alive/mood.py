"""The character's daily mood (global state ``daily_mood``), picked once a day: by the daily mood round at
``consolidation_hour_utc`` (:meth:`bot.alive.service.Alive.new_day`, bot/runtime/jobs.py), and by
``python main.py consolidate --now`` (bot/runtime/consolidation_cli.py). A feeling, not a memory.

Claude picks it in character; when Claude fails or answers something unusable, a mood is chosen from a fixed
list by the date (deterministic, so a retry on the same day gives the same mood).
"""

from __future__ import annotations

import logging
import zlib
from datetime import date

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Prompt
from bot.core.persona.macros import NEUTRAL_USER
from bot.core.persona.model import Persona
from database.state import State

log = logging.getLogger(__name__)

MOOD_KEY = "daily_mood"
MOOD_DATE_KEY = "daily_mood_date"
MAX_MOOD_CHARS = 200
FALLBACK_MOODS = (
    "Cheerful and chatty, glad of the company.",
    "Calm and reflective, in no hurry today.",
    "A little tired, but warm.",
    "Playful, in the mood for jokes.",
    "Curious about everything and everyone.",
    "Cosy and content.",
    "Restless, itching for something new.",
    "Thoughtful and a bit quiet.",
)


def fallback_mood(day: date) -> str:
    return FALLBACK_MOODS[zlib.crc32(day.isoformat().encode()) % len(FALLBACK_MOODS)]


def _usable(text: str) -> str | None:
    line = " ".join(text.strip().strip('"').split())
    return line if 3 <= len(line) <= MAX_MOOD_CHARS else None


async def pick_mood(claude: ClaudeClient, persona: Persona, day: date) -> tuple[str, bool]:
    """(mood, whether Claude picked it)."""
    prompt = Prompt(
        # no one is answered here: {{user}} as in a channel's shared block, not a person called "User"
        system=[{"type": "text", "text": persona.render(persona.system_prompt, NEUTRAL_USER)}],
        messages=[{"role": "user", "content": (
            f"A new day begins ({day.strftime('%A %d %B')}). In one short sentence, in your own voice, "
            "say what mood you are in today, so you can let it colour how you talk. "
            "Answer with that sentence only.")}])
    try:
        completion = await claude.complete(prompt, guild_id=None, purpose="mood", max_tokens=80)
    except ClaudeUnavailable as exc:
        log.warning("daily mood: Claude failed (%s); using the fallback list", exc)
        return fallback_mood(day), False
    mood = _usable(completion.text)
    if mood is None:
        log.warning("daily mood: unusable answer %r; using the fallback list", completion.text[:80])
        return fallback_mood(day), False
    return mood, True


async def ensure_daily_mood(state: State, claude: ClaudeClient, persona: Persona, day: date) -> str | None:
    """Set today's mood unless it was already set today. Returns the new mood, or None if nothing changed."""
    if await state.get(MOOD_DATE_KEY) == day.isoformat():
        return None
    mood, _ = await pick_mood(claude, persona, day)
    await state.set(MOOD_KEY, mood)
    await state.set(MOOD_DATE_KEY, day.isoformat())
    log.info("daily mood for %s: %s", day.isoformat(), mood)
    return mood
