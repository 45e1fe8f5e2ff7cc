"""The character folder as a live source: edits to its files apply to the next message.

Checking modification times costs a few microseconds per message, so the persona is never a start-up
cache: an operator can edit ``character.env``, a card, ``frameworks/*.json`` or the lorebook (wherever the
``lorebook`` key points) while the bot runs. The check stats only what it already knows: the folder and
``frameworks/`` (a file added, removed or renamed there changes the folder's own time) and each known file
(an edit in place changes only the file's); the folder is listed again only when one of those changed.

In the event loop the check is :meth:`CharacterSource.refresh`, awaited before a message is handled: the
listing, the reading and the parse (tens of milliseconds for a large card with its lore) run in a worker
thread, once for every message waiting on them, and the persona is swapped whole when it is built.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
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
# Read outside a message (unprompted speech, the dashboard alone), the files' times are looked at at most
# this often; a change starts a refresh in the background, which the next read has.
LOOK_EVERY = 1.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


Stamp = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class _Read:
    """What one look at the files found, swapped in whole: a reader never sees a persona with another's
    stamp, nor one half built."""

    persona: Persona
    stamp: Stamp  # every file's (name, modification time), as listed
    watched: tuple[str, ...]  # the folder, frameworks/ and every file of the stamp
    quick: tuple[int, ...]  # the times of ``watched``, as last seen
    elsewhere: tuple[Path, ...]  # files the persona reads from outside the folder's top level
    # config.env had settings at the last load: if it has none now, an edit is under way (the settings'
    # reload says so) and the persona keys it may hold are not dropped meanwhile.
    config_had_settings: bool


class CharacterSource:
    def __init__(
        self, folder: Path, config_file: Path | None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.folder = folder
        self.config_file = config_file
        self._environ = environ
        self.environ = environ  # None: the process environment (handed on to the ensemble's other characters)
        self._read: _Read | None = None
        # One look in a worker thread at a time: the messages arriving meanwhile wait for its persona
        # rather than parse the same files again.
        self._looking = asyncio.Lock()
        self.clock: Callable[[], float] = time.monotonic
        self._looked_at = float("-inf")  # when the files' times were last looked at (the clock's)
        self._refreshing: asyncio.Task[None] | None = None  # a refresh started by a read (kept: not lost)
        self._reported: tuple[str, ...] = ()  # the unused fields last logged, so each set is logged once
        self._cut_reported: tuple[str, ...] = ()  # the greetings cut, last warned of (once per change)
        self._register_reported = ""  # where a mature character speaks in full, last said (once per change)
        self._aliases_reported = ""  # the warning about too short names, last said (once per change)

    @property
    def key(self) -> str:
        """The name the character's conversations and memories are filed under: its folder's (stable across
        display-name edits)."""
        return self.folder.name

    def _current_stamp(self, elsewhere: tuple[Path, ...]) -> Stamp:
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
        for path in (self.config_file, *elsewhere):
            if path is not None and path.is_file():
                stamps.append((str(path), path.stat().st_mtime_ns))
        return tuple(sorted(stamps))

    @staticmethod
    def _quick_stamp(watched: tuple[str, ...]) -> tuple[int, ...]:
        """The modification times of ``watched`` (what _current_stamp() found), a missing path as -1: what
        a check compares each time (a few stats, no listing)."""
        times: list[int] = []
        for path in watched:
            try:
                times.append(os.stat(path).st_mtime_ns)
            except OSError:
                times.append(-1)
        return tuple(times)

    def _remember(self, persona: Persona, stamp: Stamp, elsewhere: tuple[Path, ...],
                  config_had_settings: bool) -> _Read:
        # A sub-folder created later changes the folder's own time: only the ones there now are stat-ed.
        folders = [str(self.folder), *(str(self.folder / sub) for sub in WATCHED_SUBFOLDERS
                                       if (self.folder / sub).is_dir())]
        # Files outside the folder are watched whether they exist or not (one may be created later).
        outside = [str(path) for path in (self.config_file, *elsewhere) if path is not None]
        inside = [str(self.folder / name) for name, _ in stamp if name not in outside]
        watched = (*folders, *inside, *outside)
        return _Read(persona, stamp, watched, self._quick_stamp(watched), elsewhere, config_had_settings)

    def _loaded(self) -> _Read:
        """The files read and parsed now (raises ConfigError for a broken folder); nothing of this source
        changed, so it may run in a worker thread."""
        had_settings = empty_or_missing(self.config_file) is None
        env = read_sources(self.config_file, self.folder, self._environ).values
        lorebook = (env.get("lorebook") or "").strip()
        elsewhere: tuple[Path, ...] = (self.folder / Path(lorebook).expanduser(),) if lorebook else ()
        prompt_file = core_prompt_path(self.folder, env)  # watched too, wherever it is
        elsewhere += (prompt_file,) if prompt_file is not None else ()
        persona = load_persona(self.folder, env)
        return self._remember(persona, self._current_stamp(elsewhere), elsewhere, had_settings)

    def _report(self, persona: Persona) -> None:
        """The fields the files carry that Kindred has no counterpart for, the greetings cut, the names too
        short and where a mature character speaks in full: logged, each once per change."""
        if persona.unused_fields and persona.unused_fields != self._reported:
            log.info("%s (%s): read but not used, Kindred has no counterpart: %s", persona.name, self.folder,
                     "; ".join(persona.unused_fields))
            self._reported = persona.unused_fields
        if (warning := greeting_warning(persona)) and persona.cut_greetings != self._cut_reported:
            log.warning("%s (%s): %s", persona.name, self.folder, warning)
            self._cut_reported = persona.cut_greetings
        if (short := alias_warning(persona)) != self._aliases_reported:
            if short:
                log.warning("%s (%s): %s", persona.name, self.folder, short)
            self._aliases_reported = short
        if (notice := register_notice(persona)) != self._register_reported:
            if notice:
                log.info("%s (%s): %s", persona.name, self.folder, notice)
            self._register_reported = notice

    def load(self, *, report: bool = True) -> Persona:
        """Load (or reload) now, in the calling thread; raises ConfigError for a broken folder. With
        ``report``, the fields the files carry that Kindred has no counterpart for are logged in one line
        (once per change)."""
        read = self._read = self._loaded()
        self._looked_at = self.clock()
        if report:
            self._report(read.persona)
        return read.persona

    def _stale(self) -> bool:
        read = self._read
        return read is None or self._quick_stamp(read.watched) != read.quick

    def _looked_again(self, last: _Read) -> _Read:
        """The files looked at again after a quick stamp changed (listed, and read and parsed when they
        did change): what to keep, the last good persona when an edit broke the character. Changes
        nothing of this source, so it may run in a worker thread."""
        stamp = self._current_stamp(last.elsewhere)
        if stamp == last.stamp:  # e.g. a new, still empty frameworks/: watched from now on
            return self._remember(last.persona, stamp, last.elsewhere, last.config_had_settings)
        if last.config_had_settings and empty_or_missing(self.config_file) is not None:
            # its return (a new time) reloads then
            return self._remember(last.persona, stamp, last.elsewhere, last.config_had_settings)
        # config.env is read too (a persona key may live there), but an edit of it alone is the settings'
        # business (their reload says what changed): not "character files changed".
        config = str(self.config_file) if self.config_file is not None else None
        character_changed = ({s for s in stamp if s[0] != config}
                             != {s for s in last.stamp if s[0] != config})
        what = "character files" if character_changed else f"{self.config_file}"
        try:
            read = self._loaded()
        except ConfigError as exc:
            log.error("%s changed but the character is invalid, keeping the previous persona: %s", what, exc)
            return self._remember(last.persona, stamp, last.elsewhere, last.config_had_settings)
        if character_changed or read.persona != last.persona:
            log.info("%s changed: reloaded %s", what, read.persona.name)
        return read

    async def refresh(self) -> Persona:
        """The persona as the files say now, looked at off the event loop: awaited before a message is
        handled, so an edit applies to the next message. A few stats when nothing changed; else the files
        are listed, read and parsed in a worker thread, once however many messages wait, and the new
        persona replaces the old whole. Raises ConfigError when a first load finds the folder broken; a
        broken edit keeps the last good persona (and is logged)."""
        self._looked_at = self.clock()
        if self._stale():
            async with self._looking:
                last = self._read
                if self._stale():  # not already seen to by the look this one waited for
                    look = self._loaded if last is None else partial(self._looked_again, last)
                    read = await asyncio.to_thread(look)
                    self._read = read
                    self._report(read.persona)
        assert self._read is not None
        return self._read.persona

    async def _refresh_behind(self) -> None:
        """A refresh no message waits for: what fails is logged (the persona stays as it was)."""
        try:
            await self.refresh()
        except (ConfigError, OSError) as exc:
            log.error("looking at %s's files failed, keeping the persona: %s", self.folder, exc)

    def current(self) -> Persona:
        """The persona. In the event loop: as the last :meth:`refresh` found (each message awaits a refresh
        first); a read outside a message looks at the files' times at most every :data:`LOOK_EVERY`
        seconds and has a change refreshed in the background, so unprompted speech and the dashboard meet an
        edit too. Outside a loop (a command-line tool, a script): as the files say now, checked in this
        call. A broken edit keeps the last good persona (and is logged)."""
        read = self._read
        if read is None:
            return self.load()  # start-up, before any refresh
        loop = _running_loop()
        if loop is None:
            if self._quick_stamp(read.watched) != read.quick:
                read = self._read = self._looked_again(read)
                self._report(read.persona)
        elif self.clock() - self._looked_at >= LOOK_EVERY and (self._refreshing is None
                                                                or self._refreshing.done()):
            self._looked_at = self.clock()
            if self._stale():
                self._refreshing = loop.create_task(self._refresh_behind())
        return read.persona
