"""An hourly cap per channel on what the character does of its own accord in answer to people's signs: the
emote reactions (bot/features/reactions/) and the answers to corrections (bot/features/corrections/)."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)


class ReactionGate:
    """At most ``per_hour`` reactions per channel in any hour."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._times: dict[int, deque[datetime]] = {}

    def allow(self, channel_id: int, now: datetime) -> bool:
        times = self._times.setdefault(channel_id, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        if len(times) >= self.per_hour:
            return False
        times.append(now)
        return True
