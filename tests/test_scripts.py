"""The scripts written without spaces, named once (bot/core/scripts.py): what each name holds, what the
readers built on them make of the same text in Japanese, Chinese and Korean, and a check that no other
module of the project writes a block of those scripts again (shown failing on a planted copy)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.core.language import guess
from bot.core.scripts import CJK, HAN, HANGUL, HIRAGANA, KATAKANA
from memory.lexical import words_of

ROOT = Path(__file__).resolve().parent.parent
# personaflow/core is a library of its own (it imports nothing of Kindred), so it keeps its own table
PROJECT = ("bot", "cogs", "memory", "database", "characters", "benchmarks", "personaflow/integrations")
# where a block of these scripts begins, written as an escape, a code point or the letter itself
BLOCK_START = re.compile(r"\\u(?:304[01]|30a[01]|3400|4e00|ac00|1100|3130|f900)"
                         r"|0x(?:304[01]|30A[01]|4E00|AC00)|[ぁァ一가][-–]", re.IGNORECASE)


def written_again(text: str) -> list[str]:
    return BLOCK_START.findall(text)


@pytest.mark.parametrize(("block", "letters", "others"), [
    (HIRAGANA, "ありがとうゟ", "アー漢한a・。"),
    (KATAKANA, "メラニーヽｱｲ", "あ漢한a・。"),
    (HAN, "漢字時々說说𠀋", "あア한a・。"),
    (HANGUL, "한국어ㅋㅎᄀ", "あア漢a・。"),
    (CJK, "あメ漢々한ㅋ", "aж・。「"),
], ids=["hiragana", "katakana", "han", "hangul", "cjk"])
def test_each_script_holds_its_letters_and_no_other(block: str, letters: str, others: str) -> None:
    pattern = re.compile(f"[{block}]")
    assert [c for c in letters if not pattern.match(c)] == []
    assert [c for c in others if pattern.match(c)] == []


@pytest.mark.parametrize(("text", "language"), [
    ("メラニー・ジョーンズ", "ja"), ("時々散歩する", "ja"), ("我们明天见", "zh"), ("ㅋㅋㅋ", "ko"),
    ("Anna・Berg", None),  # the dot between names is no Japanese letter: the script tells nothing
])
def test_a_script_alone_tells_the_language(text: str, language: str | None) -> None:
    code, confidence = guess(text)
    if language is None:
        assert confidence < 1.0, code  # left to the language model
    else:
        assert (code, confidence) == (language, 1.0)


def test_a_word_keeps_its_letters_together_in_every_script() -> None:
    # The repeat mark stays with the kanji it repeats; the dot between names parts them; Korean's
    # compatibility jamo ("ㅋㅋ", laughter) are letters of its script, read as characters.
    _, grams = words_of("時々")
    assert grams == ["時々"]
    words, grams = words_of("メラニー・ジョーンズ")
    assert not any("・" in g for g in grams) and "ニー" in grams and "ジョ" in grams
    words, grams = words_of("ㅋㅋㅋ 진짜 fun")
    assert "ㅋㅋ" in grams and "진짜" in grams and words == ["fun"]


def test_no_module_writes_a_block_of_these_scripts_again() -> None:
    own = ROOT / "bot" / "core" / "scripts.py"
    found = []
    for folder in PROJECT:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path != own and (hits := written_again(path.read_text(encoding="utf-8"))):
                found.append(f"{path.relative_to(ROOT)}: {hits}")
    assert found == [], "import the blocks from bot/core/scripts.py instead:\n" + "\n".join(found)
    assert written_again(own.read_text(encoding="utf-8"))  # the check finds the ones it keeps


@pytest.mark.parametrize("planted", [
    '_KANA = re.compile("[\\u3040-\\u30ff]")', "if 0x4E00 <= ord(c) <= 0x9FFF:", 'HANJA = "[一-龥]"',
    '_HANGUL = "\\uAC00-\\uD7AF"',
])
def test_the_check_finds_a_planted_copy(planted: str) -> None:
    assert written_again(planted)
