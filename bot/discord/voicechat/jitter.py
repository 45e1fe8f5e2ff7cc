"""One SSRC's RTP packets put back in order: a small jitter buffer counted in packets, not in time.

A packet that comes early (its predecessor not here yet) is held; it is played as soon as the missing one
arrives, or once packets ``DEPTH`` frames (60 ms of audio) past the missing one have come, when that one is
taken for lost. Nothing waits on a clock: in order, a packet is played at once; a reordered one costs only
the wait for its predecessor. A packet older than one already played, or one already held, is late.
"""

from __future__ import annotations

from bot.discord.voicechat.rtp import RtpFrame

DEPTH = 3  # frames (20 ms each) a packet may come after its successors and still be played in order


def _ahead(sequence: int, of: int) -> int:
    """How far ``sequence`` is past ``of``, modulo 2**16 (negative: behind)."""
    d = (sequence - of) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d


class Jitter:
    def __init__(self) -> None:
        self._next: int | None = None  # the sequence number played next
        self._held: dict[int, RtpFrame] = {}
        self.late = 0  # packets dropped: older than one played, or a repeat

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def put(self, frame: RtpFrame) -> list[tuple[int, RtpFrame]]:
        """The packets now playable, in order, each with how many were lost just before it."""
        if self._next is None:
            self._next = frame.sequence
        if _ahead(frame.sequence, self._next) < 0 or frame.sequence in self._held:
            self.late += 1
            return []
        self._held[frame.sequence] = frame
        out: list[tuple[int, RtpFrame]] = []
        lost = 0
        while self._held:
            found = self._held.pop(self._next, None)
            if found is not None:
                out.append((lost, found))
                lost = 0
                self._next = (self._next + 1) & 0xFFFF
                continue
            distances = [_ahead(s, self._next) for s in self._held]
            if max(distances) <= DEPTH:
                break  # the missing one may still come
            skip = min(distances)  # given up for lost: on to the oldest held
            lost += skip
            self._next = (self._next + skip) & 0xFFFF
        return out

    def flush(self) -> list[tuple[int, RtpFrame]]:
        """What is held, in order (the member's packets stopped: the missing ones will not come)."""
        out: list[tuple[int, RtpFrame]] = []
        while self._held and self._next is not None:
            skip = min(_ahead(s, self._next) for s in self._held)
            self._next = (self._next + skip) & 0xFFFF
            out.append((skip, self._held.pop(self._next)))
            self._next = (self._next + 1) & 0xFFFF
        return out
