"""Plain text helpers shared by Discord answers, admin text, the dashboard and the memory map: one-line
previews and page arithmetic."""

from __future__ import annotations

import math
from dataclasses import dataclass

PAGE_SIZE = 10  # lines per page unless a list says otherwise


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Page:
    number: int  # 0-based
    count: int  # pages in all (at least 1)
    total: int  # items in all
    size: int

    @property
    def offset(self) -> int:
        return self.number * self.size

    @property
    def has_prev(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number < self.count - 1


def page_of(total: int, number: int, size: int = PAGE_SIZE) -> Page:
    """The page ``number`` (0-based) of ``total`` items, clamped to the pages that exist."""
    count = max(1, math.ceil(total / size))
    return Page(min(max(number, 0), count - 1), count, total, size)
