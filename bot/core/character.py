"""The character folder as a live source: edits to its files apply to the next message.

Checking modification times costs a few microseconds per message, so the persona is never a start-up
cache: an operator can edit ``character.env``, a card, ``frameworks/*.json`` or the lorebook (wherever the
``lorebook`` key points) while the bot runs. The per-call check stats only what it already knows: the
folder and ``frameworks/`` (a file added, removed or renamed there changes the folder's own time) and each
known file (an edit in place changes only the file's); the folder is listed again only when one of those
changed.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from bot.core.config import read_sources
from bot.core.config.envfile import empty_or_missing
from bot.core.errors import ConfigError
from bot.core.persona import load_persona
from bot.core.persona.claudemask import core_prompt_path
from bot.core.persona.loader import alias_warning, greeting_warning
from bot.core.persona.model import Persona
from bot.core.persona.register import register_notice

log = logging.getLogger(__name__)

# Sub-folders whose files are part of the character (framework JSON); other sub-folders are not watched.
WATCHED_SUBFOLDERS = ("frameworks",)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class CharacterSource:
    def __init__(
        self, folder: Path, config_file: Path | None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.config_file = config_file
        self._environ = environ
        self.environ = environ  # None: the process environment (handed on to the ensemble's other characters)
        self._stamp: tuple[tuple[str, int], ...] = ()
        self._quick: tuple[int, ...] = ()  # the times of _watched(), as last seen
        self._watched: tuple[str, ...] = ()  # the folder, frameworks/ and every file of the stamp
        # Checked in this turn of the event loop: the other calls of the same turn (a message's decide step
        # asks for the persona several times) skip the stats. Expired at the start of the next turn, before
        # the loop handles any new event, so a message received after an edit still sees it.
        self._checked: asyncio.AbstractEventLoop | None = None  # the loop whose turn it is, while checked
        self._elsewhere: tuple[Path, ...] = ()  # files the persona reads from outside the folder's top level
        self._persona: Persona | None = None
        self._reported: tuple[str, ...] = ()  # the unused fields last logged, so each set is logged once
        self._cut_reported: tuple[str, ...] = ()  # the greetings cut, last warned of (once per change)
        self._register_reported = ""  # where a mature character speaks in full, last said (once per change)
        self._aliases_reported = ""  # the warning about too short names, last said (once per change)
        # config.env had settings at the last load: if it has none now, an edit is under way (the settings'
        # reload says so) and the persona keys it may hold are not dropped meanwhile.
        self._config_had_settings = False

    @property
    def key(self) -> str:
        """The name the character's conversations and memories are filed under: its folder's (stable across
        display-name edits)."""
        return self.folder.name

    def _current_stamp(self) -> tuple[tuple[str, int], ...]:
        stamps: list[tuple[str, int]] = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.is_file():
                    stamps.append((entry.name, entry.stat().st_mtime_ns))
                elif entry.name in WATCHED_SUBFOLDERS and entry.is_dir():
                    with os.scandir(entry.path) as inner:
                        stamps.extend(
                            (f"{entry.name}/{e.name}", e.stat().st_mtime_ns) for e in inner if e.is_file()
                        )
        for path in (self.config_file, *self._elsewhere):
            if path is not None and path.is_file():
                stamps.append((str(path), path.stat().st_mtime_ns))
        return tuple(sorted(stamps))

    def _quick_stamp(self) -> tuple[int, ...]:
        """The modification times of what _current_stamp() found, a missing path as -1: what current()
        compares on every call (a few stats, no listing)."""
        times: list[int] = []
        for path in self._watched:
            try:
                times.append(os.stat(path).st_mtime_ns)
            except OSError:
                times.append(-1)
        return tuple(times)

    def _remember(self, stamp: tuple[tuple[str, int], ...]) -> None:
        self._stamp = stamp
        # A sub-folder created later changes the folder's own time: only the ones there now are stat-ed.
        folders = [str(self.folder), *(str(self.folder / sub) for sub in WATCHED_SUBFOLDERS
                                       if (self.folder / sub).is_dir())]
        # Files outside the folder are watched whether they exist or not (one may be created later).
        outside = [str(path) for path in (self.config_file, *self._elsewhere) if path is not None]
        inside = [str(self.folder / name) for name, _ in stamp if name not in outside]
        self._watched = (*folders, *inside, *outside)
        self._quick = self._quick_stamp()

    def _hold_for_this_turn(self) -> None:
        loop = _running_loop()
        if loop is None:
            return  # called outside an event loop: every call checks
        self._checked = loop
        loop.call_soon(self._expire)

    def _expire(self) -> None:
        self._checked = None

    def load(self, *, report: bool = True) -> Persona:
        """Load (or reload) now; raises ConfigError for a broken folder. With ``report``, the fields the
        files carry that Kindred has no counterpart for are logged in one line (once per change)."""
        had_settings = empty_or_missing(self.config_file) is None
        env = read_sources(self.config_file, self.folder, self._environ).values
        self._config_had_settings = had_settings
        lorebook = (env.get("lorebook") or "").strip()
        self._elsewhere = (self.folder / Path(lorebook).expanduser(),) if lorebook else ()
        prompt_file = core_prompt_path(self.folder, env)  # watched too, wherever it is
        self._elsewhere += (prompt_file,) if prompt_file is not None else ()
        persona = self._persona = load_persona(self.folder, env)
        self._remember(self._current_stamp())
        if report and persona.unused_fields and persona.unused_fields != self._reported:
            log.info("%s (%s): read but not used, Kindred has no counterpart: %s", persona.name, self.folder,
                     "; ".join(persona.unused_fields))
            self._reported = persona.unused_fields
        if report and (warning := greeting_warning(persona)) and persona.cut_greetings != self._cut_reported:
            log.warning("%s (%s): %s", persona.name, self.folder, warning)
            self._cut_reported = persona.cut_greetings
        if report and (short := alias_warning(persona)) != self._aliases_reported:
            if short:
                log.warning("%s (%s): %s", persona.name, self.folder, short)
            self._aliases_reported = short
        if report and (notice := register_notice(persona)) != self._register_reported:
            if notice:
                log.info("%s (%s): %s", persona.name, self.folder, notice)
            self._register_reported = notice
        return persona

    def current(self) -> Persona:
        """The persona as the files say now; a broken edit keeps the last good persona (and is logged)."""
        if self._persona is None:
            return self.load()
        if self._checked is not None and self._checked is _running_loop():
            return self._persona
        self._hold_for_this_turn()
        quick = self._quick_stamp()
        if quick == self._quick:
            return self._persona
        stamp = self._current_stamp()
        if stamp == self._stamp:
            self._remember(stamp)  # e.g. a new, still empty frameworks/: watched from now on
        elif self._config_had_settings and empty_or_missing(self.config_file) is not None:
            self._remember(stamp)  # its return (a new time) reloads then
        else:
            # config.env is read too (a persona key may live there), but an edit of it alone is the
            # settings' business (their reload says what changed): not "character files changed".
            config = str(self.config_file) if self.config_file is not None else None
            character_changed = ({s for s in stamp if s[0] != config}
                                 != {s for s in self._stamp if s[0] != config})
            what = "character files" if character_changed else f"{self.config_file}"
            try:
                previous = self._persona
                self.load()
                if character_changed or self._persona != previous:
                    log.info("%s changed: reloaded %s", what, self._persona.name)
            except ConfigError as exc:
                self._remember(stamp)
                log.error("%s changed but the character is invalid, keeping the previous persona: %s",
                          what, exc)
        return self._persona
