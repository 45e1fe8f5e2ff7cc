"""The repetition guard (bot/reply/guard.py) on real text in five languages: false alarms and planted habits.

Real people's turns have no catchphrase, so a phrase the guard flags in them is a false alarm (a false note
asking the model to vary its words); the same turns with a planted habit (a catchphrase written for this
benchmark, inserted at a random sentence boundary of 4 of 6 turns, seeded) should have it found.

Text: LoCoMo's development half (Maharana et al., ACL 2024; CC BY-NC 4.0, read where it is, never copied):
English, the dialogue turns of ``locomo_dev.json`` (and, as ``en-obs``, its observations, for a like-for-like
look at the translated ones); German, Spanish, Japanese and Chinese, the hand-translated observations of
``i18n/<lang>/conv-NN.tsv``, the sentences about one speaker in one session taken as that speaker's turn.
For each speaker, every window of 6 consecutive turns is read as the character's last turns, with its
earlier turns and the other speaker's turns up to the window's end as the rest of the history
(:data:`bot.reply.guard.CONTEXT_TURNS_READ` of each, as at the call site).

* ``false``: windows where the guard flags a phrase;
* ``found``: planted windows where a flagged phrase is part of the habit;
* ``µs``: the time of a call on the real windows (its turns mostly read already, as at a reply).

Beside the guard, the one it replaced (an English list of common words, a phrase needing two words off it).
Thresholds are tuned on the tuning part (SPLITS) and checked on the held-out part.

Run: python -m benchmarks.bench_guard [--data ../shared/data/locomo] [--split tune|held-out|all]
     [--free-neighbours N] [--show N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from bot.reply import guard

SPLITS = {"tune": ("conv-26", "conv-30", "conv-41"), "held-out": ("conv-42", "conv-43")}
LANGUAGES = ("en", "en-obs", "de", "es", "ja", "zh")
WINDOW = guard.OWN_TURNS_READ
PLANTED_IN = 4
SEED = 53
# Invented catchphrases, a few per language (none from the data).
HABITS = {
    "en": ("The tide is kind.", "Stars keep their own counsel.", "Mind the lanterns, friend.",
           "Salt and silver, as always."),
    "de": ("Die Gezeiten sind gütig.", "Sterne behalten ihren eigenen Rat.",
           "Achte auf die Laternen, Freund.",
           "Salz und Silber, wie immer."),
    "es": ("La marea es amable.", "Las estrellas guardan su propio consejo.",
           "Cuidado con los faroles, amigo.",
           "Sal y plata, como siempre."),
    "ja": ("潮はやさしい。", "星は黙って見ている。", "提灯に気をつけて、友よ。", "塩と銀、いつものように。"),
    "zh": ("潮水很温柔。", "星星自有主张。", "小心灯笼，朋友。", "盐和银，一如既往。"),
}
HABITS["en-obs"] = HABITS["en"]
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")

# The guard before: an English list of common words; a phrase needed two words not on it.
OLD_COMMON = frozenset(
    "a an the and or but so of to in on at for with from by is are was were be been am i you he she it we "
    "they me my your our their its this that there here what how do does did not no yes just".split())


@lru_cache(maxsize=512)
def _old_grams(text: str) -> tuple[str, ...]:
    words = [w.casefold() for w in guard._GUARD_WORD.findall(text)]
    rare = [w not in OLD_COMMON for w in words]
    return tuple(dict.fromkeys(" ".join(words[i:i + n]) for n in (2, 3, 4) for i in range(len(words) - n + 1)
                               if sum(rare[i:i + n]) >= 2))


def old_repeated(own: Sequence[str], heard: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The phrases the replaced guard flagged (its openers left out: unchanged for spaced languages)."""
    counts: Counter[str] = Counter()
    for text in [t for t in own if t.strip()][-WINDOW:]:
        counts.update(_old_grams(text))
    often = [p for p, c in counts.most_common() if c >= 4]
    return [], [p for p in often if not any(p != q and p in q for q in often)][:2]


@dataclass
class Speaker:
    conversation: str
    name: str
    turns: list[str]
    heard: list[list[str]]  # the other speaker's turns said before each of this one's (and up to it)


def english_turns(data: Path, conversations: Sequence[str]) -> list[Speaker]:
    out = []
    for conv in json.loads((data / "locomo_dev.json").read_text(encoding="utf-8")):
        if conv["sample_id"] not in conversations:
            continue
        c = conv["conversation"]
        sessions = sorted((k for k in c if re.fullmatch(r"session_\d+", k)),
                          key=lambda k: int(k.split("_")[1]))
        said = [(t["speaker"], t["text"]) for s in sessions for t in c[s]]
        for name in dict.fromkeys(n for n, _ in said):
            turns, heard, others = [], [], []
            for who, text in said:
                if who == name:
                    turns.append(text)
                    heard.append(list(others))
                else:
                    others.append(text)
            out.append(Speaker(conv["sample_id"], name, turns, heard))
    return out


def observation_turns(groups: dict[tuple[int, str], list[str]], conversation: str,
                      joiner: str) -> list[Speaker]:
    """Each speaker's session observations as turns, in session order."""
    out = []
    order = sorted(groups, key=lambda k: k[0])
    for name in dict.fromkeys(n for _, n in order):
        turns, heard = [], []
        for session, who in order:
            if who == name:
                turns.append(joiner.join(groups[session, who]))
                heard.append([joiner.join(groups[s, w]) for s, w in order if w != name and s <= session])
        out.append(Speaker(conversation, name, turns, heard))
    return out


