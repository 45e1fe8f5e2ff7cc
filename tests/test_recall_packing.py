"""How recall offers its candidates to the budget (memory/packing.py): best first, a fact whose day is already
headed a little before one that would open a new day, and what did not fit offered again when room is given
back; on their own and through recall's choice (memory/recall.py choose_both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from database.records import FactRow
from memory import packing
from memory.embeddings import to_bytes
from memory.facts import FactIndex
from memory.packing import Candidates
from memory.recall import choose_both
from tests.memory_support import HashEmbedder

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_a_fact_sharing_a_heading_comes_before_one_opening_a_day_only_when_nearly_as_relevant() -> None:
    headed: set[int] = set()  # the codes whose day has a heading (as recall's days, filled as it chooses)
    new_day = {10, 11}

    def opens(code: int) -> bool | None:
        return None if code < 0 else code in new_day and code not in headed

    # 13 shares a heading and is nearly as relevant as 10 (0.85 against 1.0): it comes first; 12 is not
    # (0.5): it keeps its place; an excerpt (-1) has no day heading and never moves.
    offered = list(Candidates([], [10, 11, -1, 13, 12], [1.0, 0.9, 0.88, 0.85, 0.5], opens))
    assert offered == [13, 10, 11, -1, 12]
    # A fact that opens no new day, or one without any such fact close behind it, keeps its place.
    assert list(Candidates([], [12, 10, 11], [1.0, 0.9, 0.8], opens)) == [12, 10, 11]
    assert list(Candidates([], [10, 11, 12], [1.0, 0.9, 0.5], opens)) == [10, 11, 12]
    # Pinned first, each code once, then what fills the rest of the budget.
    assert list(Candidates([12], [12, 13], [1.0, 0.9], opens, rest=[13, 14])) == [12, 13, 14]


def test_what_did_not_fit_is_offered_again_when_room_is_given_back() -> None:
    offered = Candidates([], [1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0], lambda code: None)
    seen: list[int] = []
    for code in offered:
        seen.append(code)
        if code in (1, 2) and seen.count(code) == 1:
            offered.skip()  # too long for what is left
        if code == 3:
            offered.freed()  # an excerpt let go: 1 and 2 again, best first, before 4
    assert seen == [1, 2, 3, 1, 2, 4]
    # without room given back, what was passed over is not offered again
    again = Candidates([], [1, 2], [2.0, 1.0], lambda code: None)
    assert [c for c in again if again.skip() is None] == [1, 2]


def test_recall_offers_a_fact_of_a_headed_day_before_one_opening_a_new_day(monkeypatch: Any) -> None:
    e = HashEmbedder()
    day1, day2 = NOW - timedelta(days=30), NOW - timedelta(days=20)

    def fact(i: int, text: str, when: datetime) -> FactRow:
        return FactRow(i, text, "other", False, False, 1, when, when, to_bytes(e.encode([text])[0]),
                       said_at=when)

    index = FactIndex.build([fact(1, "alice kayak lake paddle", day1), fact(2, "alice kayak lake", day2),
                             fact(3, "alice kayak paddle", day1)])

    def chosen(budget: int) -> list[int]:
        rows = choose_both(index, e.encode(["kayak lake paddle"])[0], budget=budget, private=True, now=NOW,
                           expiry_days=0, text="kayak lake paddle", floors=(0.0, 0.0, 0.0))[0]
        return [r.id for r in rows]

    # Ranked 1, 2, 3: 3 shares 1's day heading and is nearly as relevant as 2 (which would open a day).
    assert chosen(1000) == [1, 3, 2]
    assert chosen(20) == [1, 3]  # room for two: the pair under one heading
    monkeypatch.setattr(packing, "LOOKAHEAD", 0)  # by rank alone
    assert chosen(1000) == [1, 2, 3] and chosen(20) == [1, 2]
