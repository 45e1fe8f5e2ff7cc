"""The character folder as a live source: edits to its files apply to the next message.

Checking the folder's modification times costs a few microseconds per message, so the persona is
never a start-up cache: an operator can edit ``character.env`` (or a card) while the bot runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from bot.config import read_sources
from bot.errors import ConfigError
from bot.persona import load_persona
from bot.persona.model import Persona

log = logging.getLogger(__name__)


class CharacterSource:
    def __init__(self, folder: Path, config_file: Path | None, environ: Mapping[str, str] | None = None) -> None:
        self.folder = folder
        self.config_file = config_file
        self._environ = environ
        self.environ = environ  # None: the process environment (handed on to the ensemble's other characters)
        self._stamp: tuple[float, ...] = ()
        self._persona: Persona | None = None

    def _current_stamp(self) -> tuple[float, ...]:
        stamps = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                if entry.is_file():
                    stamps.append(entry.stat().st_mtime_ns)
        if self.config_file is not None and self.config_file.is_file():
            stamps.append(self.config_file.stat().st_mtime_ns)
        return tuple(sorted(stamps))

    def load(self) -> Persona:
        """Load (or reload) now; raises ConfigError for a broken folder."""
        env = read_sources(self.config_file, self.folder, self._environ).values
        self._persona = load_persona(self.folder, env)
        self._stamp = self._current_stamp()
        return self._persona

    def current(self) -> Persona:
        """The persona as the files say now; a broken edit keeps the last good persona (and is logged)."""
        if self._persona is None:
            return self.load()
        stamp = self._current_stamp()
        if stamp != self._stamp:
            try:
                self.load()
                log.info("character files changed: reloaded %s", self._persona.name)
            except ConfigError as exc:
                self._stamp = stamp
                log.error("character files changed but are invalid, keeping the previous persona: %s", exc)
        return self._persona