def translated_turns(data: Path, language: str, conversations: Sequence[str]) -> list[Speaker]:
    out = []
    for conv in conversations:
        groups: dict[tuple[int, str], list[str]] = {}
        for line in (data / "i18n" / language / f"{conv}.tsv").read_text(encoding="utf-8").splitlines():
            key, _, text = line.partition("\t")
            parts = key.split("|")
            if len(parts) != 4 or not parts[1].endswith("_observation"):
                continue
            groups.setdefault((int(parts[1].split("_")[1]), parts[2]), []).append(text)
        out += observation_turns(groups, conv, "" if language in ("ja", "zh") else " ")
    return out


def english_observations(data: Path, conversations: Sequence[str]) -> list[Speaker]:
    out = []
    for conv in json.loads((data / "locomo_dev.json").read_text(encoding="utf-8")):
        if conv["sample_id"] not in conversations:
            continue
        groups = {(int(s.split("_")[1]), name): [t for t, *_ in facts]
                  for s, by in conv["observation"].items() for name, facts in by.items() if facts}
        out += observation_turns(groups, conv["sample_id"], " ")
    return out


def plant(turn: str, habit: str, rng: random.Random) -> str:
    sentences = [s for s in _SENTENCE_END.split(turn) if s]
    at = rng.randint(0, len(sentences))
    joiner = "" if guard._HAN.search(habit) else " "
    return joiner.join([*sentences[:at], habit, *sentences[at:]])


def is_part_of(phrase: str, habit: str) -> bool:
    short = tuple(u for units in guard._units(phrase) for u in units)
    long = tuple(u for units in guard._units(habit) for u in units)
    return any(long[i:i + len(short)] == short for i in range(len(long) - len(short) + 1))


@dataclass
class Tally:
    windows: int = 0
    false: int = 0
    found: int = 0
    seconds: float = 0.0
    flagged: Counter[str] = field(default_factory=Counter)


def measure(speakers: Sequence[Speaker], language: str,
            rule: Callable[[Sequence[str], Sequence[str]], tuple[list[str], list[str]]]) -> Tally:
    tally = Tally()
    habits = HABITS[language]
    context = guard.CONTEXT_TURNS_READ
    for s in speakers:
        for end in range(WINDOW, len(s.turns) + 1):
            rng = random.Random(f"{SEED}|{s.conversation}|{s.name}|{end}|{language}")
            own = s.turns[max(0, end - context):end]
            heard = s.heard[end - 1][-context:]
            tally.windows += 1
            started = time.perf_counter()
            _, phrases = rule(own, heard)
            tally.seconds += time.perf_counter() - started
            if phrases:
                tally.false += 1
                tally.flagged.update(phrases)
            habit = rng.choice(habits)
            planted = list(own)
            for i in rng.sample(range(len(own) - WINDOW, len(own)), PLANTED_IN):
                planted[i] = plant(planted[i], habit, rng)
            _, phrases = rule(planted, heard)
            tally.found += any(is_part_of(p, habit) for p in phrases)
    return tally


def speakers_of(data: Path, language: str, conversations: Sequence[str]) -> list[Speaker]:
    if language == "en":
        return english_turns(data, conversations)
    if language == "en-obs":
        return english_observations(data, conversations)
    return translated_turns(data, language, conversations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "locomo")
    parser.add_argument("--split", choices=("tune", "held-out", "all"), default="all")
    parser.add_argument("--free-neighbours", type=int, nargs=3, metavar=("WORD", "CHARACTER", "KANA"),
                        default=(guard.FREE_NEIGHBOURS, guard.FREE_NEIGHBOURS_OF_CHARACTER,
                                 guard.FREE_NEIGHBOURS_OF_KANA), help="the guard's thresholds, to tune them")
    parser.add_argument("--show", type=int, default=0,
                        help="the most flagged phrases of real text, per language")
    args = parser.parse_args()
    (guard.FREE_NEIGHBOURS, guard.FREE_NEIGHBOURS_OF_CHARACTER,
     guard.FREE_NEIGHBOURS_OF_KANA) = args.free_neighbours
    splits = ("tune", "held-out") if args.split == "all" else (args.split,)
    for split in splits:
        thresholds = " / ".join(map(str, args.free_neighbours))
        print(f"\n{split} ({', '.join(SPLITS[split])}), free neighbours {thresholds}")
        print(f"{'lang':7} {'windows':>7} | {'old false':>9} {'old found':>9} | {'new false':>9} "
              f"{'new found':>9} | {'µs old':>6} {'µs new':>6}")
        for language in LANGUAGES:
            speakers = speakers_of(args.data, language, SPLITS[split])
            old = measure(speakers, language, old_repeated)
            new = measure(speakers, language, guard.repeated)
            n = new.windows or 1

            def share(k: int, n: int = n) -> str:
                return f"{100 * k / n:5.1f} %"

            print(f"{language:7} {new.windows:7} | {share(old.false):>9} {share(old.found):>9} | "
                  f"{share(new.false):>9} {share(new.found):>9} | "
                  f"{1e6 * old.seconds / n:6.0f} {1e6 * new.seconds / n:6.0f}")
            if args.show:
                print("   old:", old.flagged.most_common(args.show))
                print("   new:", new.flagged.most_common(args.show))


if __name__ == "__main__":
    main()
