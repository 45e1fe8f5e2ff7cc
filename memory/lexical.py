"""BM25 over a person's facts: the lexical half of recall (memory/recall.py fuses it with the embeddings).

Dense vectors find paraphrases ("adopted a dog" for "got a puppy") but blur names, places and rare words
("Sweden", "pottery", "Melanie's kids"), which is where exact word overlap is strongest; fusing both finds
more of the right facts than either (the LoCoMo figures in docs/benchmarks.md).

Words are read in the text's language (bot/core/language.py): lower-cased and stemmed with that language's
Snowball stemmer (PyStemmer: a C extension, so stemming 10,000 facts takes milliseconds), so "vivo en Leeds"
and "¿dónde vivo?" share "viv". Japanese, Chinese and Korean, written without spaces between words (or with
particles fused to them), are split into overlapping character bigrams: "ヨークに住んでいる" and
"どこに住んでいる？" share "住ん", "んで", "いる". English function words are dropped (a list of them); for
the other languages BM25's idf weighs the function words down (they are in most of a person's facts): the
packaged stop word lists measured (stop-words, stopwordsiso) hold content words too ("hace", "pasado",
"machen") and lost German questions on LoCoMo (docs/benchmarks.md). A text whose language is not clear (a
short fact, "pottery?") is read in the language most of the index's documents are in.

The index is built once per person's fact set (it lives in the cached :class:`memory.facts.FactIndex`) as
postings per term with each fact's precomputed BM25 term weight, so scoring a query is a few numpy
additions. Each document's language is guessed once (15 to 100 microseconds; kept by text, so rebuilding an
index after one new fact guesses only that one).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import Stemmer

from bot.core.language import MIN_CONFIDENCE, guess, likely
from bot.core.scripts import CJK, HAN, HIRAGANA, KATAKANA
from memory.embeddings import GLOSS

K1 = 1.2
B = 0.75

# A run of Japanese, Chinese or Korean characters, or a word of any other script (its apostrophe parts too).
_WORD = re.compile(rf"([{CJK}]+)|([^\W_{CJK}]+(?:['’][^\W_{CJK}]+)*)", re.UNICODE)
_CJK_RE = re.compile(rf"[{CJK}]")
# Japanese writes its content words in kanji or katakana and its grammar (particles, endings, most question
# words) in hiragana, without spaces: a change of script is where a word begins or ends
# ("メラニー|は|どのような|活動|をしていますか"). Han (with its repeat mark 々), katakana (with its
# long-vowel mark), hiragana.
_SCRIPT_RUN = re.compile(rf"[{HAN}]+|[{KATAKANA}]+|[{HIRAGANA}]+|[^{HAN}{KATAKANA}{HIRAGANA}\u30fb]+")
_HIRAGANA = re.compile(rf"[{HIRAGANA}]+")
# A shared word this long or longer names a thing (memory/recall.py: a message under the floor that names
# what a fact names still recalls it); shorter ones are any language's particles.
NAMING_LETTERS = 3
# English function words only: content words, however common, are left to BM25's idf.
STOPWORDS = frozenset("""
a an the and or but if then so of to in on at by for with from into onto about as is are was were be been
being am do does did doing have has had having i me my mine we us our you your he him his she her hers it its
they them their theirs this that these those what which who whom whose when where why how there here not no
nor can could would should will shall may might must s t just also too very than any some all each both own
same such only up down out off over under again further once more most other
""".split())
NO_STOPWORDS: frozenset[str] = frozenset()
STOPWORDS_OF = {"en": STOPWORDS}
# The Snowball stemmer of each language that has one (a language without: words lower-cased only).
STEMMERS = {"en": "english", "es": "spanish", "pt": "portuguese", "de": "german", "fr": "french",
            "ru": "russian", "pl": "polish", "tr": "turkish", "it": "italian", "nl": "dutch", "sv": "swedish",
            "cs": "czech", "id": "indonesian", "ar": "arabic"}
FALLBACK = "en"  # the language of a text that does not tell its own, outside an index (see terms)
_stemmers: dict[str, Stemmer.Stemmer] = {}
_LANGUAGE_CACHE = 100_000  # documents' languages kept by text
_languages: dict[str, tuple[tuple[str, ...], bool]] = {}


def stemmer(language: str) -> Stemmer.Stemmer | None:
    """The Snowball stemmer of ``language`` (made once), or None for one without."""
    found = _stemmers.get(language)
    if found is None and language in STEMMERS:
        found = _stemmers[language] = Stemmer.Stemmer(STEMMERS[language])
    return found


def language_of(text: str) -> tuple[tuple[str, ...], bool]:
    """(the likeliest languages of a text, the best first; whether it is sure of the first:
    bot/core/language.py), kept by text: an index rebuilt after a new fact guesses only the new one's."""
    try:
        return _languages[text]
    except KeyError:
        pass
    code, confidence = guess(text)
    sure = code is not None and confidence >= MIN_CONFIDENCE
    found = ((code,) if sure and code is not None else likely(text)), sure
    if len(_languages) >= _LANGUAGE_CACHE:
        _languages.clear()
    _languages[text] = found
    return found


