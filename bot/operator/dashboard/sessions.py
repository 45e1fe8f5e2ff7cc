"""Dashboard sessions: a random id in a cookie, kept in memory (a restart logs everyone out), each with its
own CSRF token and the messages to show on the next page."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

COOKIE = "kindred_session"
IDLE_SECONDS = 8 * 3600  # a session unused this long ends
MAX_SESSIONS = 64  # the least recently used ones go first


@dataclass
class Session:
    id: str
    csrf: str  # every form posts it back; a request from another site cannot know it
    last_used: float
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (ok | error, text)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # logged out or expired: its streams close

    def flash(self, kind: str, text: str) -> None:
        self.flashes.append((kind, text))

    def take_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out


class Sessions:
    def __init__(self, idle_seconds: float = IDLE_SECONDS, limit: int = MAX_SESSIONS) -> None:
        self.idle_seconds = idle_seconds
        self.limit = limit
        self._by_id: dict[str, Session] = {}

    def create(self) -> Session:
        self._expire()
        while len(self._by_id) >= self.limit:
            oldest = min(self._by_id.values(), key=lambda s: s.last_used)
            self.drop(oldest.id)
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.monotonic())
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (its idle clock restarts), or None."""
        session = self._by_id.get(session_id or "")
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_used > self.idle_seconds:
            self.drop(session.id)
            return None
        session.last_used = now
        return session

    def drop(self, session_id: str) -> None:
        session = self._by_id.pop(session_id, None)
        if session is not None:
            session.ended.set()

    def __len__(self) -> int:
        return len(self._by_id)

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s.id for s in self._by_id.values() if now - s.last_used > self.idle_seconds]:
            self.drop(sid)
