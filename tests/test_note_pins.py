"""A DM's notes pinned where each version first applied (bot/reply/pins.py, issue 48): an unchanged version
stays put, a change pins the new one to the message answered, and a version whose turn left the history (a
summary dropped it, a restart forgot it) is pinned again."""

from __future__ import annotations

from bot.reply.pins import NotePins

KEY = (5, 77)


def test_a_version_stays_where_it_first_applied_until_it_changes() -> None:
    pins = NotePins()
    assert pins.pin(KEY, set(), 100, "") == {}  # nothing to say: nothing pinned
    assert pins.pin(KEY, set(), 101, "calm") == {101: "calm"}
    assert pins.pin(KEY, {101}, 102, "calm") == {101: "calm"}  # unchanged: not sent again
    assert pins.pin(KEY, {101, 102}, 103, "glad") == {101: "calm", 103: "glad"}  # the old one stays
    assert pins.pin(KEY, {101, 102, 103}, 104, "glad") == {101: "calm", 103: "glad"}
    assert pins.pin(KEY, {101, 102, 103}, 104, "sad") == {101: "calm", 103: "glad", 104: "sad"}  # a retry


def test_a_version_whose_turn_left_the_history_is_pinned_again() -> None:
    pins = NotePins(limit=1)
    pins.pin(KEY, set(), 101, "calm")
    assert pins.pin(KEY, {105}, 106, "calm") == {106: "calm"}  # turn 101 summarized away
    pins.pin((6, 78), set(), 200, "other")  # over the limit: the least recent conversation is forgotten
    assert pins.pin(KEY, {105, 106}, 107, "calm") == {107: "calm"}
