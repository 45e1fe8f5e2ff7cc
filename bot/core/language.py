"""The language a person's message is written in, or None when a short message does not tell.

Decisions about a person's words (lexical recall's stemmer, time words, the style line) must work in
Discord's big languages, not English alone, and must never act on a wrong language: a wrong stemmer or
time-word table misreads words, while None only means "no language-specific reading".

* Scripts first (a regex pass, no model): kana is Japanese, hangul Korean, Han without kana Chinese. Which of
  Chinese's two scripts (:func:`chinese_script`) is a line's business only: Chinese is "zh" here in either.
* Otherwise py3langid (langid.py's naive Bayes model over byte n-grams, bundled in the wheel, numpy only),
  restricted to :data:`LANGUAGES`: a closed set of the languages Kindred's people write in keeps a short
  message from being read as one of 97 languages it is not.
* A guard for short text: fewer than :data:`MIN_LETTERS` letters (emoji, "ok", "lol") is None, and so is a
  guess below :data:`MIN_CONFIDENCE` (the model's probabilities are calibrated across lengths; "haha" or
  "merci" alone get a low one).

The model takes about half a second to load: it is loaded once, lazily, under a lock; the memory service's
warm-up loads it in a worker thread at start-up (:func:`load`), so no reply waits for it. A guess then
costs 15 to 100 microseconds (benchmarks/bench_language.py).
"""

from __future__ import annotations

import re
import threading
from typing import Any

import hanzidentifier

from bot.core.scripts import CJK, HAN, HANGUL, KANA

# The big Discord languages and a few near them (a close neighbour in the set keeps a message in it from
# being forced into a big language: Italian is not Spanish, Ukrainian not Russian).
# More languages in the set is more short English or Spanish read as one of them: with Indonesian, Swedish
# and Czech in it too, "kayak lake paddle" was Indonesian.
LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "de", "fr", "ru", "pl", "tr", "ja", "ko", "zh",
                              "it", "nl", "uk")
NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "de": "German", "fr": "French",
         "ru": "Russian", "pl": "Polish", "tr": "Turkish", "ja": "Japanese", "ko": "Korean",
         "zh": "Chinese", "it": "Italian", "nl": "Dutch", "uk": "Ukrainian", "sv": "Swedish", "cs": "Czech",
         "id": "Indonesian", "vi": "Vietnamese", "ar": "Arabic"}
MIN_LETTERS = 4  # fewer letters than this ("ok", "lol", "xd", emoji) tell no language
MIN_CONFIDENCE = 0.5  # the model's probability below which its guess is not taken

_KANA = re.compile(f"[{KANA}]")
_HANGUL = re.compile(f"[{HANGUL}]")
_HAN = re.compile(f"[{HAN}]")
_CJK = re.compile(f"[{CJK}]")  # any of the scripts that tell the language alone: one pass for most messages
# MIN_LETTERS letters (found without counting the rest: this runs on every message the first look reads)
_ENOUGH_LETTERS = re.compile(rf"[^\W\d_](?:[\W\d_]*[^\W\d_]){{{MIN_LETTERS - 1}}}", re.UNICODE)
_NOISE = re.compile(r"<a?:\w+:\d+>|<[@#]!?&?\d+>|https?://\S+", re.UNICODE)  # Discord emoji, mentions, links

_lock = threading.Lock()
_identifier: Any = None  # py3langid's LanguageIdentifier (untyped library)


def load() -> Any:
    """The language model, loaded on first use (about half a second: call it from a worker thread)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                # heavy, so lazy; untyped (pyproject's list of untyped libraries is the place for it)
                from py3langid.langid import (  # noqa: PLC0415
                    MODEL_FILE,
                    LanguageIdentifier,
                )

                full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                full.set_languages([code for code in LANGUAGES if code in full.labels])
                # Built again from the restricted tables alone: set_languages keeps the whole model (all
                # 97 languages' weights, about 22 MB) beside its copy of the columns asked for.
                _identifier = LanguageIdentifier(
                    full.nb_ptc, full.nb_pc, full.nb_classes, full.tk_nextmove, full.tk_output,
                    norm_probs=True, tk_row=full.tk_row)
    return _identifier


def guess(text: str) -> tuple[str | None, float]:
    """(the likeliest language of ``text``, the confidence in it): 1.0 for a script that tells alone; None
    for text with too few letters to guess from. Below :data:`MIN_CONFIDENCE` it is only a guess."""
    if _CJK.search(text):
        if _KANA.search(text):
            return "ja", 1.0
        if _HANGUL.search(text):
            return "ko", 1.0
        return "zh", 1.0
    text = _NOISE.sub(" ", text)
    if _ENOUGH_LETTERS.search(text, 0, 400) is None:
        return None, 0.0
    code, confidence = load().classify(text[:2000])
    return str(code), float(confidence)


def chinese_script(text: str) -> str | None:
    """"Hant" when the Chinese of ``text`` is written in Traditional characters, "Hans" in Simplified ones;
    None when it does not tell (no Han, or only characters both scripts write: "你好", "哈哈").

    The characters only one of the two scripts has tell (CC-CEDICT's, through hanzidentifier: 們 and 们, 說
    and 说); a message holding both (a quoted name, a stray converted word) is the script more of its
    characters are only in."""
    found = hanzidentifier.identify(text)
    if found in (hanzidentifier.TRADITIONAL, hanzidentifier.SIMPLIFIED):
        return "Hant" if found == hanzidentifier.TRADITIONAL else "Hans"
    if found != hanzidentifier.MIXED:
        return None
    kinds = [hanzidentifier.identify(character) for character in set(_HAN.findall(text))]
    traditional, simplified = kinds.count(hanzidentifier.TRADITIONAL), kinds.count(hanzidentifier.SIMPLIFIED)
    if traditional == simplified:
        return None
    return "Hant" if traditional > simplified else "Hans"


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or None when it does not tell."""
    code, confidence = guess(text)
    return code if confidence >= MIN_CONFIDENCE else None


def likely(text: str, k: int = 3) -> tuple[str, ...]:
    """The ``k`` likeliest languages of ``text`` however unsure, best first (none without letters to guess
    from): for a use where reading in a wrong one as well costs little (memory/lexical.py)."""
    code, confidence = guess(text)
    if code is None or confidence >= 1.0:
        return (code,) if code is not None else ()
    return tuple(str(c) for c, _ in load().rank(_NOISE.sub(" ", text)[:2000])[:k])


def name(code: str | None) -> str:
    """The English name of a language code ("" for None or one not known here)."""
    return NAMES.get(code or "", "")
