"""Faces: the character's avatar, banner and bio in each server. A server admin's own (``/bot face``),
else the character's, as its folder declares them, with those of the evolution stage it reached there.

* :mod:`.faces`: a face per server (:class:`Faces`), sent through Discord's current-member route, a change
  within Discord's rate window deferred to a ``face`` timer; what a server admin set by hand is kept as a
  state key. Discord's side of the edit is the cog's (cogs/faces.py ``DiscordFaces``, a ``FaceWriter``).
* :mod:`.character_faces`: the character's own face (:class:`CharacterFaces`), shown in each server the bot
  is in (at start, on joining one) and when the stage reached there changes (a turn observer of the main
  character); never over a field an admin set.
* Its slash commands: cogs/faces.py (``/bot face avatar|banner|bio|reset``, server admins); its rows: state
  keys (database/state.py) and each server's stage (database/server_models.py ``ServerStage``); no settings
  section of its own (the faces are the character folder's: bot/core/persona/faces.py). Tests:
  tests/test_faces.py, tests/test_character_faces.py.

Its registration (bot/operator/registration.py): ``FEATURE`` below.
"""

from __future__ import annotations

from bot.features.faces.character_faces import CharacterFaces
from bot.features.faces.faces import TIMER, Faces
from bot.operator.registration import Contribution, Feature, Parts, Running, TimerHandler

__all__ = ["FEATURE", "CharacterFaces", "Faces"]


def build(parts: Parts) -> Contribution:
    if parts.persona is None:
        raise LookupError("the faces need the character's persona")
    faces = Faces(parts.timers, parts.store.state)  # Discord's side connected by its cog (cogs/faces.py)
    own = CharacterFaces(faces, parts.store.characters, parts.character, parts.persona)

    def timers(_: Running) -> dict[str, TimerHandler]:
        return {TIMER: faces.apply_due}

    return Contribution(turn_observers=(own.on_turn,), parts=(faces, own), in_server=(own.joined,),
                        timers=timers)


FEATURE = Feature(name="faces", cogs=("cogs.faces",), build=build)