def read_as(text: str, languages: tuple[str | None, ...]) -> list[str]:
    """The terms of ``text`` read in the first of ``languages``, and those read otherwise in the others (None
    and repeats skipped): for a text whose language is only a guess, so that it meets its words' stems in
    whichever it is in."""
    wanted = [code for code in dict.fromkeys(languages) if code is not None]
    out = terms(text, wanted[0] if wanted else FALLBACK)
    if len(wanted) > 1:
        seen = set(out)
        for code in wanted[1:]:
            extra = [t for t in dict.fromkeys(terms(text, code)) if t not in seen]
            out.extend(extra)
            seen.update(extra)
    return out


def names_a_thing(word: str) -> bool:
    """Whether a word (or term) is long enough to name a thing: :data:`NAMING_LETTERS` letters or more, or
    Japanese, Chinese or Korean (a bigram of theirs is a word's worth); shorter ones are particles."""
    return len(word) >= NAMING_LETTERS or bool(_CJK_RE.match(word))


def pieces(word: str) -> list[str]:
    """A word cut where its script changes between Han, katakana and hiragana (see _SCRIPT_RUN): Japanese
    written without spaces, in its words and the grammar between them; any other word whole."""
    return _SCRIPT_RUN.findall(word) if _CJK_RE.search(word) else [word]


def is_grammar(piece: str) -> bool:
    """Whether a piece of Japanese is hiragana alone: its particles, endings and question words."""
    return _HIRAGANA.fullmatch(piece) is not None


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]


@dataclass(frozen=True)
class Unit:
    """A word of a text, or one Japanese, Chinese or Korean character (written without spaces, a word is not
    marked), with where it stands and what it matches in another text: a word its lower-cased form, its
    longest apostrophe part and that part's stem; a character the bigrams it is in (as :func:`terms`)."""

    start: int
    end: int
    keys: frozenset[str]
    cjk: bool
    kana: bool  # hiragana: in Japanese, the inflection or particle that ends the word before it


_UNIT = re.compile(rf"([{CJK}])|([^\W_{CJK}]+(?:['’][^\W_{CJK}]+)*)", re.UNICODE)


def units(text: str, language: str | None = None) -> list[Unit]:
    """The words and CJK characters of ``text`` in order (words stemmed in ``language``, None: the text's
    own), for finding which stretch of a text another one says (memory/present.py)."""
    if language is None:
        code, confidence = guess(text)
        language = code if code is not None and confidence >= MIN_CONFIDENCE else FALLBACK
    stem = stemmer(language)
    found = list(_UNIT.finditer(text))  # lower-cased by match: lower() may change a text's length
    out: list[Unit] = []
    for i, m in enumerate(found):
        if m.group(1):
            char = m.group(1).lower()
            keys: set[str] = set()
            if i and found[i - 1].group(1) and found[i - 1].end() == m.start():
                keys.add(found[i - 1].group(1).lower() + char)
            if i + 1 < len(found) and found[i + 1].group(1) and found[i + 1].start() == m.end():
                keys.add(char + found[i + 1].group(1).lower())
            kana = _HIRAGANA.match(char) is not None
            out.append(Unit(m.start(), m.end(), frozenset(keys or {char}), True, kana))
            continue
        word = m.group(2).lower()
        part = max(re.split("['’]", word), key=len)
        keys = {word, part}
        if stem is not None:
            keys.add(stem.stemWord(part))  # untyped library
        out.append(Unit(m.start(), m.end(), frozenset(keys), False, False))
    return out


def words_of(text: str) -> tuple[list[str], list[str]]:
    """(the words of a text, lower-cased and not yet stemmed, of an apostrophe word its longest part; the
    character bigrams of its Japanese, Chinese and Korean): what :func:`terms` reads in any language."""
    out: list[str] = []
    words: list[str] = []
    for cjk, word in _WORD.findall(text.lower()):
        if cjk:
            out.extend(_bigrams(cjk))
            # a kanji alone between kana is a word of its own (本, 絵, 描いた), which its bigrams split
            out.extend(p for p in pieces(cjk) if len(p) == 1 and len(cjk) > 1 and not is_grammar(p))
            continue
        if "'" in word or "’" in word:
            word = max(re.split("['’]", word), key=len)
        words.append(word)
    return words, out


def terms(text: str, language: str | None = None) -> list[str]:
    """The indexed terms of a text: words stemmed in ``language`` (None: the text's own, else
    :data:`FALLBACK`), of an apostrophe word its longest part ("sister's", "l'année", "Ankara'da"), English
    function words out; character bigrams of Japanese, Chinese and Korean."""
    if language is None:
        code, confidence = guess(text)
        language = code if code is not None and confidence >= MIN_CONFIDENCE else FALLBACK
    stop = STOPWORDS_OF.get(language, NO_STOPWORDS)
    words, out = words_of(text)
    if stop:
        words = [w for w in words if w not in stop]
    stem = stemmer(language)
    if stem is not None:
        words = stem.stemWords(words)  # untyped library
    return words + out if out else words


