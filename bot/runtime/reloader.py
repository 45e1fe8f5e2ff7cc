"""Live configuration reload: ``config.env`` and the character folders, checked every
``config_reload_seconds`` (0: off) by modification time and size, a job of the process's ticker
(bot/core/ticker.py: a failed look is logged there and the next one comes all the same).

On a change the whole configuration is read and validated again, as at start-up. Valid: one log line per
changed key, the keys that can change live are applied at once (bot/core/config/holder.py), the
restart-only ones are named; the persona (prompts, cards, character.env's character keys) is reloaded by its
:class:`CharacterSource`; a changed ``identity.json`` is seeded again. Invalid: one line naming the file
and the key, and the running configuration stays as it was. A ``config.env`` that had settings and is now
missing or empty (an editor or a deploy rewriting it, caught between two polls) is not read as "every key
at its default": the running configuration stays, said once, until the file has settings again. Polling
needs no new dependency and works the same on every file system (bind mounts and network shares included,
where inotify may stay silent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bot.core.character import WATCHED_SUBFOLDERS, CharacterSource
from bot.core.config import load_settings
from bot.core.config.envfile import empty_or_missing
from bot.core.config.holder import SettingsHolder
from bot.core.config.live import changes, live_settings
from bot.core.config.sections import Settings
from bot.core.errors import ConfigError
from bot.core.persona.identity import IDENTITY_FILE
from bot.core.ticker import Ticker, TickerJob

log = logging.getLogger(__name__)

Stamps = dict[str, tuple[int, int]]  # path -> (mtime in ns, size)


def stamp_files(folders: Sequence[Path], files: Sequence[Path | None]) -> Stamps:
    """The modification time and size of every file in ``folders`` (their top level and frameworks/) and of
    ``files``; a file that vanished is simply absent."""
    out: Stamps = {}

    def add(path: str) -> None:
        with contextlib.suppress(OSError):  # removed between listing and stat
            st = os.stat(path)
            out[path] = (st.st_mtime_ns, st.st_size)

    for folder in folders:
        with contextlib.suppress(OSError):
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.is_file():
                        add(entry.path)
                    elif entry.name in WATCHED_SUBFOLDERS and entry.is_dir():
                        with os.scandir(entry.path) as inner:
                            for e in inner:
                                if e.is_file():
                                    add(e.path)
    for path in files:
        if path is not None:
            add(str(path))
    return out


class ConfigReloader:
    """Polls the configuration files and copies the reloaded settings into the running ones."""

    def __init__(self, holder: SettingsHolder, characters: Sequence[CharacterSource],
                 reseed: Callable[[Path], Awaitable[None]], ticker: Ticker) -> None:
        self.holder = holder  # the running bot's settings: every component reads through it
        self.settings = holder.current
        self.characters = list(characters)  # the main character first
        self.reseed = reseed  # seeds a folder's identity.json again
        main = self.characters[0]
        self.config_file = main.config_file
        self.environ = main.environ  # None: the process environment, read again at each reload
        self.ticker = ticker
        self._stamps: Stamps = {}
        self._job: TickerJob | None = None
        # Whether the running configuration was read from a config.env with settings in it (then its
        # vanishing is an edit under way, not "use every default"), and whether that was said already.
        self._config_had_settings = False
        self._keeping = False

    @property
    def folders(self) -> list[Path]:
        return [c.folder for c in self.characters]

    def _stamp(self) -> Stamps:
        return stamp_files(self.folders, [self.config_file])

    def start(self) -> None:
        """Begin polling (nothing when ``config_reload_seconds`` is 0; set to 0 by a reload, polls end)."""
        if self.settings.operation.config_reload_seconds <= 0 or self._job is not None:
            return
        self._stamps = self._stamp()
        self._config_had_settings = empty_or_missing(self.config_file) is None
        self._job = self.ticker.every("the config reload",
                                      lambda: self.settings.operation.config_reload_seconds, self.check)

    async def stop(self) -> None:
        if self._job is not None:
            await self._job.stop()
            self._job = None

    async def check(self) -> list[str]:
        """Compare the files with the last look; on a change, reload. Returns the changed files."""
        stamps = await asyncio.to_thread(self._stamp)
        changed = sorted(p for p in {*stamps, *self._stamps} if stamps.get(p) != self._stamps.get(p))
        self._stamps = stamps
        if changed:
            await self.reload(changed)
        return changed

    def _read(self) -> tuple[str | None, Settings | None]:
        """(why config.env holds no settings, or None; the configuration read again, or None when the
        file that had settings has none now: an edit under way)."""
        why = empty_or_missing(self.config_file)
        if why is not None and self._config_had_settings:
            return why, None
        main = self.characters[0]
        return why, load_settings(main.folder, self.config_file, environ=self.environ)

    async def reload(self, changed: Sequence[str]) -> None:
        names = ", ".join(changed)
        try:
            why, new = await asyncio.to_thread(self._read)
        except ConfigError as exc:
            log.error("config reload: %s; keeping the running configuration", exc)
            return
        if new is None:
            if not self._keeping:
                log.warning("config reload: %s is %s; keeping the running configuration until it has "
                            "settings again (restart to run without it)", self.config_file, why)
                self._keeping = True
            return
        self._keeping = False
        self._config_had_settings = why is None
        found = changes(self.holder.current, new)
        for change in found:
            log.log(logging.WARNING if change.needs_restart else logging.INFO,
                    "config reload (%s): %s", names, change.describe())
        self.holder.update(live_settings(self.holder.current, new))
        if any(c.key == "log_level" for c in found):
            logging.getLogger().setLevel(self.settings.storage.log_level)
        for source in self.characters:  # the persona now rather than at the next message (it logs itself)
            await source.refresh()
        for folder in self.folders:
            if str(folder / IDENTITY_FILE) in changed and (folder / IDENTITY_FILE).is_file():
                try:
                    await self.reseed(folder)
                except ConfigError as exc:  # a broken edit: what was seeded before stays
                    log.error("config reload: %s; identity entries unchanged", exc)
        if not found:
            log.info("config reload (%s): no setting changed", names)
