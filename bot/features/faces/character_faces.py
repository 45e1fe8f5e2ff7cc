"""The character's own face in each server: the avatar, banner and bio its folder declares
(bot/core/persona/faces.py), with those of the evolution stage it reached in that server, shown through
the same current-member route and rate-limit deferral as an admin's (bot/features/faces/faces.py).

It is shown when the bot is in a server (at start, on joining one) and when the stage reached there
changes (a turn observer of the main character, counting its interactions per server); never over a field
a server admin set by hand. What was last applied in a server is kept as a hash, so a start sends nothing
when the face did not change, and a picture Discord would refuse is reported once (the log, and the admin
who resets), then left out: never sent, never retried. A face Discord refuses all the same (a 4xx other
than 429) is logged in one line and kept as applied: not sent again until it changes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.persona.blend import current_stage
from bot.core.persona.model import Persona
from bot.features.faces.faces import FaceRefused, Faces, image_problem
from database.boundary import JsonObject
from database.characters import Characters

if TYPE_CHECKING:
    from bot.core.stages import Incoming, ReplyResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    """The face a server should show: every field (None: Discord's default), and what was left out."""

    change: JsonObject
    problems: tuple[str, ...] = ()


def _stage_name(persona: Persona, interactions: int) -> str:
    stage = current_stage(persona, interactions)
    return stage.name if stage else ""


def face_of(persona: Persona, stage: str) -> Face:
    """The character's face at ``stage`` ("": the stage of no interactions yet): its own, then each stage's
    fields up to the one reached (a stage keeps the earlier stages' fields it does not set)."""
    avatar: Path | bytes | None = persona.avatar_path or persona.avatar_data
    banner: Path | bytes | None = persona.banner_path
    bio = persona.bio
    reached = stage or _stage_name(persona, 0)
    names = [s.name for s in persona.evolution]
    if reached in names:
        for s in persona.evolution[:names.index(reached) + 1]:
            avatar, banner, bio = s.avatar or avatar, s.banner or banner, s.bio or bio
    change: JsonObject = {"bio": bio or None}
    problems: list[str] = []
    for field, picture in (("avatar", avatar), ("banner", banner)):
        try:
            data = picture.read_bytes() if isinstance(picture, Path) else picture
        except OSError as exc:  # gone since the folder was loaded
            data, problem = None, f"unreadable ({exc.strerror})"
        else:
            problem = image_problem(data) if data is not None else ""
        if problem:
            where = picture.name if isinstance(picture, Path) else "the character file's picture"
            problems.append(f"the {field} ({where}) is {problem}: left out")
            data = None
        change[field] = base64.b64encode(data).decode() if data is not None else None
    return Face(change, tuple(problems))


def _digest(change: JsonObject) -> str:
    return hashlib.sha256(json.dumps(change, sort_keys=True).encode()).hexdigest()


class CharacterFaces:
    def __init__(self, faces: Faces, characters: Characters, character_key: str,
                 persona: Callable[[], Persona]) -> None:
        self.faces = faces
        self.characters = characters  # each server's interaction count and evolution stage
        self.character_key = character_key
        self.persona = persona  # read live: a character folder may change while the bot runs
        # The faces worked out for the persona last read, by stage: a start's sweep of many servers reads
        # each picture once.
        self._faces: dict[str, Face] = {}
        self._of: Persona | None = None

    async def _face(self, stage: str) -> Face:
        persona = self.persona()
        if persona is not self._of:
            self._faces, self._of = {}, persona
        if stage not in self._faces:
            self._faces[stage] = await asyncio.to_thread(face_of, persona, stage)
        return self._faces[stage]

    @staticmethod
    def _applied_key(guild_id: int) -> str:
        return f"face_applied:{guild_id}"

    async def show(self, guild_id: int, stage: str, *, force: bool = False) -> tuple[datetime | None, Face]:
        """Show the character's face at ``stage`` in a server, unless it is what was last applied there
        (``force``: send it anyway); the fields an admin set stay. Returns when a deferred change will be
        sent (None: sent now, or nothing to send) and the face."""
        face = await self._face(stage)
        applied = await self.faces.state.get(self._applied_key(guild_id))
        # Nothing applied yet: the server shows Discord's default, which a face of no fields already is (a
        # character without a face costs a start one read per server).
        if not force and not applied and all(v is None for v in face.change.values()):
            return None, face
        kept = await self.faces.admin_fields(guild_id)
        change = {f: v for f, v in face.change.items() if f not in kept}
        if not change or (not force and applied == _digest(change)):
            return None, face
        digest = _digest(change)
        for problem in face.problems:
            log.warning("the character's face in server %s: %s", guild_id, problem)
        try:
            due = await self.faces.change(guild_id, change, by_admin=False)
        except FaceRefused as refused:
            # Kept as applied: the same face is not sent again (each start, each join) until it changes.
            await self.faces.state.set(self._applied_key(guild_id), digest)
            if force:  # an admin's reset: they are told
                raise
            log.warning("the character's face in server %s was refused by Discord (%s): not sent again "
                        "until it changes", guild_id, refused)
            return None, face
        await self.faces.state.set(self._applied_key(guild_id), digest)
        return due, face

    async def joined(self, guild_id: int) -> None:
        """The bot is in this server (at start, or it just joined): the face for the stage reached there."""
        persona = self.persona()
        staged = any(s.avatar or s.banner or s.bio for s in persona.evolution)
        # The stage reached matters only to a character whose stages have faces.
        stage = await self.characters.server_stage(self.character_key, guild_id) if staged else ""
        try:
            await self.show(guild_id, stage)
        except (ValueError, LookupError) as exc:
            log.warning("could not show the character's face in server %s: %s", guild_id, exc)

    async def reset(self, guild_id: int) -> tuple[datetime | None, Face]:
        """``/bot face reset``: an admin's fields forgotten, the character's own face (Discord's default for
        a character without one) sent again."""
        await self.faces.forget_admin(guild_id)
        stage = await self.characters.server_stage(self.character_key, guild_id)
        return await self.show(guild_id, stage, force=True)

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        """Turn observer of the main character: one more interaction in the server; a new stage reached
        there shows its face there."""
        persona = self.persona()
        if not result.ok or msg.guild_id is None or not persona.evolution:
            return
        stage, changed = await self.characters.count_server_interaction(
            self.character_key, msg.guild_id, lambda n: _stage_name(persona, n))
        if changed:
            log.info("%s reached the evolution stage %r in server %s", self.character_key, stage,
                     msg.guild_id)
            await self.show(msg.guild_id, stage)