@dataclass
class LexicalIndex:
    """BM25 postings of a list of documents: ``postings[term] = (document indices, term weights)``."""

    size: int = 0
    postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    language: str | None = None  # the language most documents are in: that of a text that does not tell
    glossed: bool = False  # some documents carry an English wording (their own terms, GLOSS-marked)

    def terms(self, text: str) -> list[str]:
        """The terms of a query: in its own language and in the documents' (:attr:`language`), as a short
        query's language is a guess ("kayak lake paddle" could be read as Dutch): read both ways (a query
        whose language is unsure, in its three likeliest too), it meets the documents' stems either way."""
        codes, _ = language_of(text)
        found = read_as(text, (*codes, self.language))
        if self.glossed and codes and codes[0] == "en":  # an English question meets the English wordings too
            found += [GLOSS + t for t in terms(text, "en")]
        return found

    @classmethod
    def build(cls, documents: Sequence[str]) -> LexicalIndex:
        """``documents``: texts, each perhaps with its English wording (memory/embeddings.py ``glossed``),
        whose words are indexed too, read as English, as terms of their own (marked): an English question
        meets a fact kept in Japanese, and a question in the fact's own language is scored as before (its
        terms' weights and the document's length are its own words')."""
        n = len(documents)
        if not n:
            return cls()
        parts = [text.partition(GLOSS) for text in documents]
        documents = [own for own, _, _ in parts]
        languages = [language_of(text) for text in documents]
        tally = Counter(codes[0] for codes, sure in languages if sure)
        main = tally.most_common(1)[0][0] if tally else None
        counts: list[dict[str, int]] = []
        lengths = np.zeros(n, dtype=np.float32)
        docs_of: dict[str, list[int]] = {}
        for i, text in enumerate(documents):
            tf: dict[str, int] = {}
            codes, sure = languages[i]
            for t in (terms(text, codes[0]) if sure else read_as(text, (*codes, main))):
                tf[t] = tf.get(t, 0) + 1
            lengths[i] = sum(tf.values())
            english = parts[i][2]
            for t in terms(english, "en") if english else ():
                tf[GLOSS + t] = tf.get(GLOSS + t, 0) + 1
            counts.append(tf)
            for t in tf:
                docs_of.setdefault(t, []).append(i)
        avg = float(lengths.mean()) or 1.0
        norm = K1 * (1 - B + B * lengths / avg)
        postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for t, docs in docs_of.items():
            idx = np.asarray(docs, dtype=np.int64)
            tf_t = np.asarray([counts[i][t] for i in docs], dtype=np.float32)
            idf = np.log(1.0 + (n - len(docs) + 0.5) / (len(docs) + 0.5))  # Lucene's: never negative
            postings[t] = (idx, (idf * tf_t * (K1 + 1) / (tf_t + norm[idx])).astype(np.float32))
        return cls(n, postings, main, any(english for _, _, english in parts))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (0 where no term matches)."""
        out = np.zeros(self.size, dtype=np.float32)
        for t in set(self.terms(query)):
            hit = self.postings.get(t)
            if hit is not None:
                out[hit[0]] += hit[1]
        return out

    def naming(self, query: str) -> np.ndarray:
        """The documents sharing a term of at least :data:`NAMING_LETTERS` letters with ``query`` (a CJK
        bigram counts), ascending: what a message names by its words. Shorter shared words are the
        particles and prepositions of any language ("à", "w", "в", "of"): no sign of what it is about."""
        hits = [self.postings[t][0] for t in set(self.terms(query))
                if t in self.postings and names_a_thing(t)]
        return np.unique(np.concatenate(hits)) if hits else np.zeros(0, dtype=np.int64)

    def matches(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(the documents sharing a term with ``query``, ascending; their BM25 scores): the nonzero part of
        :meth:`scores`, the same values, without an array of every document when few match (an archive of
        100,000 lines, of which a word's postings are a few thousand)."""
        hits = [hit for hit in (self.postings.get(t) for t in set(self.terms(query))) if hit is not None]
        if not hits:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(hits) == 1:  # one term's postings are ascending, each document once
            return hits[0]
        many = sum(len(idx) for idx, _ in hits)
        if many * 16 >= self.size:  # sorting them would cost more than a pass over every document
            out = self.scores(query)
            found = np.flatnonzero(out != 0)  # (of a boolean array: several times faster than of floats)
            return found, out[found]
        found, at = np.unique(np.concatenate([idx for idx, _ in hits]), return_inverse=True)
        values = np.zeros(len(found), dtype=np.float32)
        # Added term by term in the order scores() adds them: the same float32 sums.
        np.add.at(values, at, np.concatenate([w for _, w in hits]))
        return found, values
