"""NameMatcher (bot/reply/deciding/addressing.py): the name test every message goes through. Its quick
substring
test may only ever let a text through to the pattern, never turn away one the pattern matches."""

from __future__ import annotations

import re

from bot.reply.deciding.addressing import NameMatcher, first_position, fold


def test_a_name_counts_as_a_word_in_any_case() -> None:
    finn = NameMatcher({"Finn Marlowe", "Finn", "finnbot"})
    assert finn("hey FINN, you there?")
    assert finn("@finn what now")
    assert finn("ask finn marlowe")
    assert finn("FINNBOT?")
    assert not finn("Finnish weather is cold")
    assert not finn("a fin and a marlin")
    assert not finn("")
    assert not NameMatcher(())("Finn")
    assert not NameMatcher({""})("Finn")


def test_letters_the_pattern_matches_across_cases_pass_the_quick_test() -> None:
    # The Kelvin sign is a K, the long s an s, the dotless ı an i, to re's IGNORECASE: so too here.
    assert NameMatcher({"Kai"})("\u212aai, look")
    assert NameMatcher({"Sam"})("\u017fam, look")
    assert NameMatcher({"Finn"})("f\u0131nn, look")
    assert NameMatcher({"Straße"})("STRASSE") is False  # the pattern does not match this, nor does the test


def test_the_quick_test_never_turns_away_what_the_pattern_matches() -> None:
    """Every letter re's IGNORECASE matches to another folds alike, checked for every code point paired
    with its lower, upper and title case."""
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        letter = chr(code)
        for other in {letter.lower(), letter.upper(), letter.title()} - {letter}:
            if len(other) == 1 and re.fullmatch(re.escape(letter), other, re.IGNORECASE):
                assert fold(other) == fold(letter), (hex(code), hex(ord(other)))


def test_it_agrees_with_first_position() -> None:
    names = {"Atlas", "Lumen Vale", "Lumen"}
    matcher = NameMatcher(names)
    for text in ("atlas?", "so, lumen vale.", "atlases", "@Lumen!", "nothing here", "vale"):
        assert matcher(text) == (first_position(text, names) is not None), text
