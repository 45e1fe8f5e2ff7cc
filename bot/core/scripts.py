"""The scripts written without spaces between words (Japanese, Chinese; Korean's syllables glued to their
particles), named once: the Unicode blocks of each, as the body of a regex character class
(``rf"[{KANA}]"``), for every reader that splits, measures or recognises such text (language guessing,
sentence ends, BM25's terms, the repetition guard, emote edges, a name's word edges).

Letters only: the katakana middle dot (U+30FB, "・", the dot between the parts of a foreign name) is
punctuation, as "·" is in Latin text, so it ends a word here as a space would."""

from __future__ import annotations

HIRAGANA = "\u3041-\u309f"
# with the long-vowel mark (U+30FC), the small katakana of Ainu (U+31F0-31FF) and the half-width forms
KATAKANA = "\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f"
KANA = HIRAGANA + KATAKANA
# the repeat mark (U+3005, 々 repeats the kanji before it), the unified ideographs with extension A, the
# compatibility ideographs and the supplementary planes' extensions (B onwards)
HAN = "\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
# the syllables, the conjoining jamo and the compatibility jamo ("ㅋㅋ")
HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"
CJK = KANA + HAN + HANGUL
