"""What a transcription is told to expect: the language the speaker likely speaks and the character's names.

Speech-to-text left to guess the language mishears short clips (a two-second Spanish "sí, claro" comes back
as Portuguese or English), and spells a name it has never seen as an everyday word. An OpenAI-compatible
server takes both hints (``language``, an ISO 639-1 code, and ``prompt``, text the audio is likely to
follow); :class:`bot.features.voice.speech.VoiceService` passes them on.

The language, most specific first:

* the speaker's own: the language most of their messages are written in, as their style profile counts it
  (bot/alive/style.py; kept only for people the character may remember), when it is most of them
  (bot/core/i18n.py ``language_written``, any language, not only those Kindred's own lines are in);
* the place's: the server's /settings language (``language_named``);
* else none, and the server guesses (a wrong hint is worse than none: a server told Spanish writes what it
  hears as Spanish).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.core.i18n import language_named, language_written
from bot.core.persona.model import Persona
from bot.features.voice.speech import Payer
from database.servers import Servers
from database.style import StyleProfiles

log = logging.getLogger(__name__)


class Expectations:
    """The voice feature's :class:`bot.features.voice.speech.Expecting`. ``persona``: the character as its
    files say now (its name and aliases), None: no names are given."""

    def __init__(self, servers: Servers, styles: StyleProfiles,
                 persona: Callable[[], Persona] | None) -> None:
        self._servers = servers
        self._styles = styles
        self._persona = persona

    async def language(self, payer: Payer) -> str | None:
        try:
            if payer.user_id is not None:
                own = language_written(await self._styles.get(payer.user_id), any_known=True)
                if own is not None:
                    return own
            if payer.guild_id is not None:
                return language_named((await self._servers.get(payer.guild_id)).language, any_known=True)
        except Exception:  # a hint is no reason to leave someone unheard
            log.warning("the expected language of a transcription could not be read", exc_info=True)
        return None

    def names(self) -> str:
        if self._persona is None:
            return ""
        persona = self._persona()
        return ", ".join(dict.fromkeys(n.strip() for n in (persona.name, *persona.aliases) if n.strip()))
