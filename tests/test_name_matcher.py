"""NameMatcher (bot/reply/deciding/addressing.py): the name test every message goes through. Names and texts
are compared folded: every pair of letters that are one letter in another case folds alike."""

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


def test_letters_that_are_one_letter_in_another_case_match() -> None:
    # The Kelvin sign is a K, the long s an s, the dotless ı an i, as to re's IGNORECASE; full case folding
    # also makes ß "ss".
    assert NameMatcher({"Kai"})("\u212aai, look")
    assert NameMatcher({"Sam"})("\u017fam, look")
    assert NameMatcher({"Finn"})("f\u0131nn, look")
    assert NameMatcher({"Straße"})("STRASSE")
    assert NameMatcher({"Finn"})("FİNN?")  # the Turkish capital dotted İ


def test_every_letter_folds_as_its_other_cases() -> None:
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
