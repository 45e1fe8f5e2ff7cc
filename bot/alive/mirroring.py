"""Style mirroring at run time: each remembered person's writing profile (bot/alive/style.py) turned into one
line of the stable prompt, and learnt from their messages after each exchange.

The profile is read with the rest of the prompt data (no trip of its own); consent is checked against the
answer read there too. Learning runs after the reply, in one transaction with the consent check
(database/style.py): someone not remembered gets no profile, and an opt-out drops theirs.
"""

from __future__ import annotations

import logging
import re

from bot.alive.style import StyleProfile, guidance, learn
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming, ReplyResult
from database.records import PromptData
from database.style import StyleProfiles
from memory.consent import Consent

log = logging.getLogger(__name__)

PARSED_CACHE = 2_000  # profiles kept parsed, by their stored text
_MENTION = re.compile(r"(?<!\w)[@#][^\s@#]+")


class StyleMirror:
    def __init__(self, profiles: StyleProfiles, consent: Consent) -> None:
        self.profiles = profiles
        self.consent = consent
        self._parsed: dict[str, StyleProfile] = {}

    def parse(self, raw: str | None) -> StyleProfile | None:
        if not raw:
            return None
        profile = self._parsed.get(raw)
        if profile is None:
            try:
                profile = StyleProfile.from_json(raw)
            except (ValueError, TypeError):
                log.warning("an unreadable style profile is ignored")
                return None
            if len(self._parsed) >= PARSED_CACHE:
                self._parsed.clear()
            self._parsed[raw] = profile
        return profile

    def system_part(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        if msg.author_is_bot or not self.consent.allows(data.memory_consent):
            return ""
        return guidance(self.parse(data.style_profile), msg.author_name)

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        text = _MENTION.sub("", msg.content).strip()  # "@Finn" is Discord's doing, not the person's style
        if not msg.author_is_bot and text:
            await self.learn(msg.author_id, text)

    def learnt(self, old: str | None, text: str) -> str:
        """The stored form of the profile after ``text``; kept parsed, for the next reply's prompt."""
        profile = learn(self.parse(old), text)
        raw = profile.to_json()
        if len(self._parsed) >= PARSED_CACHE:
            self._parsed.clear()
        self._parsed[raw] = profile
        return raw

    async def learn(self, user_id: int, text: str) -> StyleProfile | None:
        def update(old: str | None, consent: bool | None) -> str | None:
            if not self.consent.allows(consent):
                return None  # not remembered: no profile (and any old one goes)
            return self.learnt(old, text)

        return self.parse(await self.profiles.learn(user_id, update))
